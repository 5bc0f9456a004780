"""A stand-in `zpfarm` for running the generated pipelines under act and gitlab-ci-local.

A fixed two-cell plan with two sweep toolchains; build writes a fake DIR/KEY.tar.zst; test writes a
JUnit suite for its row (and fails without one when the row is named in
$ZPFARM_STUB_LOSE, like a job that died; it checks its kernel artifact
arrived unless $ZPFARM_STUB_NO_ARTIFACTS is set); sweep writes its toolchain's suite, with a
build failure and exit 1 for a toolchain named in $ZPFARM_STUB_SWEEP_FAIL ($ZPFARM_STUB_NO_SWEEP:
a plan without sweep rows); merge, compare, `history`, report html
and `ci gitlab --child` are the farm's real library code. Every call is appended to
$ZPFARM_STUB_LOG as one JSON line: the argv and the working directory.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from farm.ci import gitlab
from farm.model import plan as plan_mod
from farm.model.plan import BuildRow, Stage, SweepRow, TestRow
from farm.model.results import Status, TestResult
from farm.report import compare, html, junit, merge

HOSTED = ("ubuntu-latest",)
PLAN = plan_mod.Plan(
    builds=(
        BuildRow("k1base", "x86_64", "base-x86_64-on", "base", "on", "gcc 12", HOSTED),
        BuildRow("k2series", "x86_64", "series-x86_64-on", "series", "on", "gcc 12", HOSTED),
    ),
    tests=(
        TestRow("base-x86_64-on/default", "base-x86_64-on", "default", "k1base", "x86_64", True, 45, HOSTED),
        TestRow("series-x86_64-on/default", "series-x86_64-on", "default", "k2series", "x86_64", True, 45, HOSTED),
        TestRow("series-x86_64-on/always", "series-x86_64-on", "always", "k2series", "x86_64", False, 30, HOSTED),
    ),
    sweeps=(
        SweepRow("x86_64-gcc", "x86_64", "gcc", ("x86_64-gcc/sweep",), HOSTED),
        SweepRow("arm64-clang", "arm64", "clang", ("arm64-clang/sweep",), HOSTED),
    ),
)


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def options(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == name]


def positional(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a.startswith("-"):
            skip = True
        else:
            out.append(a)
    return out


def main(argv: list[str]) -> int:
    if log := os.environ.get("ZPFARM_STUB_LOG"):
        with open(log, "a") as f:
            f.write(json.dumps({"argv": argv, "cwd": os.getcwd()}) + "\n")
    cmd, rest = argv[0], argv[1:]
    if cmd == "plan":
        stage = option(rest, "--stage")
        plan = replace(PLAN, sweeps=()) if os.environ.get("ZPFARM_STUB_NO_SWEEP") else PLAN
        print(plan.to_json(Stage(stage) if stage else None))
    elif cmd == "ci":
        sys.stdout.write(gitlab.child(plan_mod.load(Path(option(rest, "--child") or ""))))
    elif cmd == "build":
        key, out = option(rest, "--key"), Path(option(rest, "--out") or "")
        PLAN.build(key or "")
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{key}.tar.zst").write_text(f"kernel {key}\n")
    elif cmd == "test":
        return _test(rest)
    elif cmd == "sweep":
        return _sweep(rest)
    elif cmd == "merge":
        expected = options(rest, "--expect")
        if plan_file := option(rest, "--expect-from"):
            expected += merge.expected_suites(Path(plan_file))
        done = merge.merge([Path(p) for p in positional(rest)], Path(option(rest, "-o") or ""), expected)
        print(f"merged {len(done.suites)} suites, lost: {', '.join(done.lost) or 'none'}")
    elif cmd == "history":
        return _history(rest)
    elif cmd == "report" and rest[:1] == ["html"]:
        paths = [Path(p) for p in positional(rest[1:])]
        Path(option(rest, "-o") or "").write_text(html.render(html.page(paths)))
    elif cmd == "compare":
        before, after = compare.split_kernels(compare.from_junit(Path(positional(rest)[0])))
        changes = compare.diff(before, after)
        sys.stdout.write(compare.markdown(changes, "base", "series"))
        return 1 if any(c.kind is compare.Kind.REGRESSION for c in changes) else 0
    else:
        print(f"zpfarm stub: no command {cmd!r}", file=sys.stderr)
        return 2
    return 0


def _history(argv: list[str]) -> int:
    """`history ingest JUNIT...` into $ZPFARM_HISTORY, and `history flaky`, with the real history."""
    from farm.report.history import History

    with History.open(Path(os.environ["ZPFARM_HISTORY"])) as history:
        if argv[0] == "ingest":
            done = history.ingest([Path(p) for p in argv[1:]])
            print(f"history: {sum(r.suites for r in done)} suites recorded, {history.runs()} runs in all")
        else:
            print(f"history: {len(history.flaky())} flaky tests")
    return 0


def _sweep(argv: list[str]) -> int:
    """`sweep --only 'TOOLCHAIN/*'`: the toolchain's suites, as the real sweep names them and its cases."""
    toolchain = (option(argv, "--only") or "").removesuffix("/*")
    (row,) = [r for r in PLAN.sweeps if r.toolchain == toolchain]
    broken = toolchain in os.environ.get("ZPFARM_STUB_SWEEP_FAIL", "").split()
    ksm = TestResult("0006 mm: use is_ksm_zero_pte() [allnoconfig]", Status.FAIL if broken else Status.PASS, "build")
    cases = (TestResult("0001 mm: add is_file_zeropage_pte() [allnoconfig]", Status.PASS), ksm)
    now = datetime.now(UTC)
    props = {"arch": row.arch, "compiler": row.compiler}
    junit.write(Path(option(argv, "--junit") or ""), [junit.Suite(s, cases, props, "", now, 3.0) for s in row.suites])
    return 1 if broken else 0


def _test(argv: list[str]) -> int:
    suite, kernel = option(argv, "--cell") or "", Path(option(argv, "--kernel") or "")
    row = PLAN.test(suite)
    no_artifacts = os.environ.get("ZPFARM_STUB_NO_ARTIFACTS")  # act offline: the artifact actions are no-ops
    if not no_artifacts and (not kernel.is_file() or kernel.read_text() != f"kernel {row.key}\n"):
        print(f"{kernel}: no kernel artifact for {row.key}", file=sys.stderr)
        return 2
    if suite in os.environ.get("ZPFARM_STUB_LOSE", "").split():
        print(f"{suite}: the job dies before writing its JUnit", file=sys.stderr)
        return 3
    hole = Status.XFAIL if suite.startswith("base-") else Status.PASS
    cases = (TestResult("memory.read_hole", hole, elapsed=1.0), TestResult("coherence.rfc", Status.PASS, elapsed=0.5))
    now = datetime.now(UTC)
    junit.write(Path(option(argv, "--junit") or ""), [junit.Suite(suite, cases, {"accel": "tcg"}, "", now, 2.0)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
