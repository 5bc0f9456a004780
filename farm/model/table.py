"""A TOML table that remembers where it came from, so that every error is one line naming the key."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from farm.model.errors import UserError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")  # fullmatch: "default\n" is no name


class Table:
    """A TOML table that remembers where it came from, for one-line errors."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def check_keys(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for key in self.data:
            if key not in allowed:
                raise UserError(f"{self.where}: unknown key {key!r} (expected one of: {', '.join(sorted(allowed))})")

    def get(self, key: str, kind: type, default: Any = None, *, required: bool = False) -> Any:
        if key not in self.data:
            if required:
                raise UserError(f"{self.where}: missing key {key!r}")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise UserError(f"{self.where}: {key!r} must be a {kind.__name__}, not {value!r}")
        return value

    def strings(self, key: str, *, required: bool = False) -> list[str]:
        items = self.get(key, list, [], required=required)
        if not all(isinstance(i, str) for i in items):
            raise UserError(f"{self.where}: {key!r} must be a list of strings")
        return list(items)

    def sub(self, key: str) -> Table:
        return Table(self.get(key, dict, {}), f"{self.where} [{key}]")

    def tables(self, key: str) -> list[Table]:
        """An array of tables ([[key]]), each one checked to be a table."""
        out = []
        for i, raw in enumerate(self.get(key, list, []), 1):
            if not isinstance(raw, dict):
                raise UserError(f"{self.where} [[{key}]] #{i}: must be a table, not {raw!r}")
            out.append(Table(raw, f"{self.where} [[{key}]] #{i}"))
        return out

    def positive(self, key: str, kind: type, default: float) -> Any:
        """A finite number > 0 (a count, a timeout)."""
        value = self.get(key, kind, default)
        if not math.isfinite(value) or value <= 0:
            raise UserError(f"{self.where}: {key!r} must be a number above 0, not {value!r}")
        return value


def check_name(where: str, what: str, name: str) -> str:
    if not NAME.fullmatch(name) or ".." in name:
        raise UserError(f"{where}: {what} {name!r}: use up to 64 letters, digits, '_', '.', '+', '-' (it names files)")
    return name
