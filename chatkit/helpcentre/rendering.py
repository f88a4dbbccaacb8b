"""Knowledge-base Markdown made safe to serve, plain-text snippets, and the page templates.

Answers are Markdown written by the business, but they are still input from outside: no raw
HTML passes (it is shown as text), and a link or image must be http(s) or relative, so no
`javascript:` or `data:` URL reaches a page."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from chatkit.templating import compile_templates

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGES = frozenset({"base.html", "index.html", "category.html", "article.html", "search.html",
                   "not_found.html"})
SNIPPET_LENGTH = 160

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_IGNORED_IN_URLS = re.compile(r"[\t\n\r]")
_SPACE_AND_CONTROLS = "".join(chr(c) for c in range(0x21))


def is_safe_url(url: str) -> bool:
    """http(s), or relative (no scheme at all).

    >>> [is_safe_url(u) for u in ["https://x.org", "/help", "#top", "java\\tscript:alert(1)"]]
    [True, True, True, False]
    """
    # As a browser reads it: tabs and newlines anywhere are dropped, spaces and control
    # characters around it trimmed; what is left before the first ":" may be a scheme.
    cleaned = _IGNORED_IN_URLS.sub("", url).strip(_SPACE_AND_CONTROLS)
    scheme = _SCHEME.match(cleaned)
    return scheme is None or scheme.group(1).lower() in {"http", "https"}


class _SafeMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        # A link that fails stays in the page as the text it was written as.
        return is_safe_url(url)


# CommonMark with HTML off (raw HTML in an answer is escaped), plus GFM tables and ~~strike~~.
_markdown = _SafeMarkdown("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render_markdown(text: str) -> Markup:
    """An answer as HTML to place under the page's <h1>: its headings move one level down,
    so that `# Steps` in an answer does not compete with the article's title."""
    tokens = _markdown.parse(text)
    for token in tokens:
        if token.type in {"heading_open", "heading_close"}:
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    return Markup(_markdown.renderer.render(tokens, _markdown.options, {}))


def plain_text(text: str) -> str:
    """The words of a Markdown text without its markup, on one line."""
    words: list[str] = []
    for token in _markdown.parse(text):
        for child in token.children or ():
            if child.type in {"text", "code_inline"}:
                words.append(child.content)
            elif child.type in {"softbreak", "hardbreak"}:
                words.append(" ")
        if token.block and token.nesting == -1:
            words.append(" ")  # between paragraphs, list items, cells
    return " ".join("".join(words).split())


def snippet(text: str, length: int = SNIPPET_LENGTH) -> str:
    """The start of a Markdown text as plain text, cut at a word, with "…" when cut.

    >>> snippet("**Orders** ship within one business day.", 20)
    'Orders ship within…'
    """
    plain = plain_text(text)
    if len(plain) <= length:
        return plain
    cut = plain[:length + 1]
    cut = cut.rsplit(" ", 1)[0] if " " in cut else plain[:length]
    return cut.rstrip(" ,.;:") + "…"


def load_templates() -> jinja2.Environment:
    """The page templates, read and compiled. Blocking (reads files): call it in a thread."""
    return compile_templates(TEMPLATES, PAGES, "the help centre")
