"""Each socket may send only so many events: more are refused before they change anything,
and the same message goes through once the socket has waited."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer

from chatkit.realtime.ratelimit import RateLimit
from tests.clients import Visitor
from tests.conftest import StartServer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate() -> None:
    clock = Clock()
    limit = RateLimit(rate=2, burst=3, clock=clock)
    assert [limit.take("a") for _ in range(3)] == [None, None, None]
    assert limit.take("a") == pytest.approx(0.5)
    assert limit.take("b") is None  # each socket has its own bucket
    clock.now = 0.5
    assert limit.take("a") is None
    assert limit.take("a") == pytest.approx(0.5)
    clock.now = 100  # a long pause refills up to the burst, no further
    assert [limit.take("a") for _ in range(4)][-1] is not None


def test_forgetting_a_socket_drops_its_bucket() -> None:
    limit = RateLimit(rate=1, burst=1, clock=Clock())
    limit.take("a")
    assert len(limit) == 1
    limit.forget("a")
    assert len(limit) == 0 and limit.take("a") is None


@pytest.mark.parametrize("rate, burst", [(0, 1), (-1, 5), (1, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimit(rate=rate, burst=burst)


@pytest.fixture
async def limited(start_server: StartServer) -> TestServer:
    return await start_server(visitor_event_rate=5, visitor_event_burst=4)


async def test_a_flooding_visitor_is_refused_and_nothing_is_stored(limited: TestServer) -> None:
    visitor = Visitor(limited)
    try:
        await visitor.start()
        acks = [await visitor.call("message", {"client_id": f"c{i}", "body": f"hello {i}"})
                for i in range(8)]
        refused = [ack for ack in acks if not ack["ok"]]
        assert refused, "eight events at once must pass a burst of four"
        for ack in refused:
            assert ack["error"]["code"] == "rate_limited"
            assert ack["error"]["retry_after_ms"] > 0
        stored = [ack["data"]["client_id"] for ack in acks if ack["ok"]]
        conversation_id = next(ack["data"]["conversation_id"] for ack in acks if ack["ok"])
        messages, _ = await limited.kit.store.get_messages(conversation_id)  # type: ignore[attr-defined]
        assert [m.client_id for m in messages] == stored
        # Resent after the wait they were told, the refused ones go through: none lost, and
        # (the stored ones sent again too) none twice.
        for i in range(8):
            for _ in range(20):
                again = await visitor.call("message", {"client_id": f"c{i}",
                                                       "body": f"hello {i}"})
                if again["ok"]:
                    break
                assert again["error"]["code"] == "rate_limited"
                await asyncio.sleep(again["error"]["retry_after_ms"] / 1000)
            assert again["ok"], again
        messages, _ = await limited.kit.store.get_messages(conversation_id)  # type: ignore[attr-defined]
        assert sorted(m.client_id for m in messages) == sorted(f"c{i}" for i in range(8))
    finally:
        await visitor.close()


async def test_no_limit_when_the_rate_is_zero(start_server: StartServer) -> None:
    server = await start_server(visitor_event_rate=0, visitor_event_burst=1)
    assert server.kit.visitors.rate_limit is None  # type: ignore[attr-defined]
    visitor = Visitor(server)
    try:
        await visitor.start()
        acks = [await visitor.call("typing", {"typing": i % 2 == 0}) for i in range(20)]
        assert all(ack.get("error", {}).get("code") != "rate_limited" for ack in acks)
    finally:
        await visitor.close()
