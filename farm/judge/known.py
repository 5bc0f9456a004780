"""What a known issue in expectations.toml applies to, and until when: scope, link, expiry, console reports.

Pure. A known issue that cannot rot (BPF CI's denylist, SQUAD's KnownIssue):
it says why (reason) and where it is tracked (url), names where it applies
(Scope: cells, arches, runtimes, bases, accel; fnmatch patterns, empty = any),
and expires on a date: an expired entry is bad input (UserError naming the
file and the entry), so nobody forgets one. A [[console_ignore]] entry is a
kernel report known to come from elsewhere (a regex over the report's lines);
it stays in the JUnit, as an xfail saying why, never as a pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from typing import Any

from farm.model.errors import UserError
from farm.model.matrix import Cell, Runtime

SCOPE_KEYS = ("cells", "arches", "runtimes", "bases", "accel")
LINK_KEYS = frozenset({"reason", "url", "expires"})
CONSOLE_KEYS = frozenset({"regex", "reason", "url", "expires", *SCOPE_KEYS})


@dataclass(frozen=True)
class Where:
    """Where a result was seen: what a Scope is matched against."""

    cell: str  # "base-arm64-thp-on"
    arch: str
    runtime: str
    base: str  # the point release ("v6.12.117")
    line: str = ""  # the stable line the matrix named ("v6.12")
    accel: str = ""  # kvm, tcg, icount: what the boot used

    @classmethod
    def of(cls, cell: Cell, runtime: Runtime, accel: str) -> Where:
        """One boot of a cell's runtime variant."""
        src = cell.source
        return cls(cell.name, cell.arch.name, runtime.name, src.base, src.line, accel)


@dataclass(frozen=True)
class Scope:
    """fnmatch patterns per axis; an empty axis matches anything."""

    cells: tuple[str, ...] = ()
    arches: tuple[str, ...] = ()
    runtimes: tuple[str, ...] = ()
    bases: tuple[str, ...] = ()
    accel: tuple[str, ...] = ()

    def applies(self, where: Where) -> bool:
        def any_of(patterns: tuple[str, ...], *values: str) -> bool:
            return not patterns or any(fnmatchcase(v, p) for p in patterns for v in values if v)

        return (
            any_of(self.cells, where.cell)
            and any_of(self.arches, where.arch)
            and any_of(self.runtimes, where.runtime)
            and any_of(self.bases, where.base, where.line)
            and any_of(self.accel, where.accel)
        )


ANYWHERE = Scope()


@dataclass(frozen=True)
class ConsoleIgnore:
    """One [[console_ignore]] entry: a kernel report that is not the kernel under test's fault."""

    regex: re.Pattern[str]
    reason: str
    url: str = ""
    expires: date | None = None
    scope: Scope = ANYWHERE

    def matches(self, excerpt: str, where: Where | None) -> bool:
        return (where is None or self.scope.applies(where)) and self.regex.search(excerpt) is not None

    def why(self) -> str:
        return f"known console report: {self.reason}" + (f" ({self.url})" if self.url else "")


def scope(where: str, entry: Mapping[str, Any]) -> Scope:
    """The entry's scope keys, each a string or an array of strings."""
    found: dict[str, tuple[str, ...]] = {}
    for key in SCOPE_KEYS:
        value = entry.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise UserError(f"{where}: {key!r} must be a pattern or an array of patterns")
        found[key] = tuple(value)
    return Scope(**found)


def url(where: str, entry: Mapping[str, Any]) -> str:
    value = entry.get("url", "")
    if not isinstance(value, str) or (value and not re.match(r"[a-z][a-z0-9+.-]*:\S+$", value)):
        raise UserError(f"{where}: 'url' must be a link (scheme:...), not {value!r}")
    return value


def expires(where: str, entry: Mapping[str, Any], today: date) -> date | None:
    """The entry's expiry; UserError when it is not a date or has passed."""
    value = entry.get("expires")
    if value is None:
        return None
    if not isinstance(value, date) or hasattr(value, "hour"):
        raise UserError(f"{where}: 'expires' must be a TOML date (expires = 2027-03-01), not {value!r}")
    if value < today:
        raise UserError(f"{where}: expired on {value.isoformat()}: check it again, then renew or remove it")
    return value


def tables(where: str, name: str, entries: Any, keys: frozenset[str]) -> list[tuple[str, dict[str, Any]]]:
    """The [[name]] array of tables, each with where it stands ("FILE: [[name]] #N") and only keys among keys."""
    if not isinstance(entries, list):
        raise UserError(f"{where}: {name!r} must be an array of tables ([[{name}]])")
    checked = []
    for n, entry in enumerate(entries, start=1):
        at = f"{where}: [[{name}]] #{n}"
        if not isinstance(entry, dict):
            raise UserError(f"{at}: must be a table")
        for key in sorted(entry):
            if key not in keys:
                raise UserError(f"{at}: unknown key {key!r}")
        checked.append((at, entry))
    return checked


def console_ignores(where: str, entries: Any, today: date) -> tuple[ConsoleIgnore, ...]:
    """The [[console_ignore]] tables: a regex, a reason, and optionally url, expires and a scope."""
    return tuple(_ignore(at, e, today) for at, e in tables(where, "console_ignore", entries, CONSOLE_KEYS))


def _ignore(where: str, entry: dict[str, Any], today: date) -> ConsoleIgnore:
    for key in ("regex", "reason"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise UserError(f"{where}: {key!r} must be a non-empty string")
    try:
        regex = re.compile(entry["regex"])
    except re.error as e:
        raise UserError(f"{where}: 'regex' {entry['regex']!r}: {e}") from None
    where = f"{where} (regex {entry['regex']!r})"
    return ConsoleIgnore(
        regex, entry["reason"].strip(), url(where, entry), expires(where, entry, today), scope(where, entry)
    )


def ignored(excerpt: str, ignores: Sequence[ConsoleIgnore], where: Where | None) -> ConsoleIgnore | None:
    """The first entry that explains this kernel report."""
    return next((i for i in ignores if i.matches(excerpt, where)), None)
