"""The help centre's pages, rendered on the server: they work without JavaScript, which only
adds the search suggestions and the "was this helpful?" vote (static/help/help.js)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2
from aiohttp import web
from yarl import URL

from chatkit.helpcentre import articles
from chatkit.helpcentre.i18n import LocaleChoice, choose_locale, language_name, ui_strings
from chatkit.helpcentre.rendering import render_markdown, snippet
from chatkit.kb import KBEntry, KnowledgeBase
from chatkit.keys import KB_PROVIDER

TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("chatkit.help_templates")

# Only chatkit's own files: no inline script or style, no plugins, forms post only here.
# Images may come from any https host: answers may show pictures from the business's CDN.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' https:; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
RELATED_ARTICLES = 5
SEARCH_RESULTS = 10

routes = web.RouteTableDef()


@dataclass(frozen=True, slots=True)
class Language:
    """A link of the language switcher."""

    locale: str
    name: str
    url: str
    current: bool
    same_page: bool  # the same article in that language (an hreflang alternate)


class Page:
    """One request's view of the help centre: the knowledge base in force, the locale
    chosen, and URLs under wherever chatkit is mounted."""

    def __init__(self, request: web.Request, kb: KnowledgeBase, choice: LocaleChoice) -> None:
        self.request = request
        self.kb = kb
        self.choice = choice
        self.locale = choice.locale
        self.t = ui_strings(choice.locale)

    @classmethod
    def of(cls, request: web.Request) -> Page:
        kb = request.config_dict[KB_PROVIDER]()
        return cls(request, kb, choose_locale(kb, request.query.get("locale"),
                                              request.headers.get("Accept-Language")))

    def in_locale(self, locale: str) -> Page:
        return Page(self.request, self.kb, LocaleChoice(locale, self.choice.explicit))

    def url(self, name: str, *, locale: str | None = None, carry: bool = True,
            **parts: str) -> str:
        """The URL of the named route, with `locale` if given. Otherwise links carry this
        page's locale on when it was chosen with ?locale= (a negotiated one follows the
        browser), unless `carry` is false."""
        url = self.request.app.router[name].url_for(**parts)
        if locale is None and carry and self.choice.explicit:
            locale = self.locale
        return str(url.with_query(locale=locale) if locale else url)

    def asset(self, filename: str) -> str:
        # chatkit's static files are served at {prefix}/static/, beside {prefix}/help/.
        index = self.url("help.index", carry=False).rstrip("/")
        return f"{index.removesuffix('/help')}/static/help/{filename}"

    def render(self, template: str, *, title: str = "", query: str = "", status: int = 200,
               cache: str = "public, max-age=60",
               switch: Callable[[str], tuple[str, bool]] | None = None,
               **context: Any) -> web.Response:
        """`switch(locale)` gives the language switcher's link to that locale and whether it
        is this page's counterpart; by default, the help centre's home in it."""
        switch = switch or (lambda locale: (self.url("help.index", locale=locale), False))
        languages = []
        for locale in sorted(self.kb.locales):
            url, same_page = switch(locale)
            languages.append(Language(locale, language_name(locale), url,
                                      locale == self.locale, same_page))
        environment = self.request.config_dict[TEMPLATES]
        html = environment.get_template(template).render(
            page=self, t=self.t, lang=self.locale, locale=self.locale,
            explicit=self.choice.explicit, title=title, languages=languages, query=query,
            urls={"index": self.url("help.index"),
                  "search": self.url("help.search", carry=False),
                  "api_search": self.url("help.api.search", carry=False),
                  "css": self.asset("help.css"), "js": self.asset("help.js")},
            **context)
        return web.Response(text=html, status=status, content_type="text/html", headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": cache,
            # The locale may come from Accept-Language: a cache must keep one copy per value.
            "Vary": "Accept-Language"})

    def not_found(self) -> web.Response:
        return self.render("not_found.html", title=self.t.not_found_title, status=404)

    def categories(self) -> list[articles.Category]:
        return articles.categories(self.kb.entries_in(self.locale), self.t.general)


@routes.get("/help")
async def add_slash(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect(
        URL.build(path=request.path + "/", query_string=request.query_string))


@routes.get("/help/", name="help.index")
async def index(request: web.Request) -> web.Response:
    page = Page.of(request)
    return page.render("index.html", categories=page.categories())


@routes.get("/help/categories/{slug}", name="help.category")
async def category(request: web.Request) -> web.Response:
    page = Page.of(request)
    slug = request.match_info["slug"]
    found = next((c for c in page.categories() if c.slug == slug), None)
    if found is None:
        return page.not_found()

    def switch(locale: str) -> tuple[str, bool]:
        other = page.in_locale(locale).categories()
        if any(c.slug == slug for c in other):
            return page.url("help.category", slug=slug, locale=locale), True
        return page.url("help.index", locale=locale), False

    return page.render("category.html", title=found.name, category=found, switch=switch,
                       snippets={entry.id: snippet(entry.answer) for entry in found.entries})


@routes.get("/help/articles/{entry_id}", name="help.article")
async def article(request: web.Request) -> web.Response:
    page = Page.of(request)
    entry_id = request.match_info["entry_id"]
    # An article the chosen locale lacks is shown in the default one, and the page with it.
    entry = page.kb.get(entry_id, page.locale) or page.kb.get(entry_id, page.kb.default_locale)
    if entry is None:
        return page.not_found()
    if entry.locale != page.locale:
        page = page.in_locale(entry.locale)
    category_name = articles.category_name(entry, page.t.general)
    slug = articles.slugify(category_name)
    related = [other for other in page.kb.entries_in(entry.locale) if other.id != entry.id
               and articles.slugify(articles.category_name(other, page.t.general)) == slug]

    def switch(locale: str) -> tuple[str, bool]:
        if page.kb.get(entry_id, locale) is not None:
            return page.url("help.article", entry_id=entry_id, locale=locale), True
        return page.url("help.index", locale=locale), False

    return page.render(
        "article.html", title=entry.question, entry=entry, switch=switch,
        answer=render_markdown(entry.answer), category={"name": category_name, "slug": slug},
        related=related[:RELATED_ARTICLES],
        votes_url=page.url("help.api.votes", entry_id=entry.id, carry=False))


@routes.get("/help/search", name="help.search")
async def search(request: web.Request) -> web.Response:
    page = Page.of(request)
    query = request.query.get("q", "").strip()
    hits: list[articles.Hit] = []
    error = None
    if len(query) > articles.MAX_QUERY:
        error = page.t.query_too_long.format(max=articles.MAX_QUERY)
    elif query:
        hits = await asyncio.to_thread(articles.search, page.kb, query, limit=SEARCH_RESULTS,
                                       locale=page.locale, general=page.t.general)

    def switch(locale: str) -> tuple[str, bool]:
        url = request.app.router["help.search"].url_for().with_query(q=query, locale=locale)
        return str(url), True

    # What people search for can be personal: kept out of shared caches and history.
    return page.render("search.html", title=page.t.search_title, query=query, hits=hits,
                       error=error, status=400 if error else 200, cache="no-store",
                       switch=switch)


def article_url(request: web.Request, entry: KBEntry) -> str:
    """An article's stable URL, in its own locale."""
    url = request.app.router["help.article"].url_for(entry_id=entry.id)
    return str(url.with_query(locale=entry.locale))
