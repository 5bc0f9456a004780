"""The reply a maintainer reads: a plain-text RFC 5322 mail in the series' thread (0-day and LKFT style).

It answers the cover letter, or the first bad patch when build-each or
bisect named one. The body is render blocks wrapped at 80 columns (quoted
logs are not): what was tested (base, series, matrix, config, compiler,
zpfarm), then per regression its cell and runtime, the first bad patch, a
KTAP excerpt of at most 20 lines, the console excerpt (decoded when the
build's vmlinux is there) and the one-line reproducer. A failure ends with
0-day's "| Reported-by:" / "| Closes:" block, whose "| " keeps b4 from
applying it; a clean run with a bare "Tested-by:", which b4 applies to every
patch. Nothing depends on the clock: the same results give the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTPUTF8
from email.utils import format_datetime, parseaddr
from pathlib import Path

from farm.model.errors import UserError
from farm.model.results import Status, Suite
from farm.model.seriesinfo import PatchInfo, SeriesInfo
from farm.model.suite_id import SuiteId
from farm.report import compare, render
from farm.report.findings import Findings, Problem

KTAP_LINES = 20
CONSOLE_LINES = 40
DETAILED = 10  # regressions shown in full; the rest are listed
LINE_CAP = 400  # characters of one quoted line (mail lines stay far below SMTP's 998)
CHANGES_LIMIT = 2000  # characters of the base-vs-series table
Decoder = Callable[[str, Path | None, Path | None], str | None]


@dataclass(frozen=True)
class Reply:
    message: EmailMessage
    in_reply_to: str | None  # the Message-ID answered
    clean: bool


def identity(value: str | None, option: str) -> str:
    """A "Name <address>" the user configured; never one made up."""
    if not value or not value.strip():
        raise UserError(f"{option} (or $ZPFARM_IDENTITY): who signs the reply, as 'Name <address>'")
    name, address = parseaddr(value)
    if not name or "@" not in address or "\n" in value:
        raise UserError(f"{option} {value!r}: give 'Name <address>'")
    return f"{name} <{address}>"


_MSGID = re.compile(r"^[^<>\s@]+@[^<>\s@]+$")


def _msgid(value: str) -> str:
    """<id> of a Message-ID from series.json (another job's file): one that could inject a header is refused."""
    bare = value.strip().strip("<>")
    if not _MSGID.match(bare):
        raise UserError(f"series.json: {value!r} is not a Message-ID")
    return f"<{bare}>"


def render_reply(findings: Findings, info: SeriesInfo | None, signer: str, decode: Decoder | None = None) -> Reply:
    """The reply mail for these findings (signer: a checked identity)."""
    target = _target(findings, info)
    thread = [m for m in (info.cover_message_id if info else None, target.message_id if target else None) if m]
    thread = [_msgid(m).strip("<>") for m in thread]
    own = _own_id(findings, thread, signer)
    body = render.text(_blocks(findings, info, signer, decode, own))
    msg = EmailMessage(policy=SMTPUTF8)
    msg["From"] = signer
    msg["Subject"] = _subject(findings, info, target)
    msg["Date"] = format_datetime(max((s.timestamp for s in findings.suites), default=datetime.fromtimestamp(0, UTC)))
    msg["Message-ID"] = f"<{own}>"
    if thread:
        msg["In-Reply-To"] = _msgid(thread[-1])
        msg["References"] = " ".join(dict.fromkeys(_msgid(m) for m in thread))
    msg["X-Zpfarm-Result"] = "clean" if findings.clean else ("regressions" if findings.regressions else "untested")
    msg.set_content(body, charset="utf-8", cte="8bit")
    return Reply(msg, _msgid(thread[-1]) if thread else None, findings.clean)


def _own_id(findings: Findings, thread: Sequence[str], signer: str) -> str:
    """This reply's Message-ID (no brackets): a digest of what it answers and of the results, no clock."""
    results = [f"{s.name}|{c.name}|{c.status.value}" for s in findings.suites for c in s.cases]
    digest = hashlib.sha256("\n".join([*thread, signer, *results]).encode()).hexdigest()[:20]
    return f"zpfarm-{digest}@{signer.rsplit('@', 1)[1].rstrip('>')}"


def _target(findings: Findings, info: SeriesInfo | None) -> PatchInfo | None:
    """The patch the reply answers: the first bad one build-each or bisect named (with a Message-ID)."""
    if info is None:
        return None
    for problem in findings.regressions:
        blame = findings.blame(problem)
        patch = blame.patch(info) if blame else None
        if patch is not None and patch.message_id:
            return patch
    if info.cover_message_id is None and info.patches and info.patches[0].message_id:
        return info.patches[0]  # a single patch, or a series posted without a cover letter
    return None


def _subject(findings: Findings, info: SeriesInfo | None, target: PatchInfo | None) -> str:
    """Re: the answered mail's subject, its [PATCH vN n/m] tag put back when series.json dropped it."""
    if info is not None:
        number = info.patches.index(target) + 1 if target is not None else 0
        subject = " ".join((target.subject if target is not None else info.subject).split())
        if not subject.startswith("["):
            version = f" v{info.revision}" if info.revision > 1 else ""
            width = len(str(len(info.patches)))
            subject = f"[PATCH{version} {number:0{width}d}/{len(info.patches)}] {subject}"
        return f"Re: {subject}"
    count = len(findings.regressions)
    return f"zpfarm: {count} regression{'s' * (count != 1)}" if count else "zpfarm: no regressions"


def _props(suites: Sequence[Suite], name: str) -> list[str]:
    return list(dict.fromkeys(v for s in suites if (v := s.properties.get(name, ""))))


def _runs(findings: Findings) -> list[Suite]:
    return [s for s in findings.suites if "/" in s.name and not s.name.startswith(("build-each/", "sweep/"))]


def _header(findings: Findings, info: SeriesInfo | None) -> render.Facts:
    runs = _runs(findings)
    base = [s for s in runs if s.properties.get("kernel") == "base"]
    commits = _props(base, "commit")
    parts = [
        ", ".join(_props(runs, "base")) or "unknown",
        *(f"(line {line})" for line in _props(runs, "base_line")),
        *(f"commit {c[:12]}" for c in commits),
        *(f"tarball sha256 {t[:16]}" for t in _props(runs, "tarball_sha256")),
        *(f"tree {t}" for t in _props(runs, "tree")),
    ]
    facts = [("base", ", ".join(parts).replace(", (line", " (line"))]
    if info is not None:
        where = info.link or (
            f"https://patch.msgid.link/{info.cover_message_id.strip('<>')}" if info.cover_message_id else ""
        )
        facts.append(
            (
                "series",
                f"v{info.revision} {info.subject!r}, {len(info.patches)} patches" + (f", {where}" if where else ""),
            )
        )
    hashes = _props([s for s in runs if s.properties.get("kernel") == "series"], "series_hash")
    if hashes:
        facts.append(("patchset", ", ".join(f"sha256 {h}" for h in hashes)))
    cells = list(dict.fromkeys(SuiteId.parse(s.name).cell for s in runs))
    arches = ", ".join(_props(runs, "arch")) or "unknown arch"
    accel = ", ".join(_props(runs, "accel")) or "none"
    facts.append(("matrix", f"{len(cells)} cells, {len(runs)} boots ({arches}), accel {accel}"))
    configs = [_config(s.properties) for s in runs]
    facts.append(("config", "; ".join(dict.fromkeys(configs)) or "unknown"))
    facts.append(("compiler", "; ".join(_props(runs, "compiler")) or "unknown"))
    facts.append(("zpfarm", ", ".join(_props(findings.suites, "zpfarm")) or "unknown"))
    return render.Facts(tuple(facts))


def _config(props: Mapping[str, str]) -> str:
    fragments = props.get("config_fragments", "fragments not recorded")
    what = f"{props.get('arch', '?')}/{props.get('kconfig', '?')}: {fragments}"
    return what + (f", .config sha256 {props['config_sha256'][:16]}" if props.get("config_sha256") else "")


def _summary(findings: Findings, info: SeriesInfo | None) -> render.Para:
    arches = ", ".join(_props(_runs(findings), "arch")) or "no arch"
    what = f"v{info.revision} of this series" if info else "this series"
    if findings.clean:
        return render.Para(f"zpfarm built, booted and tested {what}. No regressions on {arches}.")
    parts = []
    if findings.regressions:
        n = len(findings.regressions)
        parts.append(f"{n} regression{'s' * (n != 1)} against the base")
    if findings.untested:
        parts.append(f"{len(findings.untested)} part{'s' * (len(findings.untested) != 1)} of the matrix could not run")
    return render.Para(f"zpfarm built, booted and tested {what} on {arches}: {' and '.join(parts)}.")


def _quote(text: str, lines: int, *, tail: bool = False) -> tuple[str, ...]:
    kept = [line.rstrip()[:LINE_CAP] for line in text.splitlines() if line.strip()]
    return tuple(kept[-lines:] if tail else kept[:lines])


def _reproducer(problem: Problem, suite: Suite | None) -> str:
    if problem.suite.startswith("build-each/"):
        return f"zpfarm build-each --cell {problem.cell}"
    again = suite.properties.get("reproducer", "") if suite else ""
    again = again or f"zpfarm run --cell {problem.suite}"
    program = problem.case.program
    if "--test" not in again.split() and program not in ("boot", "build", "runtime"):
        again += f" --test {program}"
    return again


def _problem_blocks(
    findings: Findings, problem: Problem, info: SeriesInfo | None, decode: Decoder | None
) -> list[render.Block]:
    suite = next((s for s in findings.suites if s.name == problem.suite), None)
    case = problem.case
    facts = [("cell", problem.cell)]
    if problem.runtime:
        facts.append(("runtime", problem.runtime))
    base = f", {problem.on_base.value} on base" if problem.on_base is not None else ", no base result"
    facts.append(("status", f"{case.status.value}{base}"))
    blame = findings.blame(problem)
    if blame is not None:
        patch = blame.patch(info)
        if patch is not None and info is not None:
            subject = f"[{info.patches.index(patch) + 1}/{len(info.patches)}] {_untagged(patch.subject)}"
        else:
            subject = _untagged(blame.subject)
        facts.append(("first bad patch", f"{subject} ({blame.tool})"))
    if case.message:
        facts.append(("message", case.message))
    blocks: list[render.Block] = [render.Heading(f"{problem.suite}: {case.name}"), render.Facts(tuple(facts))]
    console = case if case.name.endswith(".console") or case.name == "boot" else None
    if suite is not None and console is None:
        console = next((c for c in suite.cases if c.name == f"{case.program}.console"), None)
    if case is not console and case.output.strip():
        title = "build log:" if case.status is Status.BUILD else "KTAP:"
        blocks.append(render.Quote(_quote(case.output, KTAP_LINES, tail=True), title))
    if console is not None and console.output.strip():
        excerpt = "\n".join(_quote(console.output, CONSOLE_LINES))
        decoded = decode(excerpt, _path(suite, "vmlinux"), _path(suite, "source_tree")) if decode else None
        title = (
            "console (decoded with scripts/decode_stacktrace.sh):"
            if decoded
            else "console (not decoded: no vmlinux here):"
        )
        blocks.append(render.Quote(_quote(decoded or excerpt, CONSOLE_LINES), title))
    blocks.append(render.Verbatim(("reproduce:", f"  {_reproducer(problem, suite)}")))
    return blocks


def _untagged(subject: str) -> str:
    """A subject without its [PATCH ...] tag."""
    return re.sub(r"^\[[^]]*\]\s*", "", subject)


def _path(suite: Suite | None, name: str) -> Path | None:
    value = suite.properties.get(name, "") if suite else ""
    return Path(value) if value else None


def _changes(findings: Findings) -> list[render.Block]:
    old, new = compare.split_kernels(compare.from_suites(_runs(findings)))
    if not old or not new:
        return []
    changes = compare.diff(old, new)
    return [render.Heading("Base against series"), *compare.blocks(changes, "base", "series", CHANGES_LIMIT)]


def _blocks(
    findings: Findings, info: SeriesInfo | None, signer: str, decode: Decoder | None, own: str
) -> list[render.Block]:
    blocks: list[render.Block] = [render.Para("Hi,"), _summary(findings, info), _header(findings, info)]
    for problem in findings.regressions[:DETAILED]:
        blocks += _problem_blocks(findings, problem, info, decode)
    if len(findings.regressions) > DETAILED:
        more = findings.regressions[DETAILED:]
        blocks.append(render.Para(f"{len(more)} more regressions:"))
        blocks.append(
            render.Table(("suite", "test", "status"), tuple((p.suite, p.case.name, p.case.status.value) for p in more))
        )
    if findings.also_on_base:
        blocks.append(render.Para(f"{len(findings.also_on_base)} failures that base has too (not this series' doing):"))
        blocks.append(
            render.Table(
                ("suite", "test", "status"),
                tuple((p.suite, p.case.name, p.case.status.value) for p in findings.also_on_base[:DETAILED]),
            )
        )
    if findings.untested:
        blocks.append(render.Para("Could not run (the machine or the input, not the series):"))
        blocks.append(
            render.Table(
                ("suite", "case", "why"),
                tuple((p.suite, p.case.name, p.case.message) for p in findings.untested[:DETAILED]),
            )
        )
    blocks += _changes(findings)
    blocks += _trailers(findings, signer, own)
    blocks.append(render.Verbatim(("-- ", f"zpfarm {', '.join(_props(findings.suites, 'zpfarm')) or ''}".rstrip())))
    return blocks


def _trailers(findings: Findings, signer: str, own: str) -> list[render.Block]:
    if findings.regressions:
        closes = [f"| Closes: https://lore.kernel.org/r/{own}/"]
        return [
            render.Para(
                "If you fix the issue in a separate patch/commit (i.e. not just a new version of the same "
                "patch/commit), kindly add following tags"
            ),
            render.Verbatim((f"| Reported-by: {signer}", *closes)),
        ]
    if findings.clean:
        return [render.Verbatim((f"Tested-by: {signer}",))]
    return [render.Para("Parts of the matrix did not run, so this is no Tested-by.")]


def as_bytes(reply: Reply) -> bytes:
    """The mail as it goes into a file or an mbox (LF line ends)."""
    return re.sub(rb"\r\n", b"\n", reply.message.as_bytes())
