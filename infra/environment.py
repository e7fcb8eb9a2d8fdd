"""The one way both sides read their settings from the environment.

`pets_project/settings.py` and `worker/config.py` read every variable by name through
`Environment`, once, at start-up. A value that cannot be used is an error that names the variable
and says what it must be (`TASK_MAX_ATTEMPTS must be a whole number, not 'five'`), on either side.
A blank value counts as unset, so `VAR=` in an env file means "use the default". Every name read
here must be documented in `.env.example`; tests/unit/test_environment.py finds them in the code.

    env = Environment()
    env.integer("TASK_MAX_ATTEMPTS", 5, minimum=1)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


def unset_if_blank(name: str) -> None:
    """Remove `name` from the environment when it is blank, for a library that takes `NAME=` as a
    value: prometheus-client, given a blank PROMETHEUS_MULTIPROC_DIR, writes its files into the
    working directory."""
    if name in os.environ and not os.environ[name].strip():
        del os.environ[name]


class ConfigError(ValueError):
    """A variable holds a value that cannot be used (the message names it)."""


class Environment:
    def __init__(self, source: Mapping[str, str] | None = None, error: type[Exception] = ConfigError) -> None:
        self.source = os.environ if source is None else source
        self.error = error  # Django's settings raise ImproperlyConfigured

    def raw(self, name: str) -> str | None:
        """The stripped value, or None when unset or blank."""
        value = self.source.get(name)
        return value.strip() if value is not None and value.strip() else None

    def text(self, name: str, default: str = "") -> str:
        value = self.raw(name)
        return default if value is None else value

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            return default
        return self._at_least(name, self._convert(name, value, int, "a whole number"), minimum)

    def number(self, name: str, default: float, *, minimum: float | None = None) -> float:
        value = self.raw(name)
        if value is None:
            return default
        number = self._convert(name, value, float, "a number")
        if not math.isfinite(number):
            raise self.error(f"{name} must be a finite number, not {value!r}")
        return self._at_least(name, number, minimum)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in TRUE:
            return True
        if value.lower() in FALSE:
            return False
        raise self.error(f"{name} must be true or false, not {value!r}")

    def items(self, name: str, default: str = "") -> list[str]:
        """A comma-separated list; blank items are dropped."""
        return [item.strip() for item in self.text(name, default).split(",") if item.strip()]

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in choices:
            raise self.error(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def _convert(self, name: str, value: str, convert: Callable[[str], T], what: str) -> T:
        try:
            return convert(value)
        except ValueError:
            raise self.error(f"{name} must be {what}, not {value!r}") from None

    def _at_least(self, name: str, number: int | float, minimum: int | float | None):  # noqa: ANN202
        if minimum is not None and number < minimum:
            raise self.error(f"{name} must be at least {minimum}, not {number}")
        return number
