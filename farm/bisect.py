"""Find the first commit that breaks a test: `git bisect run` with the farm as the step.

The bisect happens in a worktree of its own (never the user's checkout).
Each step builds that checkout for one cell (build dirs of its own, so a
step that changes one file rebuilds in about a minute), boots it, runs the
one test program, and answers git: 0 good, 1 bad, 125 skip (the build or
boot failed for reasons that say nothing about the test).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from farm import pipeline
from farm.host import proc
from farm.host.cache import Cache
from farm.judge import triage
from farm.kernel import git, series, source
from farm.model.arches import Accel
from farm.model.errors import InfraError, UserError
from farm.model.matrix import Matrix
from farm.model.results import Report, Status
from farm.options import Options
from farm.report.progress import Reporter

GOOD, BAD, SKIP = 0, 1, 125
STATE = "bisect.json"  # in the results directory: what --resume continues
BAD_STATUSES = (Status.FAIL, Status.CRASH, Status.XFAIL)  # XFAIL: it did fail


@dataclass(frozen=True)
class Step:
    commit: str
    subject: str
    verdict: str  # good, bad, skip
    elapsed: float
    why: str


@dataclass(frozen=True)
class Outcome:
    first_bad: str | None
    subject: str
    steps: tuple[Step, ...]
    log: str  # git bisect log


def matches(case_name: str, test: str) -> bool:
    """A test names a program ("coherence") or leaves ("coherence.read_*")."""
    return case_name == test or case_name.startswith(f"{test}.") or fnmatch.fnmatchcase(case_name, test)


def judge_run(report: Report, test: str) -> tuple[int, str]:
    """One run's answer for git bisect, and why."""
    cases = [c for s in report.suites for c in s.cases]
    # A kernel that does not build, bad input or a broken machine says nothing about the test.
    untestable = [c for c in cases if c.status in (Status.BUILD, Status.INPUT, Status.INFRA)]
    if untestable:
        return SKIP, f"{untestable[0].name}: {untestable[0].message}"
    hits = [c for c in cases if matches(c.name, test)]
    if not hits:
        return SKIP, f"no test named {test!r} at this commit"
    bad = [c for c in hits if c.status in BAD_STATUSES]
    if bad:
        return BAD, f"{bad[0].name}: {bad[0].status.value} {bad[0].message}".strip()
    return GOOD, f"{len(hits)} results, none failed"


def combine(verdicts: Sequence[tuple[int, str]], threshold: int) -> tuple[int, str]:
    """A step is bad when at least `threshold` of its runs were bad (flaky tests): triage.Tally's count."""
    runs = triage.tally(None if v == SKIP else v == BAD for v, _ in verdicts)
    if runs.failed(threshold):
        first = next(why for v, why in verdicts if v == BAD)
        return BAD, f"{runs.bad}/{len(verdicts)} runs bad: {first}"
    if not runs.tested:
        return SKIP, verdicts[0][1]
    return GOOD, f"{runs.bad}/{len(verdicts)} runs bad (threshold {threshold})"


def record(steps_file: Path, worktree: Path, verdict: int, why: str, elapsed: float) -> None:
    """Append this step to the bisect's step log (JSON lines)."""
    commit = git.out(worktree, ["rev-parse", "HEAD"])
    subject = git.out(worktree, ["log", "-1", "--format=%s"])
    name = {GOOD: "good", BAD: "bad"}.get(verdict, "skip")
    step = {"commit": commit, "subject": subject, "verdict": name, "elapsed": round(elapsed, 1), "why": why}
    with steps_file.open("a", encoding="utf-8") as f:
        f.write(json.dumps(step) + "\n")


def in_progress(worktree: Path) -> bool:
    return (worktree / ".git").exists() and git.run(worktree, ["bisect", "log"]).ok


def start(worktree: Path, good: str, bad: str) -> None:
    git.run(worktree, ["bisect", "reset", "--quiet"])
    done = git.run(worktree, ["bisect", "start", bad, good])
    if not done.ok:
        raise UserError(f"git bisect start {bad} {good}: {done.tail(2)}")


def run(worktree: Path, step_argv: Sequence[str], steps_file: Path, log: Path) -> Outcome:
    """git bisect run to the end; the outcome with every step's verdict."""
    started = time.monotonic()
    done = proc.run(["git", "-C", str(worktree), "bisect", "run", *step_argv], log=log)
    if not done.ok and "first bad commit" not in done.output:
        raise InfraError(f"git bisect run stopped after {time.monotonic() - started:.0f} s: {done.tail(3)}")
    steps = (
        tuple(Step(**json.loads(line)) for line in steps_file.read_text().splitlines()) if steps_file.is_file() else ()
    )
    first = re.search(r"^([0-9a-f]{40}) is the first bad commit", done.output, re.M)
    bisect_log = git.run(worktree, ["bisect", "log"]).output
    if first is None:
        return Outcome(None, "", steps, bisect_log)
    subject = git.out(worktree, ["log", "-1", "--format=%s", first[1]])
    git.run(worktree, ["bisect", "reset", "--quiet"])
    return Outcome(first[1], subject, steps, bisect_log)


def reset(worktree: Path) -> None:
    git.run(worktree, ["bisect", "reset", "--quiet"])


@dataclass(frozen=True)
class State:
    """A bisect in progress: what each step runs, and the range (saved as JSON beside the results)."""

    step: tuple[str, ...]  # the `zpfarm bisect-step` command git bisect runs
    cell: str  # CELL/RUNTIME
    test: str
    good: str
    bad: str
    base: str = ""  # the base's point release when the bisect started: every step builds on it

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            data = json.loads(path.read_text())
            return cls(**{**data, "step": tuple(data["step"])})
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise UserError(f"{path}: no readable bisect state ({e}); start again without --resume") from None


def worktree(matrix: Matrix, cache: Cache) -> Path:
    """The bisect's own checkout (never the user's, never the runs')."""
    return cache.bisect.worktree(source.repo_name(matrix.source))


def step_argv(
    zpfarm: list[str], matrix: Matrix, cache: Cache, accel: Accel, runs: int, threshold: int, results: Path
) -> list[str]:
    """The `zpfarm bisect-step` command every step runs (without the cell, test and checkout)."""
    if threshold > runs:
        raise UserError(f"--threshold {threshold} is above --runs {runs}: no step could ever be bad")
    argv = [*zpfarm, "bisect-step", "--matrix", str(matrix.path), "--cache", str(cache.root), "--accel", accel]
    if matrix.source.tree is None:  # the point release it starts on, even if the tarball moves meanwhile
        argv += ["--base", matrix.source.base]
    return [*argv, "--runs", str(runs), "--threshold", str(threshold), "--results", str((results / "steps").resolve())]


def begin(
    matrix: Matrix,
    cache: Cache,
    cell: str,
    test: str,
    good: str | None,
    bad: str | None,
    step: list[str],
    results: Path,
) -> State:
    """Start a bisect of test in the one cell cell selects: good defaults to the base, bad to the series tip.

    step is the bisect-step command without the cell, test and checkout. The
    state is saved in results (for --resume) and the step log starts empty.
    """
    picked = matrix.select_one(cell)
    repo = source.ensure_repo(matrix.source, cache)
    base = source.base_commit(repo, matrix.source)
    tree = worktree(matrix, cache)
    source.worktree(repo, tree, base)
    reset(tree)
    if bad is None:  # the series' tip, applied in the bisect's own worktree
        bad = series.apply(series.load(matrix.source.series), tree, matrix.source.base)
    good_commit, bad_commit = git.resolve(repo, good or base), git.resolve(repo, bad)
    if good_commit is None or bad_commit is None:
        raise UserError(f"unknown ref: {good if good_commit is None else bad}")
    start(tree, good_commit, bad_commit)
    state = State(
        (*step, "--cell", picked, "--test", test, "--checkout", str(tree)),
        picked,
        test,
        good_commit,
        bad_commit,
        matrix.source.base,
    )
    state.save(results / STATE)
    (results / "steps.jsonl").unlink(missing_ok=True)
    return state


def moved(state: State, matrix: Matrix) -> str:
    """ "base moved: A -> B" when the matrix now resolves to another point release than the bisect's."""
    now = matrix.source.base
    if state.base and now != state.base:
        return f"base moved: {state.base} -> {now} since the bisect started; its steps stay on {state.base}"
    return ""


def step_results(checkout: Path, results: Path) -> Path:
    """Where one step's runs go: RESULTS/<the checkout's short commit>."""
    return results / git.out(checkout, ["rev-parse", "--short=12", "HEAD"])


def step(opts: Options, reporter: Reporter, test: str, runs: int, threshold: int) -> tuple[int, str]:
    """One git bisect step: runs of the test in opts' one cell at its checkout, and the verdict."""
    assert opts.checkout is not None
    verdicts = []
    for i in range(runs):
        where = opts.out / f"run{i + 1}"
        one = dataclasses.replace(opts, out=where, junit=where / "junit.xml")
        verdicts.append(judge_run(pipeline.run(one, reporter), test))
    return combine(verdicts, threshold)
