"""The architecture holds: farm/'s packages import only the layers below them, and cli.py stays thin.

Layers, bottom up (README "Architecture"):
  model                 values and the matrix: imports nothing of the farm's but model
  judge, host           the verdict on output (pure); the machine (processes, cache, ssh)
  report, kernel, guest JUnit and comparisons; kernel trees and builds; what runs in guests
  vm                    the host side of a guest: the vng command line, the KVM probe, the root filesystem
  stages, pipeline, build_each, bisect, hosttest, doctor, plan ...   the farm's jobs
  ui, commands, cli.py  what a person sees
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FARM = ROOT / "farm"
# Which of farm's packages each package may import (itself included).
ALLOWED = {
    "model": {"model"},
    "judge": {"model", "judge"},
    "host": {"model", "host"},
    "report": {"model", "judge", "host", "report"},
    "kernel": {"model", "host", "kernel"},
    "guest": {"model", "host", "guest"},
    "vm": {"model", "host", "guest", "vm"},
}
NO_RICH = {"model", "judge", "report", "host", "kernel", "guest", "vm"}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def farm_modules() -> list[Path]:
    return [p for p in FARM.rglob("*.py") if "files" not in p.relative_to(FARM).parts]


def imports(path: Path) -> set[str]:
    """Every module path imports, at any depth of the file (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def farm_package(name: str) -> str | None:
    """The package of a farm module: farm.kernel.build is in kernel; farm.pipeline is its own."""
    parts = name.split(".")
    return parts[1] if parts[0] == "farm" and len(parts) > 1 else None


@pytest.mark.parametrize("path", farm_modules(), ids=lambda p: module_name(p))
def test_each_layer_imports_only_the_layers_below_it(path: Path) -> None:
    package = path.relative_to(FARM).parts[0]
    used = {p for name in imports(path) if (p := farm_package(name))}
    if package in ALLOWED:
        assert used <= ALLOWED[package], f"{module_name(path)} imports {sorted(used - ALLOWED[package])}"
    assert "cli" not in imports(path)
    if package in NO_RICH:
        assert not [n for n in imports(path) if n.split(".")[0] == "rich"], f"{module_name(path)} draws"


def test_the_code_that_runs_in_the_guest_needs_only_the_standard_library() -> None:
    for path in (FARM / "guest" / "files").glob("*.py"):
        outside = {n.split(".")[0] for n in imports(path)} - set(sys.stdlib_module_names) - {"__future__"}
        assert not outside, f"{path.name} imports {sorted(outside)}"


def test_no_import_cycles() -> None:
    graph = {module_name(p): {n for n in imports(p) if n.startswith("farm")} for p in farm_modules()}
    edges = {m: {n for n in names if n in graph and n != m} for m, names in graph.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(edges[m]):
            assert state.get(n) != 1, " -> ".join([*path, m, n])
            if n not in state:
                visit(n, [*path, m])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [])


def _commands() -> list[Path]:
    return [ROOT / "cli.py", *sorted((FARM / "commands").glob("*.py"))]


def test_the_face_is_thin() -> None:
    """Command bodies are short: the work is in the jobs. cli.py and farm/commands/ never reach into kernel/."""
    for path in _commands():
        used = {n for n in imports(path) if farm_package(n) == "kernel"}
        assert not used, f"{path.name} reaches into kernel/"
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and ast.get_docstring(node) and not node.name.startswith("_"):
                body = node.body[1:]  # without the docstring
                lines = body[-1].end_lineno - body[0].lineno + 1  # type: ignore[operator]
                assert lines <= 35, f"the body of {node.name} in {path.name} is {lines} lines"


def test_no_module_is_over_400_lines() -> None:
    for path in [*_commands(), *farm_modules()]:
        lines = len(path.read_text().splitlines())
        assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines"


def test_only_cli_turns_outcomes_into_exit_codes() -> None:
    """Commands return a Report or an Outcome and raise errors; cli.py alone exits (bisect-step speaks git's)."""
    for path in [*farm_modules(), *(FARM / "commands").glob("*.py")]:
        source = path.read_text()
        assert "sys.exit(" not in source, f"{path.relative_to(ROOT)} calls sys.exit"
        exits = source.count("typer.Exit(")
        allowed = 2 if path.name == "bisect.py" and path.parent.name == "commands" else 0
        assert exits == allowed, f"{path.relative_to(ROOT)} raises typer.Exit"


# Test files that test the whole rather than one module: a real kernel end to end, these rules, the linters.
WHOLE = {"test_e2e.py", "test_layers.py", "test_lint.py"}


def test_each_test_file_is_named_for_the_module_it_tests() -> None:
    """tests/test_<module>.py tests farm's <module>.py (cli.py included); a module in a package of its
    own may carry the package's name in front, as tests/test_history_store.py for report/history/store.py."""
    modules = {"cli"} | {p.stem for p in farm_modules()} | {f"{p.parent.name}_{p.stem}" for p in farm_modules()}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        if path.name not in WHOLE:
            assert path.stem.removeprefix("test_") in modules, f"{path.name} names no module of farm/"
