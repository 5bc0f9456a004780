"""Which of the series' added lines ran (pure): gcov's JSON and the series' diff, intersected.

An added line (farm.report.diff) at the series' tip is, in this order:
  EXECUTED     gcov counted it at least once
  EXCEPTED     the reviewed exceptions list it (testcases/coverage-exceptions.toml): no test can reach it
  MISSED       gcov knows it as code, and it never ran
  NOT_CODE     its file has gcov data but the line has none (a comment, a declaration, a brace)
  NO_DATA      its file has no gcov data at all: not built for this arch, or a header nothing profiled inlines
  REPLACED     a later patch of the series removed or rewrote it
Only kernel sources count (.c and .h outside tools/ and Documentation/). The rate is
EXECUTED / (EXECUTED + MISSED).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from farm.model.errors import UserError
from farm.report.diff import Added, Patch


class Kind(Enum):
    EXECUTED = "executed"
    EXCEPTED = "excepted"
    MISSED = "missed"
    NOT_CODE = "not code"
    NO_DATA = "no data"
    REPLACED = "replaced"


@dataclass(frozen=True)
class Counted:
    """gcov's word on one line of one file (merged over every object that holds it)."""

    count: int
    function: str


# file (tree-relative) -> line -> Counted
Lines = dict[str, dict[int, Counted]]


@dataclass(frozen=True)
class Exception_:
    file: str
    function: str  # "" : every line of the file
    why: str

    def covers(self, file: str, function: str) -> bool:
        return self.file == file and self.function in ("", function)


@dataclass(frozen=True)
class Line:
    """One added line, judged."""

    patch: int
    added: Added
    kind: Kind
    function: str
    count: int = 0
    why: str = ""  # the exception's reason, for EXCEPTED (and an EXECUTED line an exception names)


@dataclass(frozen=True)
class Tally:
    executed: int = 0
    missed: int = 0
    excepted: int = 0
    no_data: int = 0

    @property
    def executable(self) -> int:
        return self.executed + self.missed

    @property
    def percent(self) -> float | None:
        return 100.0 * self.executed / self.executable if self.executable else None

    def text(self) -> str:
        pct = self.percent
        return f"{self.executed}/{self.executable}" + ("" if pct is None else f" ({pct:.1f}%)")


@dataclass(frozen=True)
class Coverage:
    patches: tuple[Patch, ...]
    lines: tuple[Line, ...]  # every added line of kernel sources, in series order

    def tally(self, patch: int | None = None, prefix: str = "") -> Tally:
        chosen = [x for x in self.lines if (patch is None or x.patch == patch) and x.added.file.startswith(prefix)]

        def n(kind: Kind) -> int:
            return sum(x.kind is kind for x in chosen)

        return Tally(n(Kind.EXECUTED), n(Kind.MISSED), n(Kind.EXCEPTED), n(Kind.NO_DATA))

    def of(self, patch: int, kind: Kind) -> list[Line]:
        return [x for x in self.lines if x.patch == patch and x.kind is kind]

    def by_function(self, patch: int, kind: Kind) -> dict[tuple[str, str], list[Line]]:
        """(file, function) -> its lines of that kind, in order."""
        out: dict[tuple[str, str], list[Line]] = {}
        for x in self.of(patch, kind):
            out.setdefault((x.added.file, x.function), []).append(x)
        return out

    def properties(self) -> dict[str, str]:
        """The numbers CI tracks, as JUnit suite properties."""
        total, mm = self.tally(), self.tally(prefix="mm/")
        props = {
            "coverage_executed": str(total.executed),
            "coverage_executable": str(total.executable),
            "coverage_percent": _pct(total),
            "coverage_mm_percent": _pct(mm),
            "coverage_excepted": str(total.excepted),
        }
        for p in self.patches:
            t = self.tally(p.number)
            if t.executable or t.excepted:
                props[f"coverage_patch_{p.number:02d}"] = f"{t.executed}/{t.executable}"
        return props


def _pct(t: Tally) -> str:
    return "" if t.percent is None else f"{t.percent:.1f}"


def is_kernel_source(path: str) -> bool:
    return path.endswith((".c", ".h")) and not path.startswith(("tools/", "Documentation/"))


def parse_gcov(text: str, files: Iterable[str]) -> Lines:
    """One `gcov --json-format` document -> counts of the lines of files (tree-relative paths).

    gcov names a source as the compiler saw it (absolute, or relative to the build
    directory); it is matched to files by its path's tail.
    """
    wanted = tuple(files)
    out: Lines = {}
    for entry in json.loads(text).get("files", []):
        name = _match(str(entry.get("file", "")), wanted)
        if name is None:
            continue
        into = out.setdefault(name, {})
        for ln in entry.get("lines", []):
            _add(into, int(ln["line_number"]), Counted(int(ln["count"]), str(ln.get("function_name", ""))))
    return out


def merge(parts: Iterable[Lines]) -> Lines:
    """Counts of several objects: a header line inlined in several adds up."""
    out: Lines = {}
    for part in parts:
        for name, lines in part.items():
            into = out.setdefault(name, {})
            for number, counted in lines.items():
                _add(into, number, counted)
    return out


def _add(into: dict[int, Counted], number: int, counted: Counted) -> None:
    before = into.get(number)
    if before is None:
        into[number] = counted
    else:
        into[number] = Counted(before.count + counted.count, before.function or counted.function)


def _match(name: str, files: Sequence[str]) -> str | None:
    clean = name.replace("\\", "/")
    for f in files:
        if clean == f or clean.endswith("/" + f):
            return f
    return None


def load_exceptions(path: Path | None) -> list[Exception_]:
    """testcases/coverage-exceptions.toml: [[exception]] file, function (optional), why."""
    if path is None or not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: {e}") from None
    out = []
    for i, entry in enumerate(data.get("exception", [])):
        where = f"{path}: exception {i + 1}"
        if not isinstance(entry, dict) or set(entry) - {"file", "function", "why"}:
            raise UserError(f"{where}: keys are file, function, why")
        file, function, why = entry.get("file"), entry.get("function", ""), entry.get("why")
        if not isinstance(file, str) or not isinstance(function, str) or not isinstance(why, str) or not why:
            raise UserError(f"{where}: file and why are required strings (function: a string)")
        out.append(Exception_(file, function, why))
    return out


def judge(patches: Sequence[Patch], counts: Lines, exceptions: Sequence[Exception_] = ()) -> Coverage:
    """Every added line of kernel sources, judged against gcov's counts and the exceptions."""
    lines = []
    for p in patches:
        for a in p.added:
            if is_kernel_source(a.file):
                lines.append(_line(p.number, a, counts, exceptions))
    return Coverage(tuple(patches), tuple(lines))


def _line(patch: int, a: Added, counts: Lines, exceptions: Sequence[Exception_]) -> Line:
    if a.line is None:
        return Line(patch, a, Kind.REPLACED, a.context)
    known = counts.get(a.file)
    counted = known.get(a.line) if known else None
    function = counted.function if counted and counted.function else _enclosing(known, a.line) or a.context
    why = next((e.why for e in exceptions if e.covers(a.file, function)), "")
    if counted is not None and counted.count > 0:
        return Line(patch, a, Kind.EXECUTED, function, counted.count, why)
    if known and counted is None:
        return Line(patch, a, Kind.NOT_CODE, function)
    if why:
        return Line(patch, a, Kind.EXCEPTED, function, 0, why)
    return Line(patch, a, Kind.MISSED if counted is not None else Kind.NO_DATA, function)


def _enclosing(known: Mapping[int, Counted] | None, line: int) -> str:
    """The function of the nearest counted line above (a brace or a declaration has none)."""
    if not known:
        return ""
    above = [n for n in known if n <= line and known[n].function]
    return known[max(above)].function if above else ""
