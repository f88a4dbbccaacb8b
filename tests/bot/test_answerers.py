"""The answerer port: the knowledge-base answerer, chains, and the example's own answerers
(examples/custom_answerer.py), with a real HTTP service behind one of them."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chatkit.bot import Answer, AnswererChain, Article, Clarify, KBAnswerer, Question
from chatkit.kb import KnowledgeBase
from chatkit.kb.source import KBSource
from tests.bot.conftest import ANSWERED, CLOSE, UNKNOWN, load_example

example = load_example("custom_answerer")


def ask(text: str, locale: str = "en") -> Question:
    return Question(text, locale, "c1")


async def test_the_kb_answerer_answers_clarifies_or_declines(kb: KnowledgeBase) -> None:
    answerer = KBAnswerer(kb)
    answer = await answerer.answer(ask(ANSWERED))
    assert isinstance(answer, Answer)
    assert (answer.entry_id, answer.team, answer.title) == (
        "shipping", "support", "How long does shipping take?")
    assert answer.articles == (Article("How long does shipping take?", id="shipping"),
                               Article("Carrier tracking", url="https://track.example.com/"))
    clarify = await answerer.answer(ask(CLOSE))
    assert isinstance(clarify, Clarify)
    assert {o.entry_id for o in clarify.options} == {"cancel-booking", "cancel-subscription"}
    assert await answerer.answer(ask(UNKNOWN)) is None
    spanish = await answerer.answer(ask("¿Cuánto tarda el envío?", "es-MX"))
    assert isinstance(spanish, Answer) and spanish.body.startswith("Los pedidos")


async def test_the_kb_answerer_reads_the_current_knowledge_base(tmp_path: Path) -> None:
    kb_file = tmp_path / "kb.yaml"
    entry = "entries:\n  - {{id: hours, question: 'When are you open?', answer: '{}'}}\n"
    kb_file.write_text(entry.format("From 9 to 5."), encoding="utf-8")
    source = KBSource(kb_file)
    await source.load()
    answerer = KBAnswerer(source)
    first = await answerer.answer(ask("When are you open?"))
    assert isinstance(first, Answer) and first.body == "From 9 to 5."
    kb_file.write_text(entry.format("Around the clock."), encoding="utf-8")
    await source.reload()
    second = await answerer.answer(ask("When are you open?"))
    assert isinstance(second, Answer) and second.body == "Around the clock."


async def test_the_first_answerer_that_answers_wins(kb: KnowledgeBase) -> None:
    chain = AnswererChain([example.OrderStatus(example.ORDERS), KBAnswerer(kb)])
    order = await chain.answer(ask("Where is my order #1042?"))
    assert isinstance(order, Answer) and order.body == "Order **#1042** is shipped on Monday."
    unknown = await chain.answer(ask("what about order 999999"))
    assert isinstance(unknown, Answer) and unknown.team == "support"
    # Not about an order: the knowledge base answers.
    kb_answer = await chain.answer(ask(ANSWERED))
    assert isinstance(kb_answer, Answer) and kb_answer.entry_id == "shipping"
    assert await chain.answer(ask(UNKNOWN)) is None


async def test_a_failing_answerer_is_skipped(kb: KnowledgeBase,
                                             caplog: pytest.LogCaptureFixture) -> None:
    not_loaded = KBSource(None)  # raises until load() has run
    chain = AnswererChain([KBAnswerer(not_loaded), example.OrderStatus(example.ORDERS)])
    answer = await chain.answer(ask("order 1043?"))
    assert isinstance(answer, Answer) and "being packed" in answer.body
    assert "failed; asking the next one" in caplog.text


async def test_an_http_answerer_in_the_chain(
        aiohttp_server: Callable[..., Awaitable[TestServer]], kb: KnowledgeBase) -> None:
    asked: list[object] = []

    async def service(request: web.Request) -> web.Response:
        question = await request.json()
        asked.append(question)
        if "warranty" in question["question"]:
            return web.json_response({"answer": "Two years, parts and labour."})
        return web.json_response({"answer": None})

    app = web.Application()
    app.router.add_post("/answer", service)
    server = await aiohttp_server(app)
    url = f"http://{server.host}:{server.port}/answer"
    chain = AnswererChain([example.HttpAnswerer(url), KBAnswerer(kb)])
    answer = await chain.answer(ask("How long is the warranty?", "es"))
    assert isinstance(answer, Answer) and answer.body == "Two years, parts and labour."
    assert asked == [{"question": "How long is the warranty?", "locale": "es"}]
    # The service does not know: the knowledge base answers.
    kb_answer = await chain.answer(ask(ANSWERED))
    assert isinstance(kb_answer, Answer) and kb_answer.entry_id == "shipping"


async def test_an_http_answerer_that_cannot_connect_does_not_know(kb: KnowledgeBase) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chain = AnswererChain([example.HttpAnswerer(f"http://127.0.0.1:{port}/answer"),
                           KBAnswerer(kb)])
    answer = await chain.answer(ask(ANSWERED))
    assert isinstance(answer, Answer) and answer.entry_id == "shipping"


def test_answers_are_checked() -> None:
    with pytest.raises(ValueError, match="body"):
        Answer("  ")
    with pytest.raises(ValueError, match="confidence"):
        Answer("yes", confidence=1.5)
    with pytest.raises(ValueError, match=r"id .* or a url"):
        Article("Somewhere")
    with pytest.raises(ValueError, match="at least two"):
        Clarify((Answer("a", title="A"),))
    with pytest.raises(ValueError, match="title"):
        Clarify((Answer("a", title="A"), Answer("b")))
    with pytest.raises(ValueError, match="at least one"):
        AnswererChain([])
