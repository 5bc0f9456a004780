"""Patchwork checks: one CheckCreate payload per patch and context (pure; schemas.check validates them).

A context is one series cell of the run ("zpfarm-series-x86_64-thp-on") or
one build-each cell ("zpfarm-build-each-series-x86_64-thp-on"). A patch
gets "fail" only when build-each or bisect blames it for that cell's
problem; the other patches of a cell with a problem get "warning" (NIPA's
lesson: a run's failure is rarely every patch's fault), and a cell without
one gives "success". Posting them (pwclient check-create, git-pw) needs
patchwork's patch ids and a token: that stays outside zpfarm.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from farm.model.errors import UserError
from farm.model.matrix import Kernel
from farm.model.seriesinfo import SeriesInfo
from farm.model.suite_id import SuiteId
from farm.report.findings import BAD, BUILD_EACH, Blame, Findings, Problem

URL_MAX = 200  # CheckCreate's target_url maxLength
DESCRIPTION_MAX = 200
_CONTEXT_OTHER = re.compile(r"[^-a-zA-Z0-9_]+")


def context(prefix: str, cell: str) -> str:
    """A valid context (^[-a-zA-Z0-9_]+$, at most 255 characters) for a cell."""
    return _CONTEXT_OTHER.sub("_", f"{prefix}-{cell.replace('/', '-')}")[:255]


def _cells(findings: Findings) -> list[str]:
    """The contexts' cells in order: series run cells, then build-each cells."""
    ids = [SuiteId.parse(s.name) for s in findings.suites if not s.name.startswith(BUILD_EACH)]
    runs = [sid.cell for sid in ids if sid.kernel is Kernel.SERIES and sid.runtime]
    each = [s.name for s in findings.suites if s.name.startswith(BUILD_EACH)]
    return list(dict.fromkeys([*runs, *each]))


def payloads(
    findings: Findings, info: SeriesInfo, prefix: str = "zpfarm", url: str | None = None
) -> list[dict[str, Any]]:
    """[{"patch": {file, subject, message_id, patch_id}, "check": CheckCreate}, ...] in series and cell order."""
    if url is not None and len(url) > URL_MAX:
        raise UserError(f"--url: {len(url)} characters; patchwork takes at most {URL_MAX}")
    if not info.patches:
        raise UserError("the series has no patches to check")
    out = []
    for cell in _cells(findings):
        problems = [p for p in findings.regressions if _where(p) == cell]
        blame = findings.blame(problems[0]) if problems else None
        untested = [p for p in findings.untested if _where(p) == cell]
        steps = _steps(findings, cell)
        for number, patch in enumerate(info.patches, 1):
            if cell.startswith(BUILD_EACH):
                state, why = steps.get(number, ("warning", "build-each has no step of this patch"))
            else:
                state, why = _state(patch.subject, problems, untested, blame, info)
            check: dict[str, Any] = {"state": state, "context": context(prefix, cell), "description": why}
            if url is not None:
                check["target_url"] = url
            ids = {
                "file": patch.file,
                "subject": patch.subject,
                "message_id": patch.message_id,
                "patch_id": patch.patch_id,
            }
            out.append({"patch": ids, "check": check})
    return out


def _where(problem: Problem) -> str:
    return problem.suite if problem.suite.startswith(BUILD_EACH) else problem.cell


def _steps(findings: Findings, cell: str) -> dict[int, tuple[str, str]]:
    """build-each's own verdict on each patch: its first failure fails, a later one warns, a build passes."""
    suite = next((s for s in findings.suites if s.name == cell), None)
    verdicts: dict[int, tuple[str, str]] = {}
    failed = False
    for case in suite.cases if suite else ():
        number, _, _ = case.name.partition(" ")
        if not number.isdigit() or int(number) == 0:
            continue
        if case.status in BAD:
            verdicts[int(number)] = (
                "warning" if failed else "fail",
                _cap(f"build-each: {case.message or case.status.value}"),
            )
            failed = True
        else:
            verdicts[int(number)] = ("success", "builds without a warning")
    return verdicts


def _state(
    subject: str,
    problems: Sequence[Problem],
    untested: Sequence[Problem],
    blame: Blame | None,
    info: SeriesInfo,
) -> tuple[str, str]:
    if problems:
        first = problems[0]
        what = f"{len(problems)} regression(s), first {first.case.name}: {first.case.status.value}"
        blamed = blame.patch(info) if blame else None
        if blamed is not None and blamed.subject == subject and blame is not None:
            return "fail", _cap(f"{blame.tool} names this patch: {what}")
        if blamed is not None and blame is not None:
            return "warning", _cap(f"{what}; {blame.tool} names patch {info.patches.index(blamed) + 1}")
        return "warning", _cap(f"{what}; no patch named yet (run build-each or bisect)")
    if untested:
        return "warning", _cap(f"not tested: {untested[0].case.name}: {untested[0].case.message}")
    return "success", "no regressions"


def _cap(text: str) -> str:
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 3] + "..."


def dumps(items: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(items), sort_keys=True, indent=1, ensure_ascii=False) + "\n"
