"""The routing configuration kept in the store, where admins edit it, and how routing.yaml
seeds it.

Every process routes by the newest version in the store (Store.routing_config), and notices a
new one within a sweep (RoutingService.refresh). Which wins when both exist:

- The store has no configuration yet: routing.yaml (or, with no file, the built-in one team
  `support`) is saved as version 1.
- routing.yaml's document differs from the one that last seeded the store: the file wins and
  is saved as a new version, replacing any admin edits (editing the file and restarting is a
  deliberate change). Only the validated document counts, not its comments or layout.
- Otherwise the store wins: what admins saved survives restarts. With no file, the store keeps
  what it has.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import orjson
from pydantic import ValidationError

from chatkit.errors import ChatKitError
from chatkit.routing.config import RoutingConfig
from chatkit.storage import Store
from chatkit.storage.routing import StoredRouting

log = logging.getLogger(__name__)

#: How often seeding reads again when another process saved at the same moment.
_SEED_ATTEMPTS = 5


class InvalidRoutingConfig(ChatKitError):
    """A routing configuration an admin sent did not validate; `problems` names each field
    ({"field": "teams[1].strategy", "message": ...})."""

    code = "invalid_config"

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['message']}" if p["field"]
                                   else p["message"] for p in problems))
        self.problems = problems


def config_document(config: RoutingConfig) -> dict[str, Any]:
    """The configuration as JSON, every field given, in one canonical order (sets sorted),
    so that equal configurations give equal documents and digests."""
    document: dict[str, Any] = config.model_dump(mode="json")
    for part in (*document["teams"], *document["agents"].values()):
        part["skills"] = sorted(part["skills"])
    return document


def document_digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def validate_document(document: Any) -> RoutingConfig:
    """An admin's document as a RoutingConfig; raises InvalidRoutingConfig naming each
    field at fault."""
    if not isinstance(document, dict):
        raise InvalidRoutingConfig([{"field": "", "message": "the configuration must be a "
                                     "JSON object (teams, agents, ...)"}])
    try:
        return RoutingConfig.model_validate(document)
    except ValidationError as exc:
        raise InvalidRoutingConfig([_problem(e) for e in exc.errors(include_url=False)]
                                   ) from None


def _problem(error: Any) -> dict[str, str]:
    message = str(error["msg"]).removeprefix("Value error, ")
    field = ""
    for part in error["loc"]:
        if part == "[key]":
            continue
        field += f"[{part}]" if isinstance(part, int) else f".{part}" if field else str(part)
    if not field:
        # A check across fields (RoutingConfig._check_references) names its field first.
        head, sep, rest = message.partition(": ")
        if sep and " " not in head:
            field, message = head, rest
    return {"field": field, "message": message}


async def seed(store: Store, config: RoutingConfig | None, *, now: int) -> StoredRouting:
    """Make the store's configuration follow the rules in the module docstring, given
    routing.yaml's validated contents (None: no file). Safe with several processes starting
    at once: of their saves one wins, the others read it and find nothing left to do."""
    document = config_document(config) if config is not None else None
    digest = document_digest(document) if document is not None else None
    for _ in range(_SEED_ATTEMPTS):
        stored = await store.routing_config()
        if stored is not None and (digest is None or stored.file_digest == digest):
            return stored  # the store wins
        if stored is not None:
            log.info("routing.yaml changed since it last seeded the store: it replaces "
                     "routing version %d (%s)", stored.version, stored.source)
        saved = await store.save_routing_config(
            document if document is not None else config_document(RoutingConfig()),
            expected_version=0 if stored is None else stored.version,
            source="file" if document is not None else "default", file_digest=digest,
            changed_by=None, now=now)
        if saved is not None:
            return saved
    raise RuntimeError("could not seed the routing configuration: it kept changing")
