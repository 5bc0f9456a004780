"""A run's results as one KCIDB v5.3 submission (pure; schemas.check validates it).

Checkouts: one per kernel of the run (the base, the base plus the series),
with kci-dev's id, origin:ck-sha256(repo|branch|commit|patchset_hash), so a
resubmission of the same checkout merges. A series that does not apply is an
invalid checkout carrying the `git am` output. Builds: one per build key,
with kci-dev's build id formula (the build key in place of its start time,
which a JUnit does not record). Tests: one per case and runtime, paths from
kcidb_path. Statuses: pass PASS, fail FAIL, crash FAIL (plus an incident of
an issue keyed by the console report's kind and first frame), xfail FAIL
(plus an incident of an issue from the expectations entry, KCIDB 5's
replacement for waived), infra MISS, skip SKIP, bad input ERROR, a kernel
that does not build build.status FAIL. Everything is sorted, so the same
input gives the same bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from farm.judge import expect
from farm.model.errors import UserError
from farm.model.results import Status, Suite, TestResult
from farm.model.seriesinfo import SeriesInfo
from farm.model.suite_id import SuiteId
from farm.report import kcidb_path

MAJOR, MINOR = 5, 3
EXCERPT = 16 * 1024  # the schema's maxLength of a log_excerpt
ORIGIN = re.compile(r"^[a-z0-9_]+$")
STATUS = {
    Status.PASS: "PASS",
    Status.FAIL: "FAIL",
    Status.XFAIL: "FAIL",
    Status.CRASH: "FAIL",
    Status.INFRA: "MISS",
    Status.SKIP: "SKIP",
    Status.INPUT: "ERROR",
    Status.BUILD: "FAIL",
}
BUILD_STAGE = "build"  # the case a suite carries instead of a boot when its kernel has none
_NOT_RUN = {"SKIP", "MISS"}  # statuses a number must not come with
_FRAME = re.compile(r"(?:RIP: [0-9a-f]{4}:|pc : |\s)\??\s*([A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+")


@dataclass(frozen=True)
class Source:
    """What the checkouts' ids are made of besides the commit (kci-dev's repo and branch)."""

    origin: str
    git_url: str = ""  # https://... of the base tree, when it has one
    branch: str = ""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def checkout_id(origin: str, repo_url: str, branch: str, commit: str, patchset_hash: str = "") -> str:
    """kci-dev's generate_checkout_id (kcidev/libs/kcidb.py): the same inputs give the same id."""
    return f"{origin}:ck-{sha(f'{repo_url}|{branch}|{commit}|{patchset_hash}')}"


def build_id(origin: str, checkout: str, arch: str, config: str, compiler: str, key: str) -> str:
    """kci-dev's generate_build_id with the build key where it takes the start time."""
    return f"{origin}:b-{sha(f'{checkout}|{arch}|{config}|{compiler}|{key}')}"


def _clean(text: str, limit: int = EXCERPT) -> str:
    text = text.replace("\0", "#x00")
    return text if len(text) <= limit else text[-limit:]


def document(
    suites: Sequence[Suite],
    source: Source,
    info: SeriesInfo | None = None,
    expectations: Sequence[expect.Expectation] = (),
) -> dict[str, Any]:
    """The submission: version, checkouts, builds, tests, issues, incidents (lists sorted by id)."""
    if not ORIGIN.match(source.origin):
        raise UserError(f"--origin {source.origin!r}: KCIDB origins are [a-z0-9_]+")
    if source.git_url and not source.git_url.startswith("https://"):
        raise UserError(f"--git-url {source.git_url}: KCIDB takes https:// URLs only")
    runs = [s for s in suites if "/" in s.name and not s.name.startswith(("build-each/", "sweep/"))]
    if not runs:
        raise UserError("no suite of a run (CELL/RUNTIME) to export")
    paths = kcidb_path.paths(c.name for s in runs for c in s.cases if c.name != BUILD_STAGE)
    out: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in ("checkouts", "builds", "tests", "issues", "incidents")}
    base_commits = {
        s.properties.get("base", ""): s.properties["commit"]
        for s in runs
        if _kernel(s) == "base" and s.properties.get("commit")
    }
    for suite in runs:
        checkout = _checkout(suite, source, info, base_commits)
        if not checkout["valid"]:
            out["checkouts"][checkout["id"]] = checkout
            continue  # nothing was built of a series that does not apply
        out["checkouts"].setdefault(checkout["id"], checkout)
        build = _build(suite, source.origin, checkout["id"])
        out["builds"].setdefault(build["id"], build)  # each runtime of a cell has the same build
        if build["status"] != "PASS":
            continue
        for case in suite.cases:
            test = _test(suite, case, source.origin, build["id"], paths[case.name])
            out["tests"][test["id"]] = test
            issue = _issue(suite, case, source.origin, expectations)
            if issue is not None:
                out["issues"][issue["id"]] = issue
                incident = _incident(source.origin, issue["id"], test["id"])
                out["incidents"][incident["id"]] = incident
    doc: dict[str, Any] = {"version": {"major": MAJOR, "minor": MINOR}}
    for key, objects in out.items():
        if objects:
            doc[key] = [objects[k] for k in sorted(objects)]
    return doc


def dumps(doc: Mapping[str, Any]) -> str:
    """The document's bytes: sorted keys, one line per value, a final newline."""
    return json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def _kernel(suite: Suite) -> str:
    sid = SuiteId.parse(suite.name)
    return suite.properties.get("kernel") or (sid.kernel.value if sid.kernel else "")


def _stage_case(suite: Suite) -> TestResult | None:
    """The case a suite has instead of a boot ("build": no tree, no kernel), if it has one."""
    return next((c for c in suite.cases if c.name == BUILD_STAGE), None)


def _checkout(suite: Suite, source: Source, info: SeriesInfo | None, base_commits: Mapping[str, str]) -> dict[str, Any]:
    props = suite.properties
    series = _kernel(suite) == "series"
    base = props.get("base", "")
    commit = (base_commits.get(base) if series else props.get("commit")) or (
        info.base_commit if series and info else ""
    )
    patchset = props.get("series_hash", "") if series else ""
    stage = _stage_case(suite)
    applied = not (series and stage is not None and stage.status is Status.INPUT)
    seed = patchset or (f"unapplied-{sha('|'.join(p.patch_id for p in info.patches))}" if series and info else "")
    seed = seed or ("unapplied" if series else "")
    checkout: dict[str, Any] = {
        "id": checkout_id(source.origin, source.git_url, source.branch, commit or "", seed),
        "origin": source.origin,
        "tree_name": props.get("base_line") or base or "unknown",
        "valid": applied,
        "misc": {"kernel": "series" if series else "base", "base": base},
    }
    if props.get("tarball_sha256"):
        checkout["misc"]["tarball_sha256"] = props["tarball_sha256"]
    if re.fullmatch(r"[0-9a-f]{40}", commit or ""):
        checkout["git_commit_hash"] = commit
    if source.git_url:
        checkout["git_repository_url"] = source.git_url
    if source.branch:
        checkout["git_repository_branch"] = source.branch
    if patchset:
        checkout["patchset_hash"] = patchset
    if series and info is not None:
        checkout["misc"] |= {"series": info.subject, "revision": info.revision}
        if info.change_id:
            checkout["misc"]["change_id"] = info.change_id
        if info.cover_message_id:
            checkout["message_id"] = info.cover_message_id.strip("<>")
    if not applied and stage is not None:
        checkout["log_excerpt"] = _clean("\n".join(t for t in (stage.message, stage.output) if t))
    return checkout


def _build(suite: Suite, origin: str, checkout: str) -> dict[str, Any]:
    props = suite.properties
    cell = SuiteId.parse(suite.name).cell
    arch, config, compiler = props.get("arch", ""), props.get("kconfig", ""), props.get("compiler", "")
    key = props.get("build_key") or sha(f"{cell}|{props.get('commit', '')}|{compiler}")[:16]
    stage = _stage_case(suite)
    status = "PASS" if stage is None else ("MISS" if stage.status is Status.INFRA else STATUS[stage.status])
    build: dict[str, Any] = {
        "id": build_id(origin, checkout, arch, config, compiler, key),
        "origin": origin,
        "checkout_id": checkout,
        "architecture": arch,
        "config_name": config,
        "status": status,
        "misc": {"build_key": key, "cell": cell},
    }
    if compiler:
        build["compiler"] = compiler
    for prop, field in (("kernel_release", "kernel_release"), ("build_warnings", "warnings")):
        if props.get(prop):
            build["misc"][field] = props[prop]
    with contextlib.suppress(KeyError, ValueError):
        build["duration"] = float(props["build_seconds"])
    if stage is not None:
        build["log_excerpt"] = _clean("\n".join(t for t in (stage.message, stage.output) if t))
    return build


def _test(suite: Suite, case: TestResult, origin: str, build: str, path: str) -> dict[str, Any]:
    runtime = suite.properties.get("runtime") or SuiteId.parse(suite.name).runtime
    status = STATUS[case.status]
    accel = suite.properties.get("accel", "")
    test: dict[str, Any] = {
        "id": f"{origin}:t-{sha(f'{build}|{runtime}|{case.name}')}",
        "origin": origin,
        "build_id": build,
        "path": path,
        "status": status,
        "start_time": suite.timestamp.isoformat(timespec="seconds"),
        "environment": {
            "comment": f"qemu {accel or 'unknown accel'}, runtime {runtime}",
            "misc": {"runtime": runtime, "accel": accel},
        },
        "misc": {"name": case.name, "suite": suite.name, "zpfarm_status": case.status.value},
    }
    if case.elapsed is not None:
        test["duration"] = case.elapsed
    if case.status is not Status.PASS and (case.message or case.output):
        test["log_excerpt"] = _clean("\n".join(t for t in (case.message, case.output) if t))
    if case.metrics:
        test["misc"]["metrics"] = {k: case.metrics[k] for k in sorted(case.metrics)}
        if status not in _NOT_RUN:
            first = sorted(case.metrics)[0]
            test["number"] = {"value": case.metrics[first], "unit": first}
    return test


def crash_signature(case: TestResult) -> tuple[str, str]:
    """(the console report's kind, its first frame or "") of a "<program>.console" crash case."""
    kind = case.message.split(" (console line", 1)[0].strip() or "crash"
    frame = _FRAME.search(case.output)
    return kind, frame[1] if frame else ""


def _issue(
    suite: Suite, case: TestResult, origin: str, expectations: Sequence[expect.Expectation]
) -> dict[str, Any] | None:
    """The known issue a case is an incident of: its expectations entry (xfail), its console report (crash)."""
    if case.status is Status.XFAIL:
        entry = expect.find(case.name, expectations)
        if entry is not None:
            key, subject = f"expect|{entry.match}|{entry.why}", f"known failure of {entry.match}: {entry.why}"
            misc = {"match": entry.match, "base": entry.base.value, "series": entry.series.value, "waived": True}
            culprit = {"code": True}
        else:  # the test's own XFAIL directive (kselftest's known failures)
            key, subject, culprit = f"declared|{case.name}", case.message, {"tool": True}
            misc = {"name": case.name, "waived": True}
    elif case.status is Status.CRASH and case.name.endswith(".console"):
        kind, frame = crash_signature(case)
        key, subject = f"crash|{kind}|{frame}", f"{kind}{' in ' + frame if frame else ''}"
        misc, culprit = {"kind": kind, "frame": frame, "waived": False}, {"code": True}
    else:
        return None
    return {
        "id": f"{origin}:i-{sha(key)[:32]}",
        "origin": origin,
        "version": 1,
        "report_subject": _clean(subject, 1024),
        "culprit": culprit,
        "misc": misc,
    }


def _incident(origin: str, issue: str, test: str) -> dict[str, Any]:
    return {
        "id": f"{origin}:n-{sha(f'{issue}|{test}')[:32]}",
        "origin": origin,
        "issue_id": issue,
        "issue_version": 1,
        "test_id": test,
        "present": True,
    }


def exit_code(doc: Mapping[str, Any]) -> int:
    """The run's exit code read back from a document, in zpfarm's order (cli.exit_code's).

    An invalid checkout or an ERROR is bad input (2), a MISS the machine (3), a FAIL the code (1);
    a FAIL with an incident of a waived issue (an xfail) is known, as zpfarm's exit code says.
    """
    waived = {i["id"] for i in doc.get("issues", []) if i.get("misc", {}).get("waived")}
    known = {n["test_id"] for n in doc.get("incidents", []) if n["issue_id"] in waived}
    statuses = {o["status"] for o in doc.get("builds", [])}
    statuses |= {t["status"] for t in doc.get("tests", []) if t["id"] not in known}
    if any(not c.get("valid", True) for c in doc.get("checkouts", [])) or "ERROR" in statuses:
        return 2
    if "MISS" in statuses:
        return 3
    return 1 if "FAIL" in statuses else 0
