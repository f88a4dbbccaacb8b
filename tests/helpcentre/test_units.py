"""The help centre's parts without a server: safe Markdown, snippets, categories, locales."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chatkit.helpcentre import rendering
from chatkit.helpcentre.articles import categories, category_name, slugify
from chatkit.helpcentre.i18n import (
    CATALOGUE,
    choose_locale,
    language_name,
    preferred_languages,
    ui_strings,
)
from chatkit.helpcentre.rendering import (
    PAGES,
    is_safe_url,
    load_templates,
    render_markdown,
    snippet,
)
from chatkit.kb import KBEntry, KnowledgeBase


def entry(entry_id: str, *, locale: str = "en", category: str | None = None,
          tags: tuple[str, ...] = (), answer: str = "An answer.") -> KBEntry:
    return KBEntry(id=entry_id, question=f"What about {entry_id}?", answer=answer,
                   category=category, tags=tags, locale=locale)


@pytest.mark.parametrize("url", [
    "https://example.com/a?b=c#d", "http://example.com", "HTTPS://EXAMPLE.COM", "/help/x",
    "../x", "x.html", "#anchor", "?q=1", "//cdn.example.com/x.png", "a/b:c",
])
def test_safe_urls(url: str) -> None:
    assert is_safe_url(url)


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
    "\x01javascript:alert(1)", "java\tscript:alert(1)", "java\nscript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "data:image/png;base64,AAAA",
    "vbscript:msgbox(1)", "file:///etc/passwd", "mailto:a@example.com", "ftp://x",
])
def test_unsafe_urls(url: str) -> None:
    assert not is_safe_url(url)


def test_markdown_renders_without_html_or_unsafe_links() -> None:
    html = render_markdown(
        "# Title\n\n<b>raw</b> **bold** [ok](https://x.org) [bad](javascript:alert(1))\n\n"
        "![img](data:image/png;base64,AAAA) ![fine](/logo.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<h2>Title</h2>" in html
    assert "&lt;b&gt;raw&lt;/b&gt; <strong>bold</strong>" in html
    assert '<a href="https://x.org">ok</a>' in html
    assert "[bad](javascript:alert(1))" in html and 'href="javascript' not in html
    assert "![img](data:image/png;base64,AAAA)" in html and 'src="data:' not in html
    assert '<img src="/logo.png" alt="fine"' in html
    assert "<table>" in html
    assert render_markdown("###### Deepest").startswith("<h6>")


def test_snippets_are_plain_text_cut_at_a_word() -> None:
    assert snippet("**Bold** and `code`,\nthen [a link](/x).\n\n- one\n- two") == (
        "Bold and code, then a link. one two")
    long = snippet("word " * 100)
    assert long.endswith("word…") and len(long) <= 161
    assert snippet("x" * 300, 10) == "x" * 10 + "…"
    assert snippet("<script>alert(1)</script>") == "<script>alert(1)</script>"  # text


def test_categories_in_knowledge_base_order() -> None:
    entries = [entry("a", tags=("Billing", "x")), entry("b", category="Shipping"),
               entry("c"), entry("d", category="billing"), entry("e", category="Shipping")]
    assert category_name(entries[0], "General") == "Billing"
    assert category_name(entries[2], "General") == "General"
    found = categories(entries, "General")
    assert [(c.slug, c.name, [e.id for e in c.entries]) for c in found] == [
        ("billing", "Billing", ["a", "d"]), ("shipping", "Shipping", ["b", "e"]),
        ("general", "General", ["c"])]


def test_slugs() -> None:
    assert slugify("Orders & Returns") == "orders-returns"
    assert slugify("  Envíos  ") == "envíos"
    assert slugify("配送") == "配送"
    assert slugify("***") == "topic"


def test_accept_language_order() -> None:
    assert preferred_languages("en;q=0.5, es-MX, fr;q=0, *;q=0.1") == ["es-MX", "en"]
    assert preferred_languages("de;q=0.8, nl;q=0.8, pt") == ["pt", "de", "nl"]
    assert preferred_languages("en;q=abc, es") == ["es"]
    assert preferred_languages("") == []


def test_choose_locale() -> None:
    kb = KnowledgeBase([entry("a"), entry("a", locale="es"), entry("b", locale="pt-BR")])
    assert choose_locale(kb, "es", None).locale == "es"
    assert choose_locale(kb, "es", None).explicit
    assert choose_locale(kb, None, "pt-PT, es;q=0.5").locale == "pt-BR"  # same language
    assert choose_locale(kb, None, "fr, es;q=0.5").locale == "es"
    negotiated = choose_locale(kb, None, "fr")
    assert (negotiated.locale, negotiated.explicit) == ("en", False)
    assert choose_locale(kb, "not a locale!", None).locale == "en"


def test_the_catalogue_is_complete_and_fills_in() -> None:
    english, spanish = CATALOGUE["en"], CATALOGUE["es"]
    for field in dataclasses.fields(english):
        for strings in (english, spanish):
            assert getattr(strings, field.name).strip(), field.name
        # The same placeholders in every language.
        assert (sorted(_placeholders(getattr(english, field.name)))
                == sorted(_placeholders(getattr(spanish, field.name)))), field.name
    assert ui_strings("es-MX") is spanish and ui_strings("fr") is english
    assert language_name("es") == "Español" and language_name("pt-BR") == "Português (BR)"
    assert language_name("tlh") == "tlh"


def _placeholders(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def test_templates_load_autoescaped_and_a_missing_one_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environment = load_templates()
    assert environment.autoescape is True
    assert set(environment.list_templates()) >= PAGES
    (tmp_path / "base.html").write_text("{% block main %}{% endblock %}", encoding="utf-8")
    monkeypatch.setattr(rendering, "TEMPLATES", tmp_path)
    with pytest.raises(RuntimeError, match=r"'article\.html'"):
        load_templates()
