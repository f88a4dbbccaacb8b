"""HttpCRMAdapter against a real local CRM (tests/crm/crm_server.py): timeouts, the cache, the
circuit breaker, validation of answers. The clock is injected, so nothing sleeps for the
breaker's cool-down or the cache's TTL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer

from chatkit.crm import (
    BreakerState,
    CircuitBreaker,
    CRMContact,
    CRMIdentity,
    CRMUnavailable,
    HttpCRMAdapter,
    Outcome,
)
from tests.crm.crm_server import CONTACT, FakeCRMState, crm_app

GRACE = CRMIdentity(contact_id="c1", external_id="user-42", email="grace@example.com")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def crm() -> FakeCRMState:
    return FakeCRMState()


@pytest.fixture
async def crm_server(aiohttp_server: Callable[..., Awaitable[TestServer]],
                     crm: FakeCRMState) -> TestServer:
    server: TestServer = await aiohttp_server(crm_app(crm))
    return server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def adapter(crm_server: TestServer, clock: Clock) -> AsyncIterator[HttpCRMAdapter]:
    adapter = HttpCRMAdapter(str(crm_server.make_url("/crm")), api_key="k3y", timeout=0.2,
                             cache_ttl=60, cache_size=2, failure_threshold=3,
                             reset_after=30, clock=clock)
    yield adapter
    await adapter.close()


async def test_finds_a_contact_and_its_context_with_the_key(adapter: HttpCRMAdapter,
                                                            crm: FakeCRMState) -> None:
    contact = await adapter.find_contact(GRACE)
    assert contact == CRMContact.model_validate(CONTACT)
    assert crm.authorization == "Bearer k3y"
    assert crm.calls[0][2] == {"external_id": "user-42", "email": "grace@example.com",
                               "name": None, "verified": False}
    context = await adapter.fetch_context(contact)
    assert (context.plan, context.lifetime_value, context.fields["seats"]) == (
        "Enterprise", 12500.5, 40)
    assert [link.url for link in context.links] == ["https://crm.example.com/contacts/42"]
    assert await adapter.find_contact(CRMIdentity(external_id="nobody")) is None


async def test_lookups_are_cached_until_their_ttl_and_the_cache_is_bounded(
        adapter: HttpCRMAdapter, crm: FakeCRMState, clock: Clock) -> None:
    await adapter.find_contact(GRACE)
    await adapter.find_contact(GRACE)
    assert len([c for c in crm.calls if c[0] == "find"]) == 1
    # Unknown identities are cached too (a CRM that does not know them will not soon).
    await adapter.find_contact(CRMIdentity(external_id="x"))
    await adapter.find_contact(CRMIdentity(external_id="x"))
    assert len([c for c in crm.calls if c[0] == "find"]) == 2
    clock.now += 61
    await adapter.find_contact(GRACE)
    assert len([c for c in crm.calls if c[0] == "find"]) == 3
    for n in range(5):
        await adapter.find_contact(CRMIdentity(external_id=f"other-{n}"))
    assert len(adapter.contacts) == 2  # bounded: the least recently used went
    adapter.forget(GRACE)
    await adapter.find_contact(GRACE)
    assert len([c for c in crm.calls if c[0] == "find"]) == 9


async def test_a_slow_crm_times_out_and_the_breaker_opens_then_recovers(
        adapter: HttpCRMAdapter, crm: FakeCRMState, clock: Clock) -> None:
    crm.mode, crm.delay = "slow", 0.5
    for n in range(3):
        with pytest.raises(CRMUnavailable, match=r"within 0\.2 s"):
            await adapter.find_contact(CRMIdentity(external_id=f"slow-{n}"))
    assert adapter.breaker.state is BreakerState.OPEN
    calls = len(crm.calls)
    # Open: refused at once, the CRM is not called.
    with pytest.raises(CRMUnavailable, match="circuit open after 3 failures"):
        await adapter.find_contact(CRMIdentity(external_id="while-open"))
    assert len(crm.calls) == calls
    # After the cool-down one trial goes through; it fails: open again for another 30 s.
    clock.now += 30
    assert adapter.breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(CRMUnavailable, match="within"):
        await adapter.find_contact(CRMIdentity(external_id="trial-1"))
    assert adapter.breaker.state is BreakerState.OPEN
    clock.now += 29
    with pytest.raises(CRMUnavailable, match="circuit open"):
        await adapter.find_contact(CRMIdentity(external_id="still-open"))
    # The CRM is back: the next trial closes the breaker.
    crm.mode = "ok"
    clock.now += 1
    assert (await adapter.find_contact(GRACE)) is not None
    assert adapter.breaker.state is BreakerState.CLOSED
    assert adapter.breaker.failures == 0


@pytest.mark.parametrize(("mode", "says"), [
    ("fail", "HTTP 503"), ("bad_json", "not valid"), ("invalid", r"not valid \(contact\.id")])
async def test_errors_and_bad_answers_count_as_failures(
        adapter: HttpCRMAdapter, crm: FakeCRMState, mode: str, says: str) -> None:
    crm.mode = mode
    for n in range(3):
        with pytest.raises(CRMUnavailable, match=says):
            await adapter.find_contact(CRMIdentity(external_id=f"n-{n}"))
    assert adapter.breaker.state is BreakerState.OPEN
    assert len(adapter.contacts) == 0  # nothing bad was cached


async def test_an_unreachable_crm_is_unavailable(clock: Clock) -> None:
    adapter = HttpCRMAdapter("http://127.0.0.1:9/crm", timeout=1, clock=clock)
    try:
        with pytest.raises(CRMUnavailable, match="cannot reach the CRM"):
            await adapter.find_contact(GRACE)
    finally:
        await adapter.close()


async def test_outcomes_are_posted(adapter: HttpCRMAdapter, crm: FakeCRMState) -> None:
    outcome = Outcome(conversation_id="v1", contact=GRACE, status="resolved",
                      agent_id="a1", agent_name="Ada", team="billing", reason=None,
                      resolved_at=5, csat=4, tags=("refund",))
    await adapter.write_outcome(outcome)
    assert crm.outcomes == [outcome.to_wire()]
    assert crm.outcomes[0]["contact"]["external_id"] == "user-42"
    crm.mode = "fail"
    with pytest.raises(CRMUnavailable, match="HTTP 503"):
        await adapter.write_outcome(outcome)


def test_the_breaker_lets_one_trial_through_when_half_open() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after=10, clock=clock)
    breaker.before_call()
    breaker.failed("boom")
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()
    breaker.failed("boom")
    assert breaker.state is BreakerState.OPEN
    clock.now += 10
    breaker.before_call()  # the trial
    with pytest.raises(CRMUnavailable, match="trial call is in flight"):
        breaker.before_call()
    breaker.succeeded()
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        HttpCRMAdapter("ftp://crm")
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)
