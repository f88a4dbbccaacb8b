"""The help centre's pages: categories, articles and search results, per locale, safe HTML."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from chatkit.helpcentre.pages import CONTENT_SECURITY_POLICY

HTML = "text/html"


async def page(client: TestClient, path: str, *, status: int = 200,
               **headers: str) -> tuple[str, dict[str, str]]:
    async with client.get(path, headers=headers, allow_redirects=False) as response:
        text = await response.text()
        assert response.status == status, text
        assert response.content_type == HTML
        return text, dict(response.headers)


def links(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


async def test_the_index_lists_categories_with_their_articles(client: TestClient) -> None:
    html, headers = await page(client, "/chat/help/")
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY  # scripts: 'self' only, no inline
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Vary"] == "Accept-Language"
    assert '<html lang="en">' in html and "<title>Help centre</title>" in html
    # In the order the knowledge base first names them: category, else first tag, else General.
    headings = re.findall(r'<h2 id="hc-cat-([^"]+)"><a href="([^"]+)">([^<]+)</a></h2>', html)
    assert headings == [
        ("shipping", "/chat/help/categories/shipping", "Shipping"),
        ("returns", "/chat/help/categories/returns", "Returns"),
        ("general", "/chat/help/categories/general", "General"),
        ("security-b-bold-b", "/chat/help/categories/security-b-bold-b",
         "Security &lt;b&gt;bold&lt;/b&gt;"),
        ("gift-cards", "/chat/help/categories/gift-cards", "Gift cards")]
    shipping = html[html.index('id="hc-cat-shipping"'):html.index('id="hc-cat-returns"')]
    assert links(shipping)[1:] == ["/chat/help/articles/shipping-time",
                                   "/chat/help/articles/shipping-cost"]
    # Landmarks and a labelled search form; the script and styles are chatkit's own files.
    assert '<main id="main"' in html and 'role="search"' in html
    assert '<label for="hc-q">Search the help centre</label>' in html
    assert '<script src="/chat/static/help/help.js" defer></script>' in html
    assert "<script>" not in html and "style=" not in html
    # The language switcher: both of the knowledge base's locales, the current one marked.
    assert '<a href="/chat/help/?locale=en" lang="en" hreflang="en" aria-current="true">' \
        'English</a>' in html
    assert '<a href="/chat/help/?locale=es" lang="es" hreflang="es">Español</a>' in html


async def test_the_static_files_are_served(client: TestClient) -> None:
    for name, kind in [("help.js", "javascript"), ("help.css", "text/css")]:
        async with client.get(f"/chat/static/help/{name}") as response:
            assert response.status == 200 and kind in response.content_type


async def test_help_without_the_slash_redirects(client: TestClient) -> None:
    async with client.get("/chat/help?locale=es", allow_redirects=False) as response:
        assert response.status == 308
        assert response.headers["Location"] == "/chat/help/?locale=es"


async def test_spanish_by_query_or_by_the_browsers_languages(client: TestClient) -> None:
    html, _ = await page(client, "/chat/help/?locale=es")
    assert '<html lang="es">' in html and "<h1>Centro de ayuda</h1>" in html
    assert "¿Cuánto tarda el envío?" in html and "How long" not in html
    # Chosen by ?locale=: the links keep it, and so does the search form.
    assert "/chat/help/articles/shipping-time?locale=es" in links(html)
    assert '<input type="hidden" name="locale" value="es">' in html

    for accept in ["es-MX,es;q=0.9,en;q=0.8", "fr-FR, fr;q=0.9, es;q=0.5", "es_ES"]:
        html, _ = await page(client, "/chat/help/", **{"Accept-Language": accept})
        assert '<html lang="es">' in html, accept
        # Negotiated: links follow the browser rather than pinning a locale.
        assert "/chat/help/articles/shipping-time" in links(html)
        assert 'name="locale"' not in html
    for accept in ["fr, de;q=0.5", "es;q=0, en;q=0.1", "*", ";;;q=x,", ""]:
        html, _ = await page(client, "/chat/help/", **{"Accept-Language": accept})
        assert '<html lang="en">' in html, accept
    html, _ = await page(client, "/chat/help/?locale=es", **{"Accept-Language": "en"})
    assert '<html lang="es">' in html  # the query wins
    html, _ = await page(client, "/chat/help/?locale=<x>")
    assert '<html lang="en">' in html  # nonsense falls back to the default


async def test_a_category_page(client: TestClient) -> None:
    html, _ = await page(client, "/chat/help/categories/shipping")
    assert "<title>Shipping · Help centre</title>" in html and "<h1>Shipping</h1>" in html
    assert links(html).count("/chat/help/articles/shipping-cost") == 1
    assert "<p>Shipping is free over 50 euros, otherwise 4.95 euros.</p>" in html
    assert "<p>Orders ship within one business day. Tracking Follow your parcel in My " \
           "orders.</p>" in html  # a snippet: plain text
    html, _ = await page(client, "/chat/help/categories/envíos?locale=es")
    assert "<h1>Envíos</h1>" in html
    await page(client, "/chat/help/categories/shipping?locale=es", status=404)
    await page(client, "/chat/help/categories/nothing", status=404)


async def test_an_article_has_a_stable_url_per_entry(client: TestClient) -> None:
    html, headers = await page(client, "/chat/help/articles/shipping-time")
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "<title>How long does shipping take? · Help centre</title>" in html
    assert '<h1 id="hc-title">How long does shipping take?</h1>' in html
    # Markdown rendered; the answer's own "# Tracking" under the page's h1, not beside it.
    assert "<p>Orders <strong>ship</strong> within one business day.</p>" in html
    assert "<h2>Tracking</h2>" in html and html.count("<h1") == 1
    assert '<a href="/account/orders">My orders</a>' in html
    assert '<a href="https://example.com/carriers">Our carriers</a>' in html
    # Breadcrumbs to its category, more articles from it, and the vote (for the script).
    assert 'aria-label="Breadcrumb"' in html
    assert "/chat/help/categories/shipping" in links(html)
    assert "More in Shipping" in html and "/chat/help/articles/shipping-cost" in links(html)
    assert 'data-url="/chat/api/kb/articles/shipping-time/votes" data-locale="en"' in html
    assert '<section class="hc-vote" hidden' in html
    # Its Spanish counterpart is an alternate, and the switcher leads to it.
    assert '<link rel="alternate" hreflang="es" ' \
           'href="/chat/help/articles/shipping-time?locale=es">' in html

    html, _ = await page(client, "/chat/help/articles/shipping-time?locale=es")
    assert '<html lang="es">' in html and "¿Cuánto tarda el envío?" in html
    assert "¿Te ha resultado útil este artículo?" in html and 'data-locale="es"' in html
    assert "<title>¿Cuánto tarda el envío? · Centro de ayuda</title>" in html
    html, _ = await page(client, "/chat/help/articles/returns",
                         **{"Accept-Language": "es-ES"})
    assert "¿Cómo devuelvo un artículo?" in html


async def test_an_article_missing_in_a_locale_shows_in_the_default_one(
        client: TestClient) -> None:
    html, _ = await page(client, "/chat/help/articles/opening-hours?locale=es")
    assert '<html lang="en">' in html and "What are your opening hours?" in html
    assert 'data-locale="en"' in html
    # No Spanish counterpart: the switcher leads to the Spanish home instead.
    assert 'hreflang="es" href' not in html
    assert '<a href="/chat/help/?locale=es" lang="es" hreflang="es">' in html


async def test_an_unknown_article_is_not_found(client: TestClient) -> None:
    for path in ["/chat/help/articles/no-such-entry", "/chat/help/articles/%3Cscript%3E",
                 "/chat/help/articles/no-such-entry?locale=fr"]:
        html, headers = await page(client, path, status=404)
        assert "<h1>Page not found</h1>" in html
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert "<script>" not in html
    html, _ = await page(client, "/chat/help/articles/nothing?locale=es", status=404)
    assert "<h1>Página no encontrada</h1>" in html


async def test_markup_from_the_knowledge_base_renders_inert(client: TestClient) -> None:
    html, _ = await page(client, "/chat/help/articles/xss")
    assert "<script>alert" not in html and "<img src=" not in html and "<i>" not in html
    assert "<title>Is &lt;script&gt;alert(&#39;q&#39;)&lt;/script&gt; a safe question? · " \
           "Help centre</title>" in html
    assert "&lt;script&gt;alert('a')&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert('img')&quot;&gt;" in html
    for target in links(html):
        assert target.startswith(("/", "https://", "#main")), target
    assert "javascript" not in "".join(links(html)).lower()
    assert re.search(r"""src=["']?javascript""", html, re.IGNORECASE) is None
    # Refused links stay as the text they were written as.
    assert "[here](javascript:alert('link'))" in html
    assert "&lt;javascript:alert('auto')&gt;" in html
    assert '<a href="https://example.com/fine">fine link</a>' in html
    assert '<a href="/chat/help/">relative one</a>' in html
    assert '<a href="https://example.com/docs">&lt;i&gt;Docs&lt;/i&gt;</a>' in html
    assert "Security &lt;b&gt;bold&lt;/b&gt;" in html


async def test_search_results_page_works_without_javascript(client: TestClient) -> None:
    html, headers = await page(client, "/chat/help/search?q=how+long+does+shipping+take")
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "<h1>Results for “how long does shipping take”</h1>" in html
    results = re.findall(r'<li>\s*<a href="/chat/help/articles/([^"?]+)">', html)
    assert results[0] == "shipping-time"
    assert "<p>Orders ship within one business day. Tracking Follow" in html
    assert '<p class="hc-topic">Topic: Shipping</p>' in html
    assert 'value="how long does shipping take"' in html  # the box keeps the query

    html, _ = await page(client, "/chat/help/search?q=xyzzy+plugh")
    assert "No articles match “xyzzy plugh”" in html
    html, _ = await page(client, "/chat/help/search")
    assert "Type a question to search the articles." in html
    html, _ = await page(client, "/chat/help/search?q=" + "a" * 201, status=400)
    assert 'role="alert"' in html and "at most 200 characters" in html

    html, _ = await page(client, "/chat/help/search?q=devolver+art%C3%ADculo&locale=es")
    assert "Resultados para «devolver artículo»" in html
    assert "/chat/help/articles/returns?locale=es" in links(html)
    assert "Tema: Devoluciones" in html


async def test_the_query_is_shown_as_text(client: TestClient) -> None:
    html, _ = await page(client, '/chat/help/search?q=%3Cscript%3Ealert(1)%3C/script%3E"')
    assert "<script>alert(1)" not in html
    assert "“&lt;script&gt;alert(1)&lt;/script&gt;&#34;”" in html
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;&#34;"' in html
    html, _ = await page(client, "/chat/help/search?q=injection+test")
    assert "/chat/help/articles/xss" in links(html)
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;a&#39;)" in html
    assert "&lt;script&gt;alert(&#39;q&#39;)" in html  # question and snippet, as text
