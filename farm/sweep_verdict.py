"""The sweep's verdict on one patch under one config: its compile against the base's (pure).

BUILD: an object compiles on the base (or is new) but not with the patch;
the message has the compiler's first error line and the config with its
seed. FAIL: it compiles but prints a W=1 warning the base did not print for
the same objects. SKIP: the config does not build any of its objects, or
the object fails on the base already. PASS otherwise; the warnings that were
already there are listed apart in the output, with the reproducer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from farm.kernel import diag
from farm.kernel.sweepconf import Compiled
from farm.model.results import Status, TestResult
from farm.model.sweep import Config


def describe(config: Config) -> str:
    return f"{config.target} KCONFIG_SEED={config.seed}" if config.seed is not None else config.target


# The commands that rebuild these objects by hand (a checkout and a make line).
Reproducer = Callable[[Sequence[str]], Sequence[str]]


def verdict(
    name: str, config: Config, done: Compiled, on_base: Compiled, recipe: str, reproduce: Reproducer
) -> TestResult:
    new = diag.added(done.diagnostics, on_base.diagnostics)
    old = [d for d in done.diagnostics if d not in new]
    broken = [o for o in done.failed if o not in on_base.failed]
    warned = [o for o in done.objects if any(d.file == o.removesuffix(".o") + ".c" for d in new)]
    culprits = broken[:1] or warned[:1] or [o for o in done.objects if o not in done.absent]
    output = _output(done, new, old, recipe, reproduce(culprits) if culprits else ())
    where = describe(config)

    def result(status: Status, message: str) -> TestResult:
        return TestResult(name, status, message, output, elapsed=done.elapsed)

    if done.timed_out:
        return result(Status.INFRA, f"the compile timed out under {where}")
    if broken:
        errors = [d for d in new if d.kind == "error"] or [d for d in done.diagnostics if d.kind == "error"]
        line = errors[0].short if errors else "(no compiler error line: see the log)"
        return result(Status.BUILD, f"{broken[0]} does not compile under {where}: {line}")
    if done.failed:
        return result(Status.SKIP, f"{done.failed[0]} does not compile under {where} on the base either")
    warnings = [d for d in new if d.kind == "warning"]
    if warnings:
        return result(Status.FAIL, f"{len(warnings)} new W=1 warning(s) under {where}: {warnings[0].short}")
    built = [o for o in done.objects if o not in done.absent]
    if not built:
        return result(Status.SKIP, f"{where} builds none of {', '.join(done.objects)}")
    note = f", {len(old)} warning(s) the base has too" if old else ""
    return result(Status.PASS, f"{len(built)} object(s) compiled under {where}{note}")


def _output(
    done: Compiled, new: Sequence[diag.Diagnostic], old: Sequence[diag.Diagnostic], recipe: str, repro: Sequence[str]
) -> str:
    lines = ["reproduce:", f"  {recipe}", *(f"  {r}" for r in repro), f"log: {done.log}"]
    if done.absent:
        lines.append(f"not built under this config: {' '.join(done.absent)}")
    if new:
        lines += ["new:", *(f"  {d.raw}" for d in new)]
    if old:
        lines += ["existing (the base has them too):", *(f"  {d.raw}" for d in old)]
    return "\n".join(lines)
