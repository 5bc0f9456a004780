"""The verdict on one boot: test results from what the guest wrote and what its console shows.

Pure: judge() takes the boot's outcome (Booted), the console text, the kernel
(base or series, for the expectations) and the programs the runner was asked
to run, and returns every TestResult of that boot. Nothing here reads files or
starts processes; tests/data/guest/ holds real boots to check it against.

The rules:
- every KTAP leaf is judged against expectations.toml (judge.expect);
- a program the runner stopped (TIMEOUT, ERROR signal) leaves its missing
  results as "not reached", and a bad exit of a program whose own results
  look fine is a result of its own (<program>.exit);
- a program that printed no KTAP result at all is not a pass (<program>.ktap);
- a guest that stopped early says why in a "boot" case: INFRA when it never
  started the kernel or was killed from outside (qemu ended without a panic
  or a power-off), CRASH when the kernel panicked or hung; the programs it
  never reached are "never ran", each once;
- every kernel report on the console (panic, BUG, WARNING, ...) is a CRASH
  on the program that was running when it fired, but one a [[console_ignore]]
  entry explains (judge.known), which is an xfail citing it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from farm.judge import console, expect, known, ktap
from farm.model.results import Booted, Status, TestResult

# virtme-init powers the guest off at the end; the kernel then prints one of these.
_POWER_OFF = re.compile(r"reboot: (?:Power down|Restarting system)|System halted")
_PHANTOM = re.compile(r"#\d+")  # a result the runner's plan promised but never wrote
_EMPTY_PLAN = re.compile(r"^1\.\.0\b")
_CONSOLE_TAIL = 40


def judge(
    booted: Booted,
    console_text: str,
    kernel: str,
    planned: Sequence[str],
    expectations: Sequence[expect.Expectation],
    ignores: Sequence[known.ConsoleIgnore] = (),
) -> list[TestResult]:
    """Every result of one boot, in the order the runner ran the programs."""
    root = _named_programs(ktap.parse(booted.ktap))
    cases = _explain_missing(root, expect.evaluate(root, kernel, expectations))
    if not booted.finished:  # the boot case says why; "expected N tests" would say it again
        stopped = f"not reached: the guest stopped while {_running(root)} ran"
        cases = [_reworded(c, stopped) for c in cases if c.name != "ktap"]
    silent = _silent(root, planned)
    cases = [c for c in cases if c.name not in {s.program for s in silent}]  # the runner's "ok" is no pass
    cases += _bad_exits(root) + silent
    splats = console.scan(console_text)
    if not booted.finished:
        seen = {p.name for p in root.children}
        cases.append(unfinished(booted, console_text, splats))
        cases += [
            TestResult(name, Status.CRASH, "never ran: the guest stopped first") for name in planned if name not in seen
        ]
    for s in splats:
        name, what = f"{s.test or 'kernel'}.console", f"{s.kind} (console line {s.line})"
        if explained := known.ignored(s.excerpt, ignores, None):
            cases.append(TestResult(name, Status.XFAIL, f"{explained.why()}: {what}", s.excerpt))
        else:
            cases.append(TestResult(name, Status.CRASH, what, s.excerpt))
    return cases


def finished_part(ktap_text: str, kernel: str, expectations: Sequence[expect.Expectation]) -> list[TestResult]:
    """The verdicts a boot stopped from outside had already written: every leaf with a result line.

    What never got its result line is not judged here: the stop, not the kernel, ended it.
    """
    root = _named_programs(ktap.parse(ktap_text))
    judged = expect.evaluate(root, kernel, expectations)
    return [c for c in judged if c.status in (Status.PASS, Status.FAIL, Status.SKIP, Status.XFAIL)]


def _named_programs(root: ktap.KtapNode) -> ktap.KtapNode:
    """The runner's top level without the placeholders for programs it never reached."""
    kept = tuple(p for p in root.children if not (p.status is ktap.KtapStatus.MISSING and _PHANTOM.fullmatch(p.name)))
    return dataclasses.replace(root, children=kept)


def _running(root: ktap.KtapNode) -> str:
    """The program that was running when the guest stopped: the last one without a result line."""
    missing = [p.name for p in root.children if p.status is ktap.KtapStatus.MISSING]
    return missing[-1] if missing else "the runner"


def _reworded(case: TestResult, message: str) -> TestResult:
    if case.status is Status.CRASH and case.message == expect.CRASH_MESSAGE:
        return dataclasses.replace(case, message=message)
    return case


def _explain_missing(root: ktap.KtapNode, cases: list[TestResult]) -> list[TestResult]:
    """Results a program never printed because the runner stopped it: say so."""
    stopped = {p.name: p.directive for p in root.children if p.directive.startswith(("TIMEOUT", "ERROR"))}
    out = []
    for c in cases:
        if c.program in stopped and c.status is Status.CRASH and c.message == expect.CRASH_MESSAGE:
            c = dataclasses.replace(c, message=f"not reached: {c.program} was stopped ({stopped[c.program]})")
        out.append(c)
    return out


def _bad_exits(root: ktap.KtapNode) -> list[TestResult]:
    """Programs the runner marked failed (timeout, signal, exit status) whose own results look fine."""
    out = []
    for prog in root.children:
        fine = all(c.status in (ktap.KtapStatus.OK, ktap.KtapStatus.SKIP) for c in prog.children)
        if prog.children and prog.status is ktap.KtapStatus.NOT_OK and fine:
            # A directive is the runner's TIMEOUT or ERROR (signal): a crash; else a bare exit status.
            status = Status.CRASH if prog.directive else Status.FAIL
            why = prog.directive or next((line for line in reversed(prog.log) if "exit status" in line), "failed")
            out.append(TestResult(f"{prog.name}.exit", status, why, "\n".join(prog.log)))
    return out


def _silent(root: ktap.KtapNode, planned: Sequence[str]) -> list[TestResult]:
    """Programs that ended without printing a single KTAP result (nor an empty plan): not a pass."""
    out = []
    for prog in root.children:
        if prog.name not in planned or prog.children or prog.status is not ktap.KtapStatus.OK:
            continue  # results of its own, or the runner already failed it
        if any(_EMPTY_PLAN.match(line.strip()) for line in prog.log):
            continue  # "1..0 # SKIP why": it said it has nothing to run here
        why = "printed no KTAP result (nothing was tested)"
        out.append(TestResult(f"{prog.name}.ktap", Status.CRASH, why, "\n".join(prog.log[-20:])))
    return out


def unfinished(booted: Booted, text: str, splats: Sequence[console.Splat]) -> TestResult:
    """Why the runner did not finish, as a "boot" test case."""
    tail = "\n".join(text.splitlines()[-_CONSOLE_TAIL:])
    if "Linux version" not in text:
        last = next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "no output")
        why = "timed out before the kernel printed anything" if booted.timed_out else f"the guest did not start: {last}"
        return TestResult("boot", Status.INFRA, f"{why} (vng exit {booted.returncode})", tail)
    if booted.timed_out:
        return TestResult("boot", Status.CRASH, f"guest hung: killed after {booted.elapsed:.0f} s", tail)
    if splats:
        return TestResult("boot", Status.CRASH, f"guest stopped before the tests finished: {splats[-1].kind}", tail)
    if _POWER_OFF.search(text):
        why = f"the guest powered off before the runner finished (vng exit {booted.returncode})"
        return TestResult("boot", Status.CRASH, why, tail)
    why = f"qemu ended without a kernel report or a power-off: killed from outside? (vng exit {booted.returncode})"
    return TestResult("boot", Status.INFRA, why, tail)
