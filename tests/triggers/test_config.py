"""triggers.yaml: validated, with errors naming the file and the field; what the widget
gets of it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatkit.errors import ConfigError
from chatkit.triggers import glob_to_regex, load_triggers

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "triggers.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "triggers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_is_no_triggers() -> None:
    assert load_triggers(None).triggers == []


def test_the_example_loads_and_is_served_per_locale() -> None:
    config = load_triggers(EXAMPLE)
    assert [t.id for t in config.triggers] == ["pricing-help", "checkout-returning",
                                               "welcome-back"]
    english, spanish = config.for_widget("en-GB"), config.for_widget("es")
    assert english[0] == {
        "id": "pricing-help", "url": {"on": "path", "regex": glob_to_regex("/pricing*")},
        "seconds_on_page": 30, "min_visits": 1, "max_visits": None,
        "message": "Questions about our plans? Ask us here.", "open": True}
    assert spanish[0]["message"].startswith("¿Preguntas")
    assert english[1]["url"] == {"on": "href", "regex": "/(cart|checkout)(/|$)"}
    assert (english[1]["min_visits"], english[1]["open"]) == (3, False)
    assert (english[2]["url"], english[2]["min_visits"]) == (None, 2)
    # An unknown locale gets the default one's.
    assert config.for_widget("de")[0]["message"] == english[0]["message"]


def test_globs_match_the_whole_path() -> None:
    pattern = re.compile(glob_to_regex("/pricing*"))
    assert pattern.match("/pricing") and pattern.match("/pricing/team")
    assert not pattern.match("/en/pricing")
    docs = re.compile(glob_to_regex("/docs/*/install.html"))
    assert docs.match("/docs/v2/install.html") and not docs.match("/docs/v2/installXhtml")


def test_first_visits_only() -> None:
    config = load_triggers(None).model_validate({"triggers": [
        {"id": "hello", "returning": False, "message": "Hi, new here?"}]})
    served = config.for_widget(None)[0]
    assert (served["min_visits"], served["max_visits"], served["message"]) == (
        1, 1, "Hi, new here?")


@pytest.mark.parametrize(("text", "problem"), [
    ("triggers: [{id: a, url: pricing, message: Hi}]", "triggers[0].url: a path glob starts"),
    ("triggers: [{id: a, url_regex: '(unclosed', message: Hi}]",
     "triggers[0].url_regex: not a regular expression"),
    ("triggers: [{id: a, url_regex: '(?P<x>a)', message: Hi}]",
     "triggers[0].url_regex: uses Python-only syntax"),
    ("triggers: [{id: a, url_regex: '(?i)shop', message: Hi}]",
     "triggers[0].url_regex: uses Python-only syntax"),
    ("triggers: [{id: a, url: /a, url_regex: b, message: Hi}]",
     "give url (a glob) or url_regex, not both"),
    ("triggers: [{id: a, seconds_on_page: -1, message: Hi}]", "triggers[0].seconds_on_page"),
    ("triggers: [{id: a, seconds_on_page: '5', message: Hi}]", "triggers[0].seconds_on_page"),
    ("triggers: [{id: a, min_visits: 0, message: Hi}]", "triggers[0].min_visits"),
    ("triggers: [{id: a, returning: false, min_visits: 3, message: Hi}]",
     "returning: false (first visits) cannot go with min_visits > 1"),
    ("triggers: [{id: a}]", "triggers[0].message: Field required"),
    ("triggers: [{id: a, message: '   '}]", "triggers[0].message: a message must not be"),
    ("triggers: [{id: a, message: {xx-not-a-locale!: Hi}}]", "triggers[0].message"),
    ("triggers: [{id: 'a b', message: Hi}]", "triggers[0].id"),
    ("triggers: [{id: a, message: Hi}, {id: a, message: Ho}]", "the ids must be unique"),
    ("triggers: [{id: a, message: Hi, colour: red}]", "triggers[0].colour: Extra inputs"),
    ("- just a list", "must be a mapping"),
])
def test_errors_name_the_file_and_the_field(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as refused:
        load_triggers(path)
    assert str(path) in refused.value.message
    assert problem in refused.value.message, refused.value.message


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such triggers file"):
        load_triggers(tmp_path / "nope.yaml")
