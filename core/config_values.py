"""A setting's value made into the type its default has: text from the environment parsed
(``from_text``), any value checked (``typed``), a choice looked up in its enum (``choice``) —
each refused with a ``ConfigError`` that names the setting."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

from core.action import Mode
from core.errors import ConfigError


def choice(choices: type[StrEnum], key: str, value: Any, where: str) -> StrEnum:
    section = where.strip("[]")
    try:
        return choices(value)
    except ValueError:
        names = ", ".join(c.value for c in choices)
        if choices is Mode:
            message = f"decide mode {value!r} is not one of {names}"
        else:
            message = f"{section}.{key} must be one of {names}, not {value!r}"
        raise ConfigError(message, key=f"{section}.{key}") from None


def from_text(cls: type[Any], key: str, raw: Any, where: str) -> Any:
    """Environment values arrive as text: turn them into the type the setting has."""
    if not isinstance(raw, str):
        return raw
    default = getattr(cls(), key, None)
    text = raw.strip()
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: {key} must be true or false, not {raw!r}", key=key)
    if isinstance(default, tuple):
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if isinstance(default, int | float) or (default is None and key.startswith("max_")):
        if text.lower() == "none":
            return None
        try:
            return float(text) if isinstance(default, float) else int(text)
        except ValueError:
            raise ConfigError(f"{where}: {key} must be a number, not {raw!r}", key=key) from None
    return raw


def typed(cls: type[Any], key: str, value: Any, where: str) -> Any:
    default = getattr(cls(), key)
    if isinstance(default, StrEnum):
        return choice(type(default), key, value, where)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: {key} must be true or false, not {value!r}", key=key)
    if isinstance(default, float) and type(value) in (int, float):  # a bool is no number here
        if not 0 < value < math.inf:  # NaN fails too
            raise ConfigError(f"{where}: {key} must be positive and finite, not {value!r}", key=key)
        return float(value)
    if isinstance(default, int) and isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ConfigError(f"{where}: {key} must not be negative, not {value!r}", key=key)
        return value
    if (default is None or isinstance(default, str)) and (value is None or isinstance(value, str)):
        return value
    strings = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    if isinstance(default, tuple) and strings:
        return tuple(value)
    raise ConfigError(f"{where}: {key} has the wrong type ({value!r})", key=key)
