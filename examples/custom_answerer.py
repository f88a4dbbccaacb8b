"""Your own answerers in front of the built-in knowledge base.

The bot asks a chain of answerers in order; the first that answers wins. Here:

1. `OrderStatus` answers "where is my order 1042?" from the shop's own data;
2. `HttpAnswerer` asks an HTTP service of yours (an LLM gateway, a search engine) and gives
   up quietly when it is down or slow: the chain then asks the next one;
3. "kb" is chatkit's knowledge-base answerer, for everything else.

    python examples/custom_answerer.py      # then open http://127.0.0.1:8082/
    ANSWER_URL=http://127.0.0.1:9000/answer python examples/custom_answerer.py
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Literal

import aiohttp
from aiohttp import web

from chatkit import Answer, Answerer, Article, ChatKit, Question, Settings

ORDERS = {"1042": "shipped on Monday", "1043": "being packed"}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Outdoor</title></head>
<body><h1>Acme Outdoor</h1><p>Ask the chat "where is my order 1042?"</p>
<script src="/support/widget.js" async></script></body></html>"""


class OrderStatus:
    """Answers questions about an order number from the shop's data."""

    _ORDER = re.compile(r"\border\s*(?:number\s*)?#?\s*(\d{3,10})\b", re.IGNORECASE)

    def __init__(self, orders: Mapping[str, str]) -> None:
        self.orders = orders

    async def answer(self, question: Question) -> Answer | None:
        found = self._ORDER.search(question.text)
        if found is None:
            return None  # not about an order: let the next answerer try
        number = found.group(1)
        status = self.orders.get(number)
        if status is None:
            return Answer(f"I can't find order **#{number}**. Please check the number.",
                          confidence=0.9, team="support")
        return Answer(f"Order **#{number}** is {status}.", confidence=1.0,
                      articles=(Article("Track a parcel", url="https://track.example.com/"),))


class HttpAnswerer:
    """POSTs {"question", "locale"} to `url` and expects {"answer": str | null}. Anything
    else (down, slow, a bad reply) is "I don't know", so the chain moves on."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def answer(self, question: Question) -> Answer | None:
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http, http.post(
                    self.url, json={"question": question.text, "locale": question.locale},
            ) as response:
                if response.status != 200:
                    return None
                data = await response.json()
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return None
        text = data.get("answer") if isinstance(data, dict) else None
        # What the service says is rendered as Markdown by the widget (never as HTML).
        return Answer(text, confidence=0.6) if isinstance(text, str) and text.strip() else None


def build_app(answer_url: str | None = None) -> web.Application:
    answerers: list[Answerer | Literal["kb"]] = [OrderStatus(ORDERS)]
    if answer_url:
        answerers.append(HttpAnswerer(answer_url))
    answerers.append("kb")
    app = web.Application()

    async def home(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", home)
    kit = ChatKit(Settings(database_url="sqlite:///acme-support.db"), answerers=answerers)
    kit.setup(app, prefix="/support")
    return app


if __name__ == "__main__":
    web.run_app(build_app(os.environ.get("ANSWER_URL")), host="127.0.0.1", port=8082)
