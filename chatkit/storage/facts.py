"""The conversation facts: one row per conversation, the projection of its events that the
reports read (docs/architecture.md, "Reports").

The row is a fold over the conversation's events (`apply`) and its first agent reply
(`replied`). The store folds each event into the row in the transaction that logs it
(`project`), and `rebuild` folds the whole log again from nothing; the contract suite checks
that the two agree. Durations in the team's business hours are computed when the row is
written, with the hours then in use (`OpenHours`): after changing a team's hours, rebuild to
count the past by the new ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from chatkit.models import CSAT_RATED, ConversationStatus, SenderKind
from chatkit.storage import rollups
from chatkit.storage import schema as t

#: (team, start ms, end ms) -> how many ms of [start, end) the team was open; a team
#: without business hours is always open (the wall-clock span).
OpenHours = Callable[[str | None, int, int], int]

#: Where the store finds the OpenHours in use on a connection (SqlStore._write puts it).
OPEN_HOURS_KEY = "chatkit_open_hours"

#: The events that change a conversation's facts.
KINDS = ("conversation.created", "conversation.queued", "conversation.assigned",
         "conversation.resolved", CSAT_RATED)

#: The topic of a conversation resolved without reaching a team (the bot's), and of one
#: handed off with no team named (the topic is otherwise the team asked for at handoff).
BOT_TOPIC = "bot"
NO_TEAM_TOPIC = "handoff"
#: The topic of an agent's outbound conversation (it never had a handoff).
OUTBOUND_TOPIC = "outbound"


def wall_clock(team: str | None, start: int, end: int) -> int:
    """OpenHours for a deployment without business hours."""
    return end - start


@dataclass(slots=True)
class Facts:
    conversation_id: str
    contact_id: str
    channel: str
    created_at: int
    topic: str | None = None
    team: str | None = None
    agent_id: str | None = None
    handoff_at: int | None = None
    assigned_at: int | None = None
    first_response_at: int | None = None
    resolved_at: int | None = None
    handed_off: bool = False
    abandoned: bool = False
    wait_ms: int | None = None
    wait_open_ms: int | None = None
    first_response_ms: int | None = None
    first_response_open_ms: int | None = None
    handle_ms: int | None = None
    resolution_ms: int | None = None
    csat: int | None = None
    next_same_topic_at: int | None = None


_FIELDS = [f.name for f in fields(Facts)]


def apply(facts: Facts | None, kind: str, data: Mapping[str, Any], at: int, *,
          conversation_id: str, contact_id: str, open_hours: OpenHours) -> Facts | None:
    """The facts after one event (None before the conversation's creation)."""
    if kind == "conversation.created":
        if facts is None:
            facts = Facts(conversation_id, contact_id,
                          "outbound" if data.get("outbound") else "widget", at)
        if data.get("queue_team"):
            facts.team = str(data["queue_team"])
        return facts
    if facts is None:
        return None
    if data.get("queue_team"):
        facts.team = str(data["queue_team"])  # the queue it is in, or would go back to
    if kind == "conversation.queued":
        if facts.handoff_at is None:
            facts.handoff_at, facts.handed_off = at, True
        if facts.topic is None:
            # The team the visitor (or the bot's menu) asked for: what it is about.
            asked = data.get("team") or facts.team
            facts.topic = str(asked) if asked else NO_TEAM_TOPIC
    elif kind == "conversation.assigned":
        if data.get("agent_id"):
            facts.agent_id = str(data["agent_id"])
        if facts.assigned_at is None:
            facts.assigned_at = at
            if facts.handoff_at is not None:
                facts.wait_ms = at - facts.handoff_at
                facts.wait_open_ms = open_hours(facts.team, facts.handoff_at, at)
    elif kind == f"conversation.{ConversationStatus.RESOLVED}":
        facts.resolved_at = at
        facts.abandoned = data.get("reason") == "abandoned"
        facts.resolution_ms = at - facts.created_at
        facts.handle_ms = None if facts.assigned_at is None else at - facts.assigned_at
        if facts.topic is None:
            facts.topic = (OUTBOUND_TOPIC if facts.channel == "outbound" else
                           NO_TEAM_TOPIC if facts.handed_off else BOT_TOPIC)
    elif kind == CSAT_RATED and isinstance(data.get("rating"), int):
        facts.csat = int(data["rating"])
    return facts


def replied(facts: Facts, at: int, open_hours: OpenHours) -> None:
    """An agent's reply the visitor sees, at `at`: the first one is the first response."""
    if facts.first_response_at is not None:
        return
    facts.first_response_at = at
    if facts.handoff_at is not None and at >= facts.handoff_at:
        facts.first_response_ms = at - facts.handoff_at
        facts.first_response_open_ms = open_hours(facts.team, facts.handoff_at, at)


# the projection, in the transaction that logs the events

_f = t.conversation_facts.c


async def project(conn: AsyncConnection,
                  events: Iterable[tuple[str | None, str, Mapping[str, Any], int]]) -> None:
    """Fold these (conversation id, kind, data, at) events, just logged on `conn`, into
    their conversations' facts, and the facts' changes into the roll-ups."""
    wanted = [event for event in events if event[0] is not None and event[1] in KINDS]
    if wanted:
        await conn.run_sync(project_sync, wanted)


def project_sync(conn: Connection,
                 events: Iterable[tuple[str | None, str, Mapping[str, Any], int]]) -> None:
    """`project` on a synchronous connection (the store runs a whole assignment so: see
    sql_routing.py)."""
    wanted = [event for event in events if event[0] is not None and event[1] in KINDS]
    if not wanted:
        return
    ids = {str(cid) for cid, _, _, _ in wanted}
    found = _load(conn, ids)
    contacts = dict(conn.execute(
        select(t.conversations.c.id, t.conversations.c.contact_id)
        .where(t.conversations.c.id.in_(ids - set(found)))).all()) if (
        ids - set(found)) else {}
    before = _fold(conn, found, wanted, contacts)
    _save(conn, found, before)
    linked = [facts for cid, facts in found.items()
              if facts.topic is not None and (before.get(cid) or _NO_TOPIC).topic is None]
    for facts in linked:
        for cid, old in _link_topic(conn, facts).items():
            before.setdefault(cid, old)
    if linked:  # the links changed rows in SQL: read them back
        found = {**found, **_load(conn, set(before) | set(found))}
    rollups.adjust_sync(conn, ((before.get(cid), facts) for cid, facts in found.items()))


def _fold(conn: Connection, found: dict[str, Facts],
          events: list[tuple[str | None, str, Mapping[str, Any], int]],
          contacts: Mapping[str, str]) -> dict[str, Facts | None]:
    """Fold the events into `found` (the rows read, changed in place, new ones added);
    returns the rows as they were before (the roll-ups lose these)."""
    open_hours = _open_hours(conn)
    before: dict[str, Facts | None] = {cid: replace(facts) for cid, facts in found.items()}
    for cid, kind, data, at in events:
        assert cid is not None
        facts = apply(found.get(cid), kind, data, at, conversation_id=cid,
                      contact_id=contacts.get(cid, ""), open_hours=open_hours)
        if facts is not None:
            found[cid] = facts
    return before


def fold_assigned(conn: Connection, events: list[tuple[str, Mapping[str, Any], int]], *,
                  found: dict[str, Facts] | None = None) -> list[tuple[Facts, Facts]]:
    """`project_sync` of `conversation.assigned` events, (conversation id, data, at), but
    for the writes: their rows read (locked) and folded; returns (before, after) of each
    row, for the caller to write them and their roll-ups in one statement (PostgreSQL's
    assignment, sql_routing.py). An assignment changes existing rows only (none is made
    without a creation event) and sets no topic (a queued event does), so there is nothing
    else to write. `found`: the rows, read (and locked) by the caller; changed in place."""
    if found is None:
        found = _load(conn, {cid for cid, _, _ in events})
    before = _fold(conn, found, [(cid, "conversation.assigned", data, at)
                                 for cid, data, at in events], {})
    changes: list[tuple[Facts, Facts]] = []
    for cid, old in before.items():
        assert old is not None and found[cid].topic == old.topic
        changes.append((old, found[cid]))
    return changes


def as_row(facts: Facts) -> dict[str, Any]:
    """The row's columns and values."""
    return asdict(facts)


_NO_TOPIC = Facts("", "", "", 0)


async def project_replies(conn: AsyncConnection, replies: Mapping[str, int]) -> None:
    """Agents' replies just stored on `conn` (conversation id -> when): first responses."""
    if replies:
        await conn.run_sync(_project_replies, replies)


def _project_replies(conn: Connection, replies: Mapping[str, int]) -> None:
    rows = _load(conn, set(replies), unanswered=True)
    if not rows:
        return
    before = {cid: replace(facts) for cid, facts in rows.items()}
    open_hours = _open_hours(conn)
    for cid, facts in rows.items():
        replied(facts, replies[cid], open_hours)
    _save(conn, rows, before)
    rollups.adjust_sync(conn, ((before[cid], facts) for cid, facts in rows.items()))


async def moved(conn: AsyncConnection, conversation_ids: list[str], from_contact: str,
                to_contact: str) -> None:
    """Conversations given to another contact (a verified identity): their facts follow, and
    both contacts' next-conversation-on-the-topic links are worked out again."""
    await conn.run_sync(_moved, conversation_ids, from_contact, to_contact)


def _moved(conn: Connection, conversation_ids: list[str], from_contact: str,
           to_contact: str) -> None:
    both = _f.contact_id.in_([from_contact, to_contact])
    before = _load_where(conn, both)
    conn.execute(update(t.conversation_facts)
                 .where(_f.conversation_id.in_(conversation_ids))
                 .values(contact_id=to_contact))
    _relink_sync(conn, both)
    after = _load(conn, set(before))
    rollups.adjust_sync(conn, ((old, after.get(cid)) for cid, old in before.items()))


def _load(conn: Connection, ids: set[str], *, unanswered: bool = False) -> dict[str, Facts]:
    rows = conn.execute(_LOAD[unanswered], {"ids": sorted(ids)}).all()
    return {row.conversation_id: _from_row(row) for row in rows}


def _load_statement(unanswered: bool) -> Any:
    """_load's statement, built once (building it cost as much as running it)."""
    condition: ColumnElement[bool] = _f.conversation_id.in_(bindparam("ids", expanding=True))
    if unanswered:
        condition = and_(condition, _f.first_response_at.is_(None))
    return select(t.conversation_facts).where(condition).with_for_update()


_LOAD = {unanswered: _load_statement(unanswered) for unanswered in (False, True)}


def _load_where(conn: Connection, condition: Any) -> dict[str, Facts]:
    rows = conn.execute(select(t.conversation_facts).where(condition)
                        .with_for_update()).all()
    return {row.conversation_id: _from_row(row) for row in rows}


def _from_row(row: Any) -> Facts:
    return from_mapping({name: getattr(row, name) for name in _FIELDS})


def from_mapping(row: Mapping[str, Any]) -> Facts:
    """A row as a mapping of its columns (e.g. one of PostgreSQL's `json_agg`) as Facts."""
    values = {name: row[name] for name in _FIELDS}
    values["handed_off"] = bool(values["handed_off"])
    values["abandoned"] = bool(values["abandoned"])
    return Facts(**values)


def _save(conn: Connection, found: Mapping[str, Facts],
          before: Mapping[str, Facts | None]) -> None:
    """Write the rows: insert the new ones (not in `before`), and in each row that was
    there set only the columns that changed (SQLite rewrites the entry of every index
    on a column set, changed or not: the facts have fifteen)."""
    new = [asdict(facts) for cid, facts in found.items() if before.get(cid) is None]
    if new:
        conn.execute(insert(t.conversation_facts), new)
    changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for cid, facts in found.items():
        old = before.get(cid)
        if old is None:
            continue
        names = tuple(name for name in _COLUMNS if getattr(facts, name) != getattr(old, name))
        if names:
            changed.setdefault(names, []).append(
                {"cid": cid, **{f"v_{name}": getattr(facts, name) for name in names}})
    for names, rows in changed.items():
        conn.execute(_update(names), rows)


_COLUMNS = [name for name in _FIELDS if name != "conversation_id"]


@functools.cache
def _update(names: tuple[str, ...]) -> Any:
    """UPDATE of these columns by conversation id, built once per set of columns (executemany
    needs bind names that differ from the column names)."""
    return (update(t.conversation_facts).where(_f.conversation_id == bindparam("cid"))
            .values({name: bindparam(f"v_{name}") for name in names}))


def _link_topic(conn: Connection, facts: Facts) -> dict[str, Facts]:
    """`facts` just got its topic: it is the contact's next conversation on that topic for
    those before it, and its own next one is the first after it. Returns the rows of the
    former as they were (the roll-ups' upkeep)."""
    same = and_(_f.contact_id == facts.contact_id, _f.topic == facts.topic)
    earlier = and_(same, _f.created_at < facts.created_at,
                   or_(_f.next_same_topic_at.is_(None),
                       _f.next_same_topic_at > facts.created_at))
    changed = _load_where(conn, earlier)
    if changed:
        conn.execute(update(t.conversation_facts)
                     .where(_f.conversation_id.in_(list(changed)))
                     .values(next_same_topic_at=facts.created_at))
    later = conn.scalar(select(func.min(_f.created_at))
                        .where(same, _f.created_at > facts.created_at))
    if later is not None:
        conn.execute(update(t.conversation_facts)
                     .where(_f.conversation_id == facts.conversation_id)
                     .values(next_same_topic_at=later))
    return changed


def _relink_statement(condition: Any) -> Any:
    later = t.conversation_facts.alias("later")
    following = (select(func.min(later.c.created_at))
                 .where(later.c.contact_id == _f.contact_id, later.c.topic == _f.topic,
                        later.c.created_at > _f.created_at)
                 .scalar_subquery())
    return update(t.conversation_facts).where(condition).values(next_same_topic_at=following)


def _open_hours(conn: Connection) -> OpenHours:
    found = conn.info.get(OPEN_HOURS_KEY)
    return found if found is not None else wall_clock


# the rebuild, from the log

async def rebuild(conn: AsyncConnection, open_hours: OpenHours, *, batch: int = 2000) -> int:
    """Recompute every conversation's facts from the event log and the messages, and the
    roll-ups from them; returns how many conversations."""
    return await conn.run_sync(rebuild_sync, open_hours, batch=batch)


def rebuild_sync(conn: Connection, open_hours: OpenHours, *, batch: int = 2000,
                 only_missing: bool = False) -> int:
    """`rebuild` on a synchronous connection (a migration runs it too), a batch of
    conversations at a time (memory stays flat). `only_missing`: keep the fact rows there
    are and fold only the conversations without one. Returns how many it folded."""
    c, e, m = t.conversations.c, t.events.c, t.messages.c
    if not only_missing:
        conn.execute(delete(t.conversation_facts))
    last = ""
    total = 0
    contacts_folded: set[str] = set()
    while True:
        query = select(c.id, c.contact_id).where(c.id > last)
        if only_missing:
            query = query.where(~select(_f.conversation_id)
                                .where(_f.conversation_id == c.id).exists())
        page = conn.execute(query.order_by(c.id).limit(batch)).all()
        if not page:
            break
        last = page[-1][0]
        contacts = dict(page)
        ids = list(contacts)
        events = conn.execute(
            select(e.conversation_id, e.kind, e.data, e.created_at)
            .where(e.conversation_id.in_(ids), e.kind.in_(KINDS))
            .order_by(e.conversation_id, e.id)).all()
        replies = dict(conn.execute(
            select(m.conversation_id, func.min(m.created_at))
            .where(m.conversation_id.in_(ids), m.sender == str(SenderKind.AGENT),
                   m.internal.is_(False))
            .group_by(m.conversation_id)).all())
        built: dict[str, Facts] = {}
        for row in events:
            data = row.data if isinstance(row.data, dict) else orjson.loads(row.data)
            facts = apply(built.get(row.conversation_id), row.kind, data,
                          row.created_at, conversation_id=row.conversation_id,
                          contact_id=contacts[row.conversation_id], open_hours=open_hours)
            if facts is not None:
                built[row.conversation_id] = facts
        for cid, at in replies.items():
            if cid in built:
                replied(built[cid], at, open_hours)
        if built:
            conn.execute(insert(t.conversation_facts), [asdict(f) for f in built.values()])
            contacts_folded.update(f.contact_id for f in built.values())
        total += len(built)
    if not only_missing:
        _relink_sync(conn, _f.topic.is_not(None))
    elif contacts_folded:
        folded = sorted(contacts_folded)
        for start in range(0, len(folded), 500):
            _relink_sync(conn, and_(_f.topic.is_not(None),
                                    _f.contact_id.in_(folded[start:start + 500])))
    rollups.rebuild_sync(conn)
    return total


def _relink_sync(conn: Connection, condition: Any) -> None:
    conn.execute(_relink_statement(condition))


async def read_all(conn: AsyncConnection) -> list[Facts]:
    """Every row, by conversation id (tests compare the projection with a rebuild)."""
    rows = (await conn.execute(select(t.conversation_facts)
                               .order_by(_f.conversation_id))).all()
    return [_from_row(row) for row in rows]
