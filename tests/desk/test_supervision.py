"""Watch, barge and reassign: supervisors and admins may, agents are refused."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestServer

from tests.desk.conftest import chat_with, close, login


async def test_agents_are_refused_supervision(desk: TestServer) -> None:
    ada = await login(desk, "ada", online=True)
    visitor, conversation_id = await chat_with(desk, ada)
    bo = await login(desk, "bo")
    for event, payload in (
            ("watch", {"conversation_id": conversation_id}),
            ("barge", {"conversation_id": conversation_id}),
            ("whisper", {"conversation_id": conversation_id, "client_id": "b", "body": "x"}),
            ("reassign", {"conversation_id": conversation_id, "to_team": "billing"})):
        ack = await bo.call(event, payload)
        assert ack["error"]["code"] == "forbidden", (event, ack)
    # Nothing changed.
    conversation = await desk.kit.store.get_conversation(conversation_id)  # type: ignore[attr-defined]
    assert conversation.agent_name == "Ada Person" and conversation.status == "assigned"
    await close(ada, bo, visitor)


async def test_watch_is_read_only_until_the_supervisor_barges_in(desk: TestServer) -> None:
    ada = await login(desk, "ada", online=True)
    visitor, conversation_id = await chat_with(desk, ada)
    sue = await login(desk, "sue")
    watched = await sue.ok("watch", {"conversation_id": conversation_id})
    assert [m["body"] for m in watched["messages"]] == ["Hello, my order is late"]
    assert watched["barged"] is False
    # Live events reach the watcher.
    await visitor.say("Are you there?", "v-2")
    assert (await sue.next("message"))["body"] == "Are you there?"
    # Read-only: no reply before barging in.
    ack = await sue.call("message", {"conversation_id": conversation_id, "client_id": "s-1",
                                     "body": "Hello"})
    assert ack["error"]["code"] == "conflict"
    barged = await sue.ok("barge", {"conversation_id": conversation_id})
    assert barged["conversation"]["agent_name"] == "Ada Person"  # Ada stays assigned
    assert barged["message"]["body"] == "Sue Person joined the conversation."
    # Barging again says nothing twice.
    assert (await sue.ok("barge", {"conversation_id": conversation_id}))["message"] is None
    said = await sue.ok("message", {"conversation_id": conversation_id, "client_id": "s-1",
                                    "body": "I'm the supervisor; we'll sort it out."})
    assert said["meta"] == {"barge": True} and said["internal"] is False
    # The visitor and the assigned agent see the join and the message.
    heard = [await visitor.next("message") for _ in range(2)]
    assert [m["body"] for m in heard] == ["Sue Person joined the conversation.",
                                          "I'm the supervisor; we'll sort it out."]
    bodies = []
    while len(bodies) < 3:
        bodies.append((await ada.next("message"))["body"])
    assert bodies[1:] == ["Sue Person joined the conversation.",
                          "I'm the supervisor; we'll sort it out."]
    events = await desk.kit.store.list_events(conversation_id=conversation_id)  # type: ignore[attr-defined]
    barges = [e for e in events if e.kind == "conversation.barged"]
    assert len(barges) == 1 and barges[0].data == {"agent_id": barged["conversation"]["agent_id"]}
    conversation = await desk.kit.store.get_conversation(conversation_id)  # type: ignore[attr-defined]
    assert conversation.agent_name == "Ada Person"
    # Ada still answers and resolves her chat.
    await ada.ok("message", {"conversation_id": conversation_id, "client_id": "a-1",
                             "body": "Thanks, Sue."})
    await ada.ok("resolve", {"conversation_id": conversation_id})
    await close(ada, sue, visitor)


async def test_barge_after_a_reconnect_is_remembered(desk: TestServer) -> None:
    ada = await login(desk, "ada", online=True)
    visitor, conversation_id = await chat_with(desk, ada)
    sue = await login(desk, "sue")
    await sue.ok("barge", {"conversation_id": conversation_id})
    await sue.close()
    sue = await login(desk, "sue")
    watched = await sue.ok("watch", {"conversation_id": conversation_id})
    assert watched["barged"] is True
    await sue.ok("message", {"conversation_id": conversation_id, "client_id": "s-9",
                             "body": "Still here."})
    await close(ada, sue, visitor)


async def test_reassign_moves_a_chat_within_capacity(desk: TestServer) -> None:
    ada = await login(desk, "ada", online=True)
    first, first_id = await chat_with(desk, ada)
    bo = await login(desk, "bo", online=True)
    second, second_id = await chat_with(desk, bo)
    root = await login(desk, "root")
    # Bo is at capacity (1): the chat cannot be put on him; nothing moves.
    ack = await root.call("reassign", {"conversation_id": first_id,
                                       "to_agent_id": (await desk.kit.store.get_agent_by_email(  # type: ignore[attr-defined]
                                           "bo@example.com")).id})
    assert ack["error"]["code"] == "conflict"
    conversation = await desk.kit.store.get_conversation(first_id)  # type: ignore[attr-defined]
    assert conversation.agent_name == "Ada Person"
    # Bo's chat goes to the billing team's queue; then Ada's can go to Bo.
    moved = await root.ok("reassign", {"conversation_id": second_id, "to_team": "billing",
                                       "note": "billing question"})
    assert (moved["status"], moved["queue_team"]) == ("queued", "billing")
    bo_id = (await desk.kit.store.get_agent_by_email("bo@example.com")).id  # type: ignore[attr-defined]
    moved = await root.ok("reassign", {"conversation_id": first_id, "to_agent_id": bo_id})
    assert (moved["status"], moved["agent_name"]) == ("assigned", "Bo Person")
    while (await bo.next("assignment"))["conversation"]["id"] != first_id:
        pass
    # Ada, freed, is offered nothing more than her capacity.
    assert (await desk.kit.store.get_conversation(first_id)).agent_name == "Bo Person"  # type: ignore[attr-defined]
    await asyncio.sleep(0.1)
    await close(ada, bo, root, first, second)


async def test_two_supervisors_reassigning_at_once_move_it_once(desk: TestServer) -> None:
    ada = await login(desk, "ada", online=True)
    visitor, conversation_id = await chat_with(desk, ada)
    bo = await login(desk, "bo", online=True)  # capacity 1, free
    bo_id = (await desk.kit.store.get_agent_by_email("bo@example.com")).id  # type: ignore[attr-defined]
    sue, root = await login(desk, "sue"), await login(desk, "root")
    move = {"conversation_id": conversation_id, "to_agent_id": bo_id}
    acks = await asyncio.gather(sue.call("reassign", move), root.call("reassign", move))
    assert sorted(ack["ok"] for ack in acks) == [False, True]
    assert [a["error"]["code"] for a in acks if not a["ok"]] == ["conflict"]
    events = await desk.kit.store.list_events(conversation_id=conversation_id)  # type: ignore[attr-defined]
    assert len([e for e in events if e.data.get("transfer")]) == 1
    await close(ada, bo, sue, root, visitor)
