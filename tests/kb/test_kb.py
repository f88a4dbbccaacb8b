"""The matcher's behaviour: paraphrases, typos, word order, synonyms, locales, decisions."""

from __future__ import annotations

import pytest

from chatkit.kb import DecisionKind, KBEntry, KnowledgeBase, MatcherConfig, load_kb


def entry(id: str, question: str, *alternates: str, locale: str = "en") -> KBEntry:
    return KBEntry(id=id, question=question, alternates=alternates, answer=f"answer {id}",
                   locale=locale)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase([
        entry("shipping", "How long does shipping take?", "When will my order arrive?",
              "delivery time"),
        entry("returns", "How do I return an item?", "Can I send something back?",
              "return policy"),
        entry("password", "How do I reset my password?", "I forgot my password",
              "can't log in"),
        entry("cancel-booking", "How do I cancel my booking?", "cancel a booking I made"),
        entry("cancel-subscription", "How do I cancel my subscription?",
              "cancel my membership"),
        entry("envio", "¿Cuánto tarda el envío?", "plazo de entrega", locale="es"),
    ], config=MatcherConfig(synonyms={"en": [["password", "passcode", "pin"]]}))


def top(kb: KnowledgeBase, text: str, locale: str | None = None) -> str | None:
    matches = kb.search(text, limit=3, locale=locale)
    return matches[0].entry.id if matches else None


def test_demo_kb_answers_paraphrases_and_declines_the_unrelated() -> None:
    kb = load_kb()
    for text, expected in [("how long does delivery take?", "shipping-time"),
                           ("i forgot my password", "reset-password")]:
        decision = kb.answer(text)
        assert decision.kind is DecisionKind.ANSWER and decision.best is not None
        assert decision.best.entry.id == expected
    # Less sure, but the right entry is still the best guess.
    assert kb.search("I want to return my boots", limit=1)[0].entry.id == "returns"
    for text in ("what is the capital of mongolia", "tell me a joke about penguins"):
        assert kb.answer(text).kind is DecisionKind.NONE
    assert kb.search("") == [] and kb.search("?!") == []


def test_typos_word_order_accents_and_case(kb: KnowledgeBase) -> None:
    assert top(kb, "how long dose shiping tkae") == "shipping"
    assert top(kb, "my password, i forgot it") == "password"
    assert top(kb, "RETURN POLICY") == "returns"
    assert top(kb, "cuanto tarda el envio", locale="es") == "envio"
    assert top(kb, "CUÁNTO TARDA EL ENVÍO", locale="es-MX") == "envio"


def test_contractions_and_synonyms(kb: KnowledgeBase) -> None:
    assert top(kb, "I cannot log in") == "password"
    assert top(kb, "I forgot my passcode") == "password"
    assert top(kb, "reset my PIN") == "password"


def test_the_words_that_differ_decide(kb: KnowledgeBase) -> None:
    assert top(kb, "please cancel my subscription") == "cancel-subscription"
    assert top(kb, "cancel the booking I made") == "cancel-booking"


def test_confidence_is_between_0_and_1_and_ranked(kb: KnowledgeBase) -> None:
    matches = kb.search("how do I cancel", limit=5)
    assert matches and all(0.0 <= m.confidence <= 1.0 for m in matches)
    assert [m.confidence for m in matches] == sorted((m.confidence for m in matches),
                                                     reverse=True)
    assert len({m.entry.id for m in matches}) == len(matches)
    exact = kb.search("How do I reset my password?", limit=1)[0]
    assert exact.confidence > 0.9 and exact.phrasing == "How do I reset my password?"


def test_clarify_when_two_entries_are_close(kb: KnowledgeBase) -> None:
    decision = kb.answer("how do I cancel")
    assert decision.kind is DecisionKind.CLARIFY
    assert {m.entry.id for m in decision.matches} >= {"cancel-booking", "cancel-subscription"}


def test_locales_are_separate(kb: KnowledgeBase) -> None:
    assert kb.locales == {"en", "es"}
    assert kb.resolve_locale("es-AR") == "es"
    assert kb.resolve_locale("de") == "en" and kb.resolve_locale("not a locale!") == "en"
    assert top(kb, "plazo de entrega", locale="es") == "envio"
    assert top(kb, "plazo de entrega", locale="en") != "envio"
    assert [e.id for e in kb.entries_in("es")] == ["envio"]


def test_limit_is_checked(kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError):
        kb.search("x", limit=0)


def test_search_as_you_type_takes_the_last_word_as_unfinished(kb: KnowledgeBase) -> None:
    prefixed = kb.search("my passw", limit=1, prefix=True)
    assert prefixed[0].entry.id == "password"
    plain = kb.search("my passw", limit=1)
    assert prefixed[0].confidence > plain[0].confidence + 0.1
    # A finished word the KB knows is left alone.
    assert kb.search("return policy", limit=1, prefix=True)[0].entry.id == "returns"


def test_meaning_cells_partition_the_entries_and_find_near_ones() -> None:
    import numpy as np

    from chatkit.kb.matcher import PROBED_CELLS, _Cells, _unit_rows

    rng = np.random.default_rng(3)
    # 40 topics, 100 vectors each scattered around the topic's direction.
    topics = _unit_rows(rng.normal(size=(40, 32)))
    rows = _unit_rows(np.repeat(topics, 100, axis=0) + 0.15 * rng.normal(size=(4000, 32)))
    cells = _Cells.build(rows)
    assert len(cells.centres) == 63 and cells.starts[-1] == len(rows)
    assert sorted(cells.members.tolist()) == list(range(len(rows)))  # each row in one cell
    assert len(cells.centres) > PROBED_CELLS  # a lookup reads a few cells, not all
    hits = 0
    for i in rng.choice(len(rows), size=200, replace=False).tolist():
        query = _unit_rows(rows[i] + 0.05 * rng.normal(size=32))
        exact = set(np.argsort(-(rows @ query))[:10].tolist())
        found = set(cells.top(query, 10).tolist())
        assert len(found) == 10
        hits += len(found & exact)
    assert hits / 2000 > 0.9  # recall of the exact ten nearest


def test_a_big_kb_finds_by_meaning_through_the_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    from chatkit.kb import matcher

    monkeypatch.setattr(matcher, "MEANING_SCAN_LIMIT", 50)
    filler = [entry(f"store-{n}", f"What are the opening hours of store number {n}?")
              for n in range(200)]
    kb = KnowledgeBase([
        entry("lost-card", "How do I report a lost card?", "I lost my credit card"),
        entry("shipping", "How long does shipping take?", "When will my order arrive?"),
        *filler])
    found = kb.matcher("en")
    assert found is not None and found._cells is not None
    # No word in common with any entry: only the meaning index can find these.
    assert top(kb, "stolen wallet and visa") == "lost-card"
    assert top(kb, "parcel delivery days") == "shipping"


def test_big_kbs_sum_postings_in_a_scratch_array_with_the_same_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from chatkit.kb import matcher

    rng = np.random.default_rng(5)
    rows = np.repeat(np.arange(3000), 5)
    features = rng.integers(0, 60, size=len(rows))  # about 250 postings per feature
    index, _ = matcher._Rows.build(rows, features, rng.random(len(rows)), 3000)
    queries = [(np.sort(rng.choice(60, size=size, replace=False)), rng.random(size))
               for size in (1, 3, 8) for _ in range(5)]
    expected = [sorted(index.top(ids, weights, 10).tolist()) for ids, weights in queries]
    assert all(len(found) == 10 for found in expected)
    monkeypatch.setattr(matcher, "DENSE_ROWS", 0)  # as in a KB of more than 65,536 rows
    for _ in range(2):  # the scratch array is clean again after each lookup
        assert [sorted(index.top(ids, weights, 10).tolist())
                for ids, weights in queries] == expected
    assert not index._scratch.sums.any()


@pytest.mark.parametrize("path", ["dense", "dense, many rows", "scratch"])
def test_rows_top_clear_cut_and_ties(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Whichever path sums the postings, the best rows are the exact best when the k-th sum
    beats the (k+1)-th, and k rows of the best sums when they tie."""
    import numpy as np

    from chatkit.kb import matcher

    if path != "dense":
        monkeypatch.setattr(matcher, "FEW_ROWS", 0)
    if path == "scratch":
        monkeypatch.setattr(matcher, "DENSE_ROWS", 0)
    rng = np.random.default_rng(9)
    rows = np.repeat(np.arange(3000), 5)
    features = rng.integers(0, 60, size=len(rows))
    index, _ = matcher._Rows.build(rows, features, rng.random(len(rows)), 3000)
    every_row = np.arange(3000)
    for size in (1, 3, 8):
        for _ in range(5):
            ids = np.sort(rng.choice(60, size=size, replace=False))
            weights = rng.random(size)
            query = np.zeros(60)
            query[ids] = weights
            sums = index.dot(every_row, query)
            best = np.argsort(-sums, kind="stable")
            assert sums[best[9]] > sums[best[10]]  # random weights: no tie at the 10th
            assert sorted(index.top(ids, weights, 10).tolist()) == sorted(best[:10].tolist())
    # One feature per row, all of the same weight: the 50 rows of a feature tie.
    tied, _ = matcher._Rows.build(np.arange(3000), np.arange(3000) % 60, np.ones(3000), 3000)
    found = tied.top(np.array([7]), np.array([0.5]), 10)
    assert len(set(found.tolist())) == 10 and all(row % 60 == 7 for row in found.tolist())
