"""bot.yaml: the built-in flow, overrides, and errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatkit.bot import load_bot_config
from chatkit.bot.config import DEFAULT_FLOW
from chatkit.bot.texts import TEXTS
from chatkit.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bot.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_built_in_flow() -> None:
    config = load_bot_config()
    assert load_bot_config(DEFAULT_FLOW) == config
    assert [(item.id, item.action, item.team) for item in config.menu] == [
        ("billing", "handoff", "billing"), ("support", "handoff", "support"),
        ("sales", "handoff", "sales"), ("question", "faq", None)]
    assert config.menu[1].label == {"en": "Technical support", "es": "Soporte técnico"}
    assert (config.handoff.after_misses, config.handoff.after_noes) == (2, 2)
    assert config.handoff.phrases[0].text == "cancel my account"
    assert config.handoff.phrases[0].team == "billing"


def test_every_text_is_in_english_and_spanish() -> None:
    assert set(TEXTS["en"]) == set(TEXTS["es"])
    for locale, table in TEXTS.items():
        for key, text in table.items():
            assert ("{team}" in text) == ("{team}" in TEXTS["en"][key]), (locale, key)


def test_texts_are_overridden_per_locale_and_fall_back(tmp_path: Path) -> None:
    config = load_bot_config(write(tmp_path, """
locale: es
name: Acme
texts:
  es: {greeting: "¡Hola desde Acme!", handoff_team: "Te paso con {team}."}
  pt-br: {greeting: "Olá!"}
"""))
    assert config.locale == "es" and config.name == {"*": "Acme"}
    assert config.text("greeting", "es-MX") == "¡Hola desde Acme!"
    assert config.text("handoff_team", "es", team="Ventas") == "Te paso con Ventas."
    assert config.text("greeting", "pt-BR") == "Olá!"
    # Not overridden in pt-BR: the default locale's (es), from the catalogue.
    assert config.text("feedback", "pt-BR") == "¿Te ha servido?"
    assert config.text("feedback", "en") == "Did this help?"
    assert config.resolve_locale("pt_br") == "pt-BR" and config.resolve_locale(None) == "es"


def test_an_empty_file_is_a_flow_without_a_menu(tmp_path: Path) -> None:
    config = load_bot_config(write(tmp_path, "# nothing yet\n"))
    assert config.menu == [] and config.locale == "en"


@pytest.mark.parametrize(("yaml_text", "expected"), [
    ("menu:\n  - {id: billing, label: Billing, action: transfer}\n",
     "menu[0].action: Input should be 'handoff' or 'faq'"),
    ("menu:\n  - {id: q, label: Ask, action: faq, team: sales}\n",
     "menu[0]: team goes with action: handoff"),
    ("menu:\n  - {id: a, label: A, action: faq}\n  - {id: a, label: B, action: faq}\n",
     "menu: the ids must be unique"),
    ("menu:\n  - {id: a, label: {es: Ventas}, action: faq}\n",
     "menu: [0].label needs a label in the default locale 'en'"),
    ("menu:\n  - {id: Billing Team, label: B, action: faq}\n", "menu[0].id: String should"),
    ("menu:\n  - {id: b, label: B, action: faq, colour: red}\n",
     "menu[0].colour: Extra inputs are not permitted"),
    ("texts:\n  en: {greting: Hi}\n", "texts: en.greting: no such text (known: ask_question"),
    ("texts:\n  en: {greeting: 'Hi {name}'}\n",
     "texts: en.greeting: unknown placeholder {name} (allowed: none)"),
    ("texts:\n  en: {handoff_team: 'To {teem}'}\n",
     "texts: en.handoff_team: unknown placeholder {teem} (allowed: {team})"),
    ("texts:\n  english: {greeting: Hi}\n", "texts.english: 'english' is not a locale"),
    ("locale: 123\n", "locale: Input should be a valid string"),
    ("handoff: {after_misses: 0}\n", "handoff.after_misses: Input should be greater than"),
    ("handoff: {phrases: [{team: billing}]}\n", "handoff.phrases[0].text: Field required"),
    ("- just\n- a list\n", "the bot flow must be a mapping"),
    ("menu: [unclosed\n", "cannot read the bot flow"),
])
def test_errors_name_the_file_and_the_field(tmp_path: Path, yaml_text: str,
                                            expected: str) -> None:
    path = write(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as raised:
        load_bot_config(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert expected in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such bot flow file"):
        load_bot_config(tmp_path / "nope.yaml")
