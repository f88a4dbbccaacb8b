"""The storage contract, the routing configuration admins edit: versions, optimistic
concurrency, the event log; and the conversations an agent of some teams may see."""

from __future__ import annotations

import asyncio

from chatkit.models import AgentRole, ConversationStatus, Handoff, HandoffReason
from chatkit.storage import SqlStore

S = ConversationStatus
DOC = {"teams": [{"id": "support"}], "agents": {}}


async def test_no_configuration_until_one_is_saved(store: SqlStore) -> None:
    assert await store.routing_config() is None
    assert await store.routing_config_version() == 0


async def test_saves_are_versioned_and_the_newest_is_read(store: SqlStore) -> None:
    first = await store.save_routing_config(DOC, expected_version=0, source="file",
                                            file_digest="d1", changed_by=None, now=10)
    assert first is not None and first.version == 1
    admin = await store.create_agent(email="root@example.com", name="Root",
                                     role=AgentRole.ADMIN, password_hash="h")
    changed = {"teams": [{"id": "support"}, {"id": "billing", "strategy": "least_busy"}],
               "agents": {"ada@example.com": {"capacity": 4}}}
    second = await store.save_routing_config(changed, expected_version=1, source="admin",
                                             file_digest="d1", changed_by=admin.id, now=20)
    assert second is not None and second.version == 2
    found = await store.routing_config()
    assert found is not None
    assert (found.version, found.document, found.source, found.file_digest, found.changed_by,
            found.changed_at) == (2, changed, "admin", "d1", admin.id, 20)
    assert await store.routing_config_version() == 2
    logged = [e for e in await store.list_events() if e.kind == "routing.changed"]
    assert [(e.actor_kind, e.actor_id, e.data) for e in logged] == [
        ("system", None, {"version": 1, "source": "file"}),
        ("agent", admin.id, {"version": 2, "source": "admin"})]


async def test_only_the_newest_versions_are_kept(store: SqlStore) -> None:
    from sqlalchemy import func, select

    from chatkit.storage import schema
    from chatkit.storage.routing import ROUTING_VERSIONS_KEPT

    for version in range(ROUTING_VERSIONS_KEPT + 3):
        saved = await store.save_routing_config(
            {"teams": [{"id": f"t{version}"}]}, expected_version=version, source="admin",
            file_digest=None, changed_by=None, now=version)
        assert saved is not None
    async with store._read() as conn:
        kept = (await conn.execute(select(func.min(schema.routing_configs.c.version),
                                          func.count()))).one()
    assert tuple(kept) == (4, ROUTING_VERSIONS_KEPT)
    found = await store.routing_config()
    assert found is not None and found.version == ROUTING_VERSIONS_KEPT + 3
    # The newest is still the one a save must name.
    assert await store.save_routing_config(DOC, expected_version=3, source="admin",
                                           file_digest=None, changed_by=None, now=99) is None


async def test_a_save_from_an_old_version_changes_nothing(store: SqlStore) -> None:
    await store.save_routing_config(DOC, expected_version=0, source="file", file_digest=None,
                                    changed_by=None, now=10)
    stale = await store.save_routing_config({"teams": [{"id": "x"}]}, expected_version=0,
                                            source="admin", file_digest=None, changed_by=None,
                                            now=11)
    ahead = await store.save_routing_config({"teams": [{"id": "x"}]}, expected_version=5,
                                            source="admin", file_digest=None, changed_by=None,
                                            now=11)
    assert stale is None and ahead is None
    found = await store.routing_config()
    assert found is not None and (found.version, found.document) == (1, DOC)
    assert len([e for e in await store.list_events() if e.kind == "routing.changed"]) == 1


async def test_of_racing_saves_from_one_version_exactly_one_wins(store_url: str) -> None:
    # Separate stores: separate connection pools, as separate processes would have.
    stores = [SqlStore(store_url) for _ in range(4)]
    for each in stores:
        await each.open()
    try:
        await stores[0].save_routing_config(DOC, expected_version=0, source="file",
                                            file_digest=None, changed_by=None, now=1)
        results = await asyncio.gather(*(
            each.save_routing_config({"teams": [{"id": f"team{i}"}]}, expected_version=1,
                                     source="admin", file_digest=None, changed_by=None, now=2)
            for i, each in enumerate(stores)))
        winners = [r for r in results if r is not None]
        assert len(winners) == 1 and winners[0].version == 2
        found = await stores[1].routing_config()
        assert found is not None and found.document == winners[0].document
    finally:
        for each in stores:
            await each.close()


async def test_listing_what_an_agent_of_some_teams_may_see(store: SqlStore) -> None:
    ada = await store.create_agent(email="ada@example.com", name="Ada", role=AgentRole.AGENT,
                                   password_hash="h")
    ids: dict[str, str] = {}
    for name, team in [("support", "support"), ("billing", "billing"), ("bot", None),
                       ("mine", "billing")]:
        contact = await store.create_contact()
        conversation = await store.create_conversation(contact.id)
        ids[name] = conversation.id
        if team is not None:
            moved = await store.transition(conversation.id, S.QUEUED, allowed_from={S.BOT},
                                           agent_id=None, actor_kind="system", actor_id=None,
                                           handoff=Handoff(HandoffReason.NO_BOT),
                                           queue_team=team)
            assert moved is not None
    claimed = await store.claim(ids["mine"], ada.id, capacity=5, allowed_from={S.QUEUED},
                                now=1, accept_deadline=None, actor_kind="agent",
                                actor_id=ada.id)
    assert claimed is not None and claimed.queue_team == "billing"
    every = {S.BOT, S.QUEUED, S.ASSIGNED}

    async def listed(**scope: object) -> set[str]:
        found = await store.list_conversations(statuses=every, limit=100, **scope)  # type: ignore[arg-type]
        return {name for name, cid in ids.items() if cid in {c.id for c in found}}

    assert await listed() == set(ids)
    assert await listed(queue_teams=["support"]) == {"support"}
    assert await listed(queue_teams=["support"], unqueued=True) == {"support", "bot"}
    assert await listed(queue_teams=["support"], agent_id=ada.id) == {"support", "mine"}
    assert await listed(queue_teams=["billing"]) == {"billing", "mine"}
    assert await listed(queue_teams=[]) == set()
