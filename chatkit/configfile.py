"""Reading a YAML settings file (bot.yaml, routing.yaml, matcher.yaml, triggers.yaml) into
its pydantic model, with errors that name the file and each field at fault."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from chatkit.errors import ConfigError, config_problems

M = TypeVar("M", bound=BaseModel)


def load_config_file(path: Path, model: type[M], *, what: str, missing: str | None,
                     shape: str | None = None) -> M:
    """`model` validated from the YAML mapping in `path`; an empty file gives its defaults.
    `what` names the file in errors ("cannot read the {what}"); `missing` is the error for a
    file that does not exist, or None to take the defaults; `shape` hints at the expected keys
    when the file holds something other than a mapping. Blocking: call it in a thread from
    async code."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing is None:
            return model()
        raise ConfigError(f"{path}: {missing}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc}") from exc
    if shape is not None and raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: the {what} must be a mapping ({shape})")
    try:
        return model.model_validate(raw or {})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {config_problems(exc)}") from exc
