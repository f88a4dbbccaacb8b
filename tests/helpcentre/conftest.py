"""A knowledge base in English and Spanish, with an entry that tries to inject markup, and a
chatkit server that serves it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import StartServer

ENGLISH = """
entries:
  - id: shipping-time
    question: How long does shipping take?
    alternates: ["When will my order arrive?", Delivery time]
    category: Shipping
    answer: |
      Orders **ship** within one business day.

      # Tracking

      Follow your parcel in [My orders](/account/orders).
    links:
      - {title: Our carriers, url: "https://example.com/carriers"}
  - id: shipping-cost
    question: How much does shipping cost?
    alternates: [Shipping price, Delivery fee]
    category: Shipping
    answer: Shipping is free over 50 euros, otherwise 4.95 euros.
  - id: returns
    question: How do I return an item?
    alternates: [Return policy, I want a refund]
    tags: [Returns, refunds]
    answer: You can return any item within 30 days from *My orders*.
  - id: opening-hours
    question: What are your opening hours?
    alternates: ["When are you open?"]
    answer: Monday to Friday, 9:00 to 18:00.
  - id: xss
    question: "Is <script>alert('q')</script> a safe question?"
    alternates: [injection test]
    category: "Security <b>bold</b>"
    answer: |
      <script>alert('a')</script> <img src=x onerror="alert('img')">

      Click [here](javascript:alert('link')) or [there](JaVaScRiPt:alert('case'))
      or <javascript:alert('auto')> or ![pic](javascript:alert('image')).
      A [fine link](https://example.com/fine) and a [relative one](/chat/help/).
    links:
      - {title: "<i>Docs</i>", url: "https://example.com/docs"}
  - id: gift-card-buy
    question: How do I buy a gift card?
    category: Gift cards
    answer: Gift cards are sold in any amount from 10 euros.
  - id: gift-card-use
    question: How do I use a gift card?
    category: Gift cards
    answer: Enter the gift card's code at checkout.
  - id: gift-card-balance
    question: How do I check my gift card balance?
    category: Gift cards
    answer: Your gift card's balance is shown in My account.
"""

SPANISH = """
locale: es
entries:
  - id: shipping-time
    question: ¿Cuánto tarda el envío?
    alternates: ["¿Cuándo llega mi pedido?", Plazo de entrega]
    category: Envíos
    answer: Los pedidos **salen** en un día laborable.
  - id: returns
    question: ¿Cómo devuelvo un artículo?
    alternates: [Política de devoluciones, Quiero un reembolso]
    category: Devoluciones
    answer: Puedes devolver cualquier artículo en 30 días.
"""


@pytest.fixture
def kb_path(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    (folder / "es").mkdir(parents=True)
    (folder / "entries.yaml").write_text(ENGLISH, encoding="utf-8")
    (folder / "es" / "entries.yaml").write_text(SPANISH, encoding="utf-8")
    return folder


@pytest.fixture
async def help_server(start_server: StartServer, kb_path: Path) -> TestServer:
    return await start_server(kb_path=kb_path)


@pytest.fixture
async def client(help_server: TestServer,
                 aiohttp_client: Callable[..., Awaitable[TestClient]]) -> TestClient:
    """A browser-like client: keeps cookies (also for 127.0.0.1)."""
    return await aiohttp_client(help_server)
