"""Your own CRM adapter: agents see what your shop knows of the customer beside the chat.

chatkit's CRM port is three async methods (chatkit/crm/port.py). Here they read the shop's own
customer table (SQLite, through a thread so the event loop never blocks) and record each
conversation's outcome beside the customer's orders. Any failure here only makes the agents'
panel say "CRM unavailable": the chat goes on.

    python examples/custom_crm.py      # then open http://127.0.0.1:8083/ and ask for a person;
                                       # the console is at /support/console/
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from aiohttp import web

from chatkit import ChatKit, Settings
from chatkit.crm import CRMContact, CRMContext, CRMIdentity, CRMLink, Outcome

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Outdoor</title></head>
<body><h1>Acme Outdoor</h1><p>Signed in as Grace (customer 42). Ask the chat for a person.</p>
<script src="/support/widget.js" async></script>
<script>window.ChatKit = window.ChatKit
  || function () { (ChatKit.q = ChatKit.q || []).push(arguments); };
ChatKit('identify', {id: '42', name: 'Grace Hopper', email: 'grace@example.com'});</script>
</body></html>"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE, tier TEXT, company TEXT,
    lifetime_value REAL NOT NULL DEFAULT 0, orders INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS support_outcomes (
    conversation_id TEXT PRIMARY KEY, customer_id TEXT, status TEXT, agent TEXT,
    team TEXT, reason TEXT, resolved_at INTEGER, csat INTEGER);
INSERT OR IGNORE INTO customers VALUES
    ('42', 'Grace Hopper', 'grace@example.com', 'Gold', 'Navy', 1234.5, 17);
"""


class ShopCRM:
    """The CRM port over the shop's customer table."""

    def __init__(self, path: Path, *, admin_url: str = "https://shop.example.com/admin") -> None:
        self.path = path
        self.admin_url = admin_url
        with sqlite3.connect(path) as db:
            db.executescript(SCHEMA)

    def _query(self, sql: str, *args: object) -> list[sqlite3.Row]:
        with sqlite3.connect(self.path) as db:
            db.row_factory = sqlite3.Row
            return db.execute(sql, args).fetchall()

    async def find_contact(self, identity: CRMIdentity) -> CRMContact | None:
        # Only a verified id is trusted in a real shop; the demo page cannot sign, so this
        # one also takes the id the page claimed. Email is the fallback.
        rows = await asyncio.to_thread(
            self._query, "SELECT id, name, email FROM customers WHERE id = ? OR email = ? "
                         "ORDER BY id = ? DESC LIMIT 1",
            identity.external_id, identity.email, identity.external_id)
        if not rows:
            return None
        row = rows[0]
        return CRMContact(id=row["id"], name=row["name"], email=row["email"],
                          url=f"{self.admin_url}/customers/{row['id']}")

    async def fetch_context(self, contact: CRMContact) -> CRMContext:
        (row,) = await asyncio.to_thread(
            self._query, "SELECT * FROM customers WHERE id = ?", contact.id)
        return CRMContext(
            plan=row["tier"], company=row["company"], lifetime_value=row["lifetime_value"],
            currency="USD", fields={"orders": row["orders"]},
            links=[CRMLink(title="Orders", url=f"{self.admin_url}/customers/{contact.id}/orders")])

    async def write_outcome(self, outcome: Outcome) -> None:
        # Called again when the visitor rates the conversation: an upsert.
        customer = await self.find_contact(outcome.contact)
        await asyncio.to_thread(
            self._query,
            "INSERT OR REPLACE INTO support_outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            outcome.conversation_id, None if customer is None else customer.id, outcome.status,
            outcome.agent_name, outcome.team, outcome.reason, outcome.resolved_at, outcome.csat)


def build_app(shop_db: Path = Path("acme-shop.db")) -> web.Application:
    app = web.Application()

    async def home(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", home)
    kit = ChatKit(Settings(database_url="sqlite:///acme-support.db", demo=True),
                  crm=ShopCRM(shop_db))
    kit.setup(app, prefix="/support")
    return app


if __name__ == "__main__":
    web.run_app(build_app(), host="127.0.0.1", port=8083)
