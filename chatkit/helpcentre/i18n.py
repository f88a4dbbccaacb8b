"""The help centre's own words in English and Spanish, and which locale a request gets.

The articles come in the knowledge base's locales; the words around them (headings, buttons,
messages) come from this catalogue, by language, in English when it has no such language."""

from __future__ import annotations

from dataclasses import dataclass

from chatkit.kb import KnowledgeBase

MAX_LANGUAGES = 20  # of an Accept-Language header; browsers send a handful


@dataclass(frozen=True, slots=True)
class UIStrings:
    """Every string the help centre shows. A field per string, so a language that misses one
    fails type checking instead of showing a blank. `{name}` marks a value filled in."""

    help_centre: str
    intro: str
    skip_to_content: str
    language: str
    search_label: str
    search_button: str
    search_title: str
    search_prompt: str
    results_for: str        # {query}
    no_results: str         # {query}
    query_too_long: str     # {max}
    browse_topics: str
    topic: str
    general: str
    no_articles: str
    breadcrumb: str
    related_links: str
    more_in: str            # {category}
    not_found_title: str
    not_found_text: str
    suggestions: str
    suggestions_count: str  # {count}
    no_suggestions: str
    vote_question: str
    vote_yes: str
    vote_no: str
    vote_thanks: str
    vote_already: str
    vote_failed: str
    vote_counts: str        # {helpful} {not_helpful}


ENGLISH = UIStrings(
    help_centre="Help centre",
    intro="Answers to common questions. Search, or browse the topics below.",
    skip_to_content="Skip to content",
    language="Language",
    search_label="Search the help centre",
    search_button="Search",
    search_title="Search",
    search_prompt="Type a question to search the articles.",
    results_for="Results for “{query}”",
    no_results="No articles match “{query}”. Try other words, or browse the topics.",
    query_too_long="Your search is too long: use at most {max} characters.",
    browse_topics="Browse all topics",
    topic="Topic",
    general="General",
    no_articles="There are no articles yet.",
    breadcrumb="Breadcrumb",
    related_links="Related links",
    more_in="More in {category}",
    not_found_title="Page not found",
    not_found_text="There is nothing at this address. It may have been moved or removed.",
    suggestions="Suggested articles",
    suggestions_count="Suggestions: {count}. Use the up and down arrow keys to choose one.",
    no_suggestions="No suggestions",
    vote_question="Was this article helpful?",
    vote_yes="Yes",
    vote_no="No",
    vote_thanks="Thank you for your feedback.",
    vote_already="You have already voted on this article.",
    vote_failed="Sorry, your vote could not be saved. Please try again.",
    vote_counts="Helpful: {helpful} · Not helpful: {not_helpful}",
)

SPANISH = UIStrings(
    help_centre="Centro de ayuda",
    intro="Respuestas a las preguntas frecuentes. Busca o explora los temas.",
    skip_to_content="Saltar al contenido",
    language="Idioma",
    search_label="Buscar en el centro de ayuda",
    search_button="Buscar",
    search_title="Búsqueda",
    search_prompt="Escribe una pregunta para buscar en los artículos.",
    results_for="Resultados para «{query}»",
    no_results="Ningún artículo coincide con «{query}». Prueba con otras palabras o explora "
               "los temas.",
    query_too_long="La búsqueda es demasiado larga: usa como máximo {max} caracteres.",
    browse_topics="Ver todos los temas",
    topic="Tema",
    general="General",
    no_articles="Todavía no hay artículos.",
    breadcrumb="Ruta de navegación",
    related_links="Enlaces relacionados",
    more_in="Más en {category}",
    not_found_title="Página no encontrada",
    not_found_text="No hay nada en esta dirección. Puede que se haya movido o eliminado.",
    suggestions="Artículos sugeridos",
    suggestions_count="Sugerencias: {count}. Usa las flechas arriba y abajo para elegir una.",
    no_suggestions="Sin sugerencias",
    vote_question="¿Te ha resultado útil este artículo?",
    vote_yes="Sí",
    vote_no="No",
    vote_thanks="Gracias por tu opinión.",
    vote_already="Ya has votado este artículo.",
    vote_failed="Lo sentimos, no se pudo guardar tu voto. Inténtalo de nuevo.",
    vote_counts="Útil: {helpful} · No útil: {not_helpful}",
)

CATALOGUE = {"en": ENGLISH, "es": SPANISH}

# How a language calls itself, for the language switcher; other tags are shown as they are.
LANGUAGE_NAMES = {
    "de": "Deutsch", "en": "English", "es": "Español", "fr": "Français", "it": "Italiano",
    "nl": "Nederlands", "pl": "Polski", "pt": "Português", "sv": "Svenska",
}


def language_of(locale: str) -> str:
    """"pt-BR" (or "pt_BR") -> "pt"."""
    return locale.replace("_", "-").split("-")[0].lower()


def ui_strings(locale: str) -> UIStrings:
    return CATALOGUE.get(language_of(locale), ENGLISH)


def language_name(locale: str) -> str:
    name = LANGUAGE_NAMES.get(language_of(locale))
    if name is None:
        return locale
    region = locale.split("-")[1:]
    return f"{name} ({'-'.join(region)})" if region else name


def preferred_languages(header: str) -> list[str]:
    """The tags of an Accept-Language header, most wanted first; `*` and q=0 left out.

    >>> preferred_languages("en;q=0.5, es-MX, fr;q=0")
    ['es-MX', 'en']
    """
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:MAX_LANGUAGES]):
        tag, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


@dataclass(frozen=True, slots=True)
class LocaleChoice:
    locale: str     # a locale of the knowledge base (or its default)
    explicit: bool  # asked for by ?locale=, so links carry it on


def choose_locale(kb: KnowledgeBase, requested: str | None,
                  accept_language: str | None) -> LocaleChoice:
    """`?locale=` first; then the browser's languages in its order, the first one the
    knowledge base has; then the knowledge base's default."""
    if requested:
        return LocaleChoice(kb.resolve_locale(requested), explicit=True)
    for tag in preferred_languages(accept_language or ""):
        locale = kb.resolve_locale(tag)
        # resolve_locale falls back to the default for a language it lacks: not a match.
        if language_of(locale) == language_of(tag):
            return LocaleChoice(locale, explicit=False)
    return LocaleChoice(kb.default_locale, explicit=False)
