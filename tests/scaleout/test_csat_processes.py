"""CSAT across processes over one PostgreSQL and one Redis: rated on one process, heard by the
agent on another, counted alike by any process from the store."""

from __future__ import annotations

import pytest

from chatkit.models import CSAT_RATED
from tests.clients import Visitor
from tests.scaleout.test_processes import (  # noqa: F401 (fixtures)
    Cluster,
    cluster,
    handed_off,
    online,
    services,
)
from tests.served import Address

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_rated_on_one_process_heard_and_counted_on_another(
        cluster: Cluster) -> None:  # noqa: F811 (the imported fixture)
    one, two = await cluster.start(2)
    await cluster.agent("ada")
    ada = await online(two, "ada")
    visitor, conversation_id = await handed_off(one, 1)
    offer = await ada.next("assignment")
    assert offer["conversation"]["id"] == conversation_id
    await ada.ok("join", {"conversation_id": conversation_id})
    await ada.ok("resolve", {"conversation_id": conversation_id})
    token = (await visitor.ok("resume", {}))["token"]

    # A reload that lands on the other process is asked too: the store says so.
    other = Visitor(Address(two))  # type: ignore[arg-type]
    resumed = await other.start(token)
    assert resumed["csat"] == {"conversation_id": conversation_id, "agent_name": "Ada"}

    rated = await visitor.ok("rate", {"conversation_id": conversation_id, "rating": 5,
                                      "comment": "Great"})
    assert rated["rating"] == 5
    heard = await ada.next("csat")  # from process one, through Redis
    assert (heard["conversation_id"], heard["rating"], heard["comment"]) == (
        conversation_id, 5, "Great")
    assert (await other.next("csat"))["rating"] == 5  # the visitor's tab on process two

    summary = await cluster.store.csat_summary(agent_id=heard["agent_id"])
    assert (summary.ratings, summary.satisfied, summary.total) == (1, 1, 5)
    events = [e for e in await cluster.store.list_events(conversation_id=conversation_id)
              if e.kind == CSAT_RATED]
    assert [e.data["rating"] for e in events] == [5]
    await other.close()
    again = Visitor(Address(two))  # type: ignore[arg-type]
    assert (await again.start(token))["csat"] is None
    for client in (again, visitor, ada):
        await client.close()
