"""Parse KTAP v1 and TAP 13/14 output into a tree of KtapNode.

Pure and lenient, modelled on the kernel's tools/testing/kunit/kunit_parser.py:
it never raises and never prints; whatever looks wrong becomes an entry in a
node's ``errors``.  Nesting is read from line prefixes: a subtest block is
opened by a version line, ``# Subtest:`` header, plan or result line indented
by whitespace (KUnit, KTAP) or prefixed with ``# `` (kselftest's runner.sh).
A line that lacks the block's prefix stays in the block's log unless it is a
structural line of an enclosing level, which closes the block.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum

MAX_DEPTH = 32  # deeper nesting is kept as log lines (no recursion limit to hit)


class KtapStatus(Enum):
    """What a result line (or its absence) says about one test."""

    OK = "ok"
    NOT_OK = "not ok"
    SKIP = "skip"
    MISSING = "missing"  # promised by a plan or opened as a block, no result line


@dataclass(frozen=True)
class KtapNode:
    """One test: a result line, with the subtests and diagnostics before it."""

    name: str
    status: KtapStatus
    directive: str = ""  # text after the '#' of the result line, e.g. "SKIP no THP"
    log: tuple[str, ...] = ()
    children: tuple[KtapNode, ...] = ()
    errors: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)


_DMESG_PREFIX = re.compile(r"^(?:<\d+>)?\[\s*\d+\.\d+\](?:\[\s*[A-Z]?\d+\])? ?")
_VERSION = re.compile(r"^(K?TAP) version (\d+)\s*$")
# Linear in the line's length, whatever it holds (a guest may print anything): no lazy
# group before optional blanks; possessive groups never give back; callers strip().
_HEADER = re.compile(r"^# Subtest: (.*)$")
_PLAN = re.compile(r"^1\.\.(\d+)\s*+(?:#\s*+(.*))?$")
_RESULT = re.compile(
    r"^(?P<status>ok|not ok)\b(?:\s++(?P<num>\d++))?(?:\s+-)?"
    r"(?:\s++(?P<name>(?:[^#\\]|\\.|\\$)*+))?(?:#\s*+(?P<directive>.*))?$"
)
_BAIL = re.compile(r"^Bail out!\s*+(.*)$")
_NEST = re.compile(r"^(?P<indent>[ \t]+|# )(?P<rest>.*)$")
_METRIC_LINE = re.compile(r"^#.*?\bmetric:\s*(.*)$")
_METRIC_PAIR = re.compile(r"^([^=\s]+)=(\S+)$")
_NOT_A_PASS = ("TODO", "XFAIL")
_KNOWN_VERSIONS = {"KTAP": (1,), "TAP": (13, 14)}


class LineStream:
    """Lazy peek()/pop() over (line number, text), as in kunit_parser."""

    def __init__(self, lines: Iterable[tuple[int, str]]) -> None:
        self._lines = iter(lines)
        self._next: tuple[int, str] | None = None
        self._done = False
        self._advance()

    def _advance(self) -> None:
        try:
            self._next = next(self._lines)
        except StopIteration:
            self._next = None
            self._done = True

    def __bool__(self) -> bool:
        return not self._done

    def peek(self) -> str:
        """The current line; only valid while the stream is non-empty."""
        assert self._next is not None
        return self._next[1]

    def line_number(self) -> int:
        """1-based number of the current line in the input."""
        return self._next[0] if self._next is not None else 0

    def pop(self) -> str:
        """Return the current line and move to the next one."""
        line = self.peek()
        self._advance()
        return line


def strip_prefix(line: str) -> str:
    """Remove a dmesg timestamp prefix ('[   12.345678] ') and trailing blanks."""
    return _DMESG_PREFIX.sub("", line.rstrip(), count=1)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    lines = text.split("\n")
    if lines and not lines[-1]:
        lines.pop()
    for number, line in enumerate(lines, start=1):
        yield number, strip_prefix(line)


def _is_structural(content: str) -> bool:
    return any(regex.match(content) for regex in (_VERSION, _HEADER, _PLAN, _RESULT, _BAIL))


def _starts_block(content: str) -> str | None:
    """The extra prefix if this line (at some level) opens a nested block."""
    match = _NEST.match(content)
    if match is None:
        return None
    rest = match["rest"]
    if any(r.match(rest) for r in (_VERSION, _HEADER, _PLAN, _RESULT)):
        return match["indent"]
    return None


def _metrics(log: Iterable[str], errors: list[str]) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in log:
        match = _METRIC_LINE.match(line)
        if match is None:
            continue
        for token in match[1].split():
            pair = _METRIC_PAIR.match(token)
            try:
                if pair is None:
                    raise ValueError(token)
                found[pair[1]] = float(pair[2])
            except ValueError:
                errors.append(f"bad metric {token!r} in {line!r}")
    return found


def _result_node(content: str, number: int, log: list[str], block: _Block | None) -> KtapNode:
    match = _RESULT.match(content)
    assert match is not None
    directive = (match["directive"] or "").strip()
    keyword = directive.split(maxsplit=1)[0].upper() if directive else ""
    if keyword == "SKIP":
        status = KtapStatus.SKIP
    elif match["status"] == "not ok" or keyword in _NOT_A_PASS:
        status = KtapStatus.NOT_OK
    else:
        status = KtapStatus.OK
    name = (match["name"] or "").replace("\\#", "#").replace("\\\\", "\\").strip()
    errors: list[str] = list(block.errors) if block else []
    full_log = log + (block.log if block else [])
    metrics = _metrics(full_log, errors)
    return KtapNode(
        name=name or f"#{number}",
        status=status,
        directive=directive,
        log=tuple(full_log),
        children=tuple(block.children) if block else (),
        errors=tuple(errors),
        metrics=metrics,
    )


@dataclass
class _Block:
    """Mutable accumulator for one level while it is being parsed."""

    name: str | None = None
    plan: int | None = None
    children: list[KtapNode] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # lines not claimed by a result
    errors: list[str] = field(default_factory=list)


def _parse_block(stream: LineStream, prefix: str, outer: tuple[str, ...]) -> _Block:
    """Parse lines at one nesting level until an enclosing level takes over."""
    block = _Block()
    pending: list[str] = []
    seen_result = False
    bailed = False
    is_root = not outer
    while stream:
        line = stream.peek()
        if bailed or not line.startswith(prefix):
            if any(line.startswith(p) and _is_structural(line[len(p) :]) for p in outer):
                break
            pending.append(line.removeprefix(prefix))
            stream.pop()
            continue
        content = line[len(prefix) :]
        lineno = stream.line_number()
        extra = _starts_block(content) if len(outer) < MAX_DEPTH else None
        if extra is not None:
            child = _parse_block(stream, prefix + extra, (*outer, prefix))
            number = len(block.children) + 1
            if stream and stream.peek().startswith(prefix) and _RESULT.match(stream.peek()[len(prefix) :]):
                node = _result_node(stream.pop()[len(prefix) :], number, pending, child)
            else:
                child.errors.append(f"line {lineno}: subtest {child.name or number} has no result line")
                node = KtapNode(
                    name=child.name or f"#{number}",
                    status=KtapStatus.MISSING,
                    log=tuple(pending + child.log),
                    children=tuple(child.children),
                    errors=tuple(child.errors),
                )
            block.children.append(node)
            pending = []
            seen_result = True
            continue
        if (version := _VERSION.match(content)) is not None:
            if seen_result and not is_root:
                break
            if int(version[2]) not in _KNOWN_VERSIONS[version[1]]:
                block.errors.append(f"line {lineno}: unknown version {content!r}")
        elif (header := _HEADER.match(content)) is not None:
            if seen_result and not is_root:
                break
            block.name = header[1].strip()
        elif (plan := _PLAN.match(content)) is not None:
            if block.plan is not None:
                block.errors.append(f"line {lineno}: second plan {content!r}")
            block.plan = int(plan[1])
            if plan[2]:
                pending.append(content)
        elif (result := _RESULT.match(content)) is not None:
            number = len(block.children) + 1
            node = _result_node(content, number, pending, None)
            if result["num"] and int(result["num"]) != number:
                block.errors.append(f"line {lineno}: expected test {number}, got {result['num']}")
            block.children.append(node)
            pending = []
            seen_result = True
        elif (bail := _BAIL.match(content)) is not None:
            block.errors.append(f"line {lineno}: bail out: {bail[1].strip() or 'no reason'}")
            pending.append(content)
            bailed = True
        else:
            pending.append(content)
        stream.pop()
    _fill_missing(block, "bailed out" if bailed else "crashed or stopped early")
    block.log.extend(pending)
    return block


def _fill_missing(block: _Block, why: str) -> None:
    got = len(block.children)
    if block.plan is None or got == block.plan:
        return
    if got > block.plan:
        block.errors.append(f"expected {block.plan} tests, got {got}")
        return
    block.errors.append(f"expected {block.plan} tests, got {got}: {why}")
    for number in range(got + 1, block.plan + 1):
        block.children.append(
            KtapNode(
                name=f"#{number}",
                status=KtapStatus.MISSING,
                errors=(f"test {number} of {block.plan} has no result line",),
            )
        )


def _overall(children: Iterable[KtapNode]) -> KtapStatus:
    statuses = {child.status for child in children}
    for status in (KtapStatus.MISSING, KtapStatus.NOT_OK):
        if status in statuses:
            return status
    if statuses == {KtapStatus.SKIP}:
        return KtapStatus.SKIP
    return KtapStatus.OK


def parse(text: str) -> KtapNode:
    """Parse (K)TAP text; the root is named "" and holds the top-level tests."""
    lines = list(_lines(text))
    block = _parse_block(LineStream(lines), _root_prefix(lines), ())
    if not block.children and block.plan is None:
        block.errors.append("no test results found")
    errors: list[str] = list(block.errors)
    return KtapNode(
        name="",
        status=_overall(block.children),
        log=tuple(block.log),
        children=tuple(block.children),
        errors=tuple(errors),
        metrics=_metrics(block.log, errors),
    )


def _root_prefix(lines: Iterable[tuple[int, str]]) -> str:
    """Leading blanks of the first version line, if it comes before any result.

    Like kunit's extract_tap_lines: a console may indent the whole stream.
    """
    for _, line in lines:
        stripped = line.lstrip(" \t")
        if _VERSION.match(stripped):
            return line[: len(line) - len(stripped)]
        if _is_structural(line):
            return ""
    return ""


def leaves(root: KtapNode) -> Iterator[tuple[str, KtapNode]]:
    """Yield ("prog.sub.case", node) for each leaf below the root."""
    for child in root.children:
        yield from _leaves(child.name, child)


def _leaves(path: str, node: KtapNode) -> Iterator[tuple[str, KtapNode]]:
    if not node.children:
        yield path, node
        return
    for child in node.children:
        yield from _leaves(f"{path}.{child.name}", child)


def walk(node: KtapNode, path: str = "") -> Iterator[tuple[str, KtapNode]]:
    """Yield (dotted path, node) for ``node`` (at ``path``) and all below it."""
    yield path, node
    for child in node.children:
        yield from walk(child, f"{path}.{child.name}" if path else child.name)
