"""Results out of the farm: the reply mail, the KCIDB submission, the patchwork checks.

Each reads a run's JUnit (and series.json, build-each's JUnit, bisect's
log when given), builds its document, checks it (the schemas, an identity)
and writes it atomically; nothing is sent: submitting is kci-dev's and
pwclient's job, with their tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from farm.host import files
from farm.judge import expect
from farm.model import seriesinfo
from farm.model.errors import UserError
from farm.model.seriesinfo import SeriesInfo
from farm.report import decode, findings, junit, kcidb, pwchecks, reply, schemas

CHECKOUT = Path(__file__).resolve().parent.parent  # the embedded testcases/


def series(path: Path | None) -> SeriesInfo | None:
    return seriesinfo.load(path) if path is not None else None


def find(run: Path, build_each: Sequence[Path] = (), bisect_log: Path | None = None) -> findings.Findings:
    """The run's findings, with the first bad patch build-each's JUnit or bisect's log names."""
    suites = junit.read_suites(run)
    if not suites:
        raise UserError(f"{run}: no suite: nothing to report")
    for extra in build_each:
        suites += [s for s in junit.read_suites(extra) if s.name.startswith(findings.BUILD_EACH)]
    blames = []
    if bisect_log is not None:
        try:
            text = bisect_log.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise UserError(f"--bisect-log {bisect_log}: cannot read: {e.strerror or e}") from None
        if (blame := findings.from_bisect_log(text)) is None:
            raise UserError(f"--bisect-log {bisect_log}: names no first bad commit")
        blames.append(blame)
    return findings.find(suites, blames)


def email(found: findings.Findings, info: SeriesInfo | None, signer: str, output: Path) -> reply.Reply:
    """Write the reply mail to output."""
    files.writable_file(output, "-o")
    written = reply.render_reply(found, info, signer, decode.stacktrace)
    files.atomic_write(output, reply.as_bytes(written))
    return written


def expectations(path: Path | None) -> tuple[expect.Expectation, ...]:
    """--expectations, else ./testcases/expectations.toml, else zpfarm's own."""
    for candidate in (path, Path("testcases/expectations.toml"), CHECKOUT / "testcases" / "expectations.toml"):
        if candidate is not None and (candidate == path or candidate.is_file()):
            return expect.load(candidate)
    return ()


def kcidb_export(
    run: Path, info: SeriesInfo | None, source: kcidb.Source, known: Sequence[expect.Expectation], output: Path
) -> dict[str, Any]:
    """The KCIDB submission of a run, validated against the vendored v5.3 schema before it is written."""
    files.writable_file(output, "-o")
    doc = kcidb.document(junit.read_suites(run), source, info, known)
    schemas.check(schemas.KCIDB, doc, "the KCIDB submission")
    files.atomic_write(output, kcidb.dumps(doc).encode())
    return doc


def pw_checks(
    found: findings.Findings, info: SeriesInfo | None, prefix: str, url: str | None, output: Path
) -> list[dict[str, Any]]:
    """One validated CheckCreate payload per patch and context, written as a JSON list."""
    if info is None:
        raise UserError("--series series.json is needed: checks are per patch")
    files.writable_file(output, "-o")
    items = pwchecks.payloads(found, info, prefix, url)
    for item in items:
        schemas.check(schemas.CHECK_CREATE, item["check"], f"the check of {item['patch']['file']}")
    files.atomic_write(output, pwchecks.dumps(items).encode())
    return items


def summary(doc: dict[str, Any]) -> str:
    """ "2 checkouts, 2 builds, 3086 tests, 22 issues, 81 incidents"."""
    return ", ".join(f"{len(doc[k])} {k}" for k in ("checkouts", "builds", "tests", "issues", "incidents") if k in doc)
