"""Tests for farm.selftests and its guest helpers (guest/ksft_tap.py, ksft_setup.py).

The corpus in tests/data/selftests is real output of the 6.12.117 selftests
(see its README). The real build needs the farm's kernel source in the cache
(or ZPFARM_SELFTESTS_TREE pointing to a 6.12 tree) and skips without it.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from kernels import imported

from farm.guest import selftest_runs, selftests
from farm.host import proc
from farm.judge import expect, ktap
from farm.model import arches
from farm.model.programs import GuestTest
from farm.model.results import Status

ROOT = Path(__file__).resolve().parent.parent

DATA = Path(__file__).parent / "data" / "selftests"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ksft_tap = _load(selftests.TAP_ADAPTER)


def _replay(fmt: str, log: Path, code: int) -> str:
    """What ksft_tap.py prints for a program that printed log and exited with code."""
    argv = [sys.executable, str(selftests.TAP_ADAPTER), fmt, "sh", "-c", f'cat "$0"; exit {code}', str(log)]
    return proc.run(argv, timeout=60).output


def _nest(name: str, output: str, code: int) -> str:
    """output as the guest runner writes it into results.ktap."""
    lines = ["KTAP version 1", "1..1", *("    " + line for line in output.splitlines())]
    return "\n".join([*lines, f"{'ok' if code == 0 else 'not ok'} 1 {name}", ""])


def _counts(root: ktap.KtapNode) -> dict[str, int]:
    return dict(Counter(node.status.name for _, node in ktap.leaves(root)))


# (file, ksft_tap.py format, exit status, leaf counts). Counts follow each
# program's own summary ("# Totals:" or uffd's "pass=36, skip=30"); farm.ktap
# counts kselftest's "ok N # XFAIL" (mremap_test) as NOT_OK.
CORPUS = [
    ("cow.log", "ksft", 0, {"OK": 212, "SKIP": 458}),
    ("gup_longterm.log", "ksft", 0, {"SKIP": 40}),
    ("gup_test-a.log", "ksft", 0, {"SKIP": 1}),
    ("madv_populate.log", "ksft", 0, {"OK": 16}),
    ("mremap_test.log", "ksft", 0, {"OK": 16, "NOT_OK": 3}),
    ("pagemap_ioctl.log", "ksft", 0, {"OK": 97, "SKIP": 18}),
    ("uffd-unit-tests.raw", "uffd", 0, {"OK": 36, "SKIP": 30}),
    ("memfd_test.raw", "memfd", 0, {"OK": 38}),
    ("khugepaged.raw", "khugepaged", 4, {"OK": 23, "NOT_OK": 4}),
]


def test_corpus_is_complete() -> None:
    assert sorted(p.name for p in DATA.iterdir() if p.suffix in (".log", ".raw")) == sorted(c[0] for c in CORPUS)


@pytest.mark.parametrize(("name", "fmt", "code", "counts"), CORPUS, ids=[c[0] for c in CORPUS])
def test_real_output_through_the_adapter(name: str, fmt: str, code: int, counts: dict[str, int]) -> None:
    output = _replay(fmt, DATA / name, code)
    root = ktap.parse(output)
    assert _counts(root) == counts
    assert [path for path, node in ktap.walk(root) if node.errors] == []
    # Nested as the runner nests it, every leaf is "<program>.<test>".
    nested = ktap.parse(_nest("selftests-x", output, 1 if "NOT_OK" in counts else 0))
    results = expect.evaluate(nested, "base", ())
    assert {r.name.split(".", 1)[0] for r in results} == {"selftests-x"}
    assert len(results) == sum(counts.values())


@pytest.mark.parametrize(("name", "fmt", "code", "counts"), CORPUS[:6], ids=[c[0] for c in CORPUS[:6]])
def test_tap_output_parses_directly_too(name: str, fmt: str, code: int, counts: dict[str, int]) -> None:
    assert _counts(ktap.parse((DATA / name).read_text())) == counts


def test_xfail_results_are_named_after_their_description() -> None:
    names = [name for name, _ in ktap.leaves(ktap.parse(_replay("ksft", DATA / "mremap_test.log", 0)))]
    assert "mremap - Source and Destination Regions Overlapping" in names
    assert not [n for n in names if n.startswith("#")]


def test_cow_results_are_named_after_their_run_line() -> None:
    leaves = dict(ktap.leaves(ktap.parse(_replay("ksft", DATA / "cow.log", 0))))
    passed = leaves["Basic COW after fork() ... with base page"]
    assert passed.status.name == "OK" and "# No leak from parent into child" in passed.log
    assert leaves["Basic COW after fork() ... with swapped out base page"].directive.startswith("SKIP MADV_PAGEOUT")
    assert not [n for n in leaves if n.startswith("#") or ": " in n]


def test_a_cow_result_has_one_name_whatever_its_outcome(tmp_path: Path) -> None:
    """7.3's cow repeats the run's name on a passing result; a skip has none: both are the run's name."""
    run = "vmsplice() before fork(), unmap in parent after fork() ... with hugetlb (64 kB)"
    lines = ["TAP version 13", "1..1", f"# [RUN] {run}"]
    passing, skipped = (tmp_path / "pass.log", tmp_path / "skip.log")
    passing.write_text("\n".join([*lines, f"ok 1 {run}"]) + "\n")
    skipped.write_text("\n".join([*lines, "ok 1 # SKIP hugetlb not available"]) + "\n")
    names = [[n for n, _ in ktap.leaves(ktap.parse(_replay("ksft", log, 0)))] for log in (passing, skipped)]
    assert names == [[run], [run]]


def test_khugepaged_failures_carry_their_reason() -> None:
    leaves = dict(ktap.leaves(ktap.parse(_replay("khugepaged", DATA / "khugepaged.raw", 4))))
    failed = [n for n, node in leaves.items() if node.status is ktap.KtapStatus.NOT_OK]
    assert failed == [
        "collapse_swapin_single_pte (khugepaged:anon)",
        "collapse_swapin_single_pte (madvise:anon)",
        "collapse_max_ptes_swap (khugepaged:anon)",
        "collapse_max_ptes_swap (madvise:anon)",
    ]
    assert "# Swapout one page... Fail" in leaves[failed[0]].log
    # The progress bar redraws with CRs: only its final state is kept.
    assert all(len(line) < 200 for node in leaves.values() for line in node.log)


@pytest.mark.parametrize(
    ("fmt", "script", "expected"),
    [
        ("uffd", "printf 'Testing a on anon... done\\nTesting b on shmem... '; kill -SEGV $$", {"OK": 1, "NOT_OK": 1}),
        ("memfd", "echo 'memfd: CREATE'; echo 'memfd: BASIC'; echo oops; kill -ABRT $$", {"OK": 1, "NOT_OK": 1}),
        ("khugepaged", "printf 'Run test: x (madvise:anon)\\nStep...'; exit 1", {"NOT_OK": 1}),
        ("exit", "echo 'Transparent Hugepages not available'; exit 4", {"SKIP": 1}),
        ("exit", "exit 3", {"NOT_OK": 1}),
        ("exit", "true", {"OK": 1}),
    ],
)
def test_adapter_on_crashes_and_exit_statuses(tmp_path: Path, fmt: str, script: str, expected: dict[str, int]) -> None:
    log = tmp_path / "script.sh"
    log.write_text(script)
    argv = [sys.executable, str(selftests.TAP_ADAPTER), fmt, "sh", str(log)]
    done = proc.run(argv, timeout=60)
    root = ktap.parse(done.output)
    assert _counts(root) == expected, done.output
    assert done.returncode == (1 if "NOT_OK" in expected else 0)


def test_adapter_stderr_and_crash_reason_are_visible(tmp_path: Path) -> None:
    done = proc.run([sys.executable, str(selftests.TAP_ADAPTER), "memfd", "sh", "-c", "echo 'memfd: X'; kill -ABRT $$"])
    node = dict(ktap.leaves(ktap.parse(done.output)))["memfd: X"]
    assert node.status is ktap.KtapStatus.NOT_OK
    assert "# no verdict: killed by signal 6" in node.log


@pytest.mark.parametrize(
    ("fmt", "script", "hung"),
    [
        ("uffd", "echo 'Testing a on anon... done'; printf 'Testing events on shmem... '; sleep 60", "events on shmem"),
        ("ksft", "echo 'TAP version 13'; echo 1..3; echo '# [RUN] a'; echo ok 1; echo '# [RUN] b'; sleep 60", "b"),
    ],
)
def test_adapter_names_the_test_that_hung(tmp_path: Path, fmt: str, script: str, hung: str) -> None:
    done = proc.run([sys.executable, str(selftests.TAP_ADAPTER), "--timeout", "1", fmt, "sh", "-c", script], timeout=30)
    assert done.elapsed < 20 and done.returncode == 1
    leaves = dict(ktap.leaves(ktap.parse(done.output)))
    assert leaves[hung].status is ktap.KtapStatus.NOT_OK
    assert "timed out after 1 s" in (leaves[hung].directive + "\n".join(leaves[hung].log))


def test_a_selftest_that_does_not_build_is_an_error_naming_it() -> None:
    run = selftest_runs.Run("mm/khugepaged", format="khugepaged")
    test = selftests._bail(run, "khugepaged.c:1195:24: error: 'KSFT_SKIP' undeclared")
    assert test.name == "selftests-mm-khugepaged" and test.files == ()
    done = proc.run([sys.executable, *test.argv[1:]], timeout=60)
    assert done.returncode == 1
    results = expect.evaluate(ktap.parse(_nest(test.name, done.output, 1)), "base", ())
    errors = [r for r in results if r.status.is_error]
    assert errors and "mm/khugepaged did not build" in errors[0].message
    assert "KSFT_SKIP" in errors[0].message
    assert not [r for r in results if r.status is Status.PASS]


@pytest.mark.parametrize("patch", selftests._PATCHES, ids=lambda p: p.path)
def test_patch_applies_once_and_not_to_a_fixed_tree(patch: selftests.Patch) -> None:
    broken = f"before\n{patch.old}after\n"
    fixed = patch.apply(broken)
    assert fixed == f"before\n{patch.new}after\n"
    assert patch.apply(fixed) == fixed
    assert patch.apply("something else\n") == "something else\n"


def test_a_patch_the_tree_made_moot_another_way_is_not_applied(tmp_path: Path) -> None:
    (khugepaged,) = [p for p in selftests._PATCHES if p.path == "mm/khugepaged.c"]
    (tmp_path / "mm").mkdir()
    (tmp_path / "mm/vm_util.h").write_text("#include <stdio.h>\n")  # 6.12
    assert khugepaged.needed(tmp_path)
    (tmp_path / "mm/vm_util.h").write_text('#include <stdio.h>\n#include "kselftest.h"\n')  # 7.x
    assert not khugepaged.needed(tmp_path)


@pytest.mark.parametrize(
    ("check_config", "header"), [("", "local_config.h"), ("OUTPUT_H_FILE=local_config.h_gen\n", "local_config.h_gen")]
)
def test_the_config_header_gets_the_name_the_trees_makefile_wants(
    tmp_path: Path, check_config: str, header: str
) -> None:
    (tmp_path / "check_config.sh").write_text(f"#!/bin/sh\n{check_config}OUTPUT_MKFILE=local_config.mk\n")
    selftests._local_config(arches.get("x86_64"), tmp_path)
    assert (tmp_path / header).is_file() and (tmp_path / "local_config.mk").is_file()


def test_new_zeropage_selftests_of_a_series_are_picked_up(tmp_path: Path) -> None:
    mm = tmp_path / "tools/testing/selftests/mm"
    mm.mkdir(parents=True)
    (mm / "Makefile").write_text("TEST_GEN_FILES = cow\nTEST_GEN_FILES += shmem_zeropage\nTEST_GEN_FILES += other\n")
    assert selftest_runs.programs(tmp_path) == [*selftest_runs.SELECTED, "mm/shmem_zeropage"]
    (mm / "shmem_zeropage.c").write_text('#include "../kselftest.h"\nint main(void) { ksft_print_header(); }\n')
    (mm / "zeropage_pins.c").write_text("int main(void) { return 0; }\n")
    added = {r.program: r for r in selftest_runs.runs(tmp_path)[len(selftest_runs.RUNS) :]}
    assert added["mm/shmem_zeropage"].format == "ksft"
    assert added["mm/zeropage_pins"].format == "exit"
    assert added["mm/shmem_zeropage"].name == "selftests-mm-shmem_zeropage"


def test_names_are_unique_and_dotless() -> None:
    names = [r.name for r in selftest_runs.RUNS]
    assert len(set(names)) == len(names)
    assert not [n for n in names if "." in n]
    assert {r.program for r in selftest_runs.RUNS} == set(selftest_runs.SELECTED)


def test_setup_script_runs_and_prints_tap() -> None:
    """On this host (root) it mounts nothing new that is not already there
    and must not turn swap on: only its syntax and TAP shape are checked."""
    setup = _load(selftests.SETUP)
    assert setup.tool("sh") is not None
    assert setup.read("/nonexistent") == ""
    assert "cannot write" in setup.write("/nonexistent/x", "1")


# --- a real build of the 6.12 and 7.3 selftests ---------------------------------------------


def _worktree(tmp_path_factory: pytest.TempPathFactory, matrix_file: Path, name: str) -> Iterator[Path]:
    """A worktree at the matrix source's point release, imported from its tarball as zpfarm run does."""
    repo, tag = imported(matrix_file)
    tree = tmp_path_factory.mktemp(name) / "linux"
    done = proc.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), tag], timeout=900)
    assert done.ok, done.tail(5)
    yield tree
    proc.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], timeout=300)


@pytest.fixture(scope="module")
def kernel_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A 6.12.y tree (the backport's base): $ZPFARM_SELFTESTS_TREE, else the farm's import of the tarball."""
    if env := os.environ.get("ZPFARM_SELFTESTS_TREE"):
        yield Path(env)
        return
    yield from _worktree(tmp_path_factory, ROOT / "matrix-v6.12.toml", "selftests")


@pytest.fixture(scope="module")
def kernel_tree_7_3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A 7.3.y tree (the default matrix's base), imported from its tarball if the farm has not yet."""
    yield from _worktree(tmp_path_factory, ROOT / "matrix.toml", "selftests-7.3")


@pytest.mark.vm
def test_real_build_of_the_7_3_selftests(kernel_tree_7_3: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """7.3's mm Makefile wants local_config.h_gen, and its vm_util.h makes the khugepaged fix moot."""
    arch = arches.get("x86_64")
    out = tmp_path_factory.mktemp("selftests-7.3-x86_64")
    log = out / "build.log"
    tests = selftests.build(kernel_tree_7_3, arch, out, log)
    assert [t.name for t in tests] == ["selftests-setup", *(r.name for r in selftest_runs.RUNS)]  # rwp, mmap-changing
    assert all(selftests.binary(out, p).is_file() for p in selftest_runs.SELECTED), log.read_text()
    assert "patched mm/khugepaged.c" not in log.read_text()
    assert "patched mm/mremap_test.c" in log.read_text()  # 7.3 still has that bug
    assert tests[0].argv[1:] == ("ksft_setup.py", "liburing=yes")
    listed = proc.run([str(selftests.binary(out, "mm/uffd-unit-tests")), "-l"], timeout=60).output.split()
    assert set(listed) == selftest_runs.uffd_tests(kernel_tree_7_3)  # read from the source, as for arm64
    runs = {n: sum(g in n for g in selftest_runs.UFFD_GROUPS) for n in listed}
    assert {n for n, k in runs.items() if k != 1} == {"rwp-fork", "rwp-fork-pin"} and min(runs.values()) == 1


def _elf_machine(path: Path) -> tuple[int, bool]:
    """(e_machine, statically linked) from the ELF header and program headers."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2  # 64-bit
    machine = int.from_bytes(data[18:20], "little")
    phoff, phentsize, phnum = (
        int.from_bytes(data[32:40], "little"),
        int.from_bytes(data[54:56], "little"),
        int.from_bytes(data[56:58], "little"),
    )
    types = {int.from_bytes(data[phoff + i * phentsize : phoff + i * phentsize + 4], "little") for i in range(phnum)}
    return machine, 3 not in types  # PT_INTERP: a dynamic loader is needed


@pytest.mark.vm
@pytest.mark.parametrize(("arch_name", "machine"), [("x86_64", 62), ("arm64", 183)])
def test_real_build(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory, arch_name: str, machine: int) -> None:
    arch = arches.get(arch_name)
    if proc.run(["which", arch.cc]).returncode:
        pytest.skip(f"{arch.cc} is not installed")
    out = tmp_path_factory.mktemp(f"selftests-{arch_name}")
    log = out / "build.log"
    tests = selftests.build(kernel_tree, arch, out, log)

    newer = {"selftests-mm-uffd-unit-tests-rwp", "selftests-mm-uffd-unit-tests-mmap-changing"}  # 7.x's tests
    assert [t.name for t in tests] == ["selftests-setup", *(r.name for r in selftest_runs.RUNS if r.name not in newer)]
    assert all(f"patched {p.path}" in log.read_text() for p in selftests._PATCHES)  # each still applies to 6.12
    for test in tests:
        assert isinstance(test, GuestTest) and test.files, f"{test.name}: {shlex.join(test.argv)}"
        assert len({f.name for f in test.files}) == len(test.files)
        assert test.timeout >= 120
    by_name = {t.name: t for t in tests}
    assert by_name["selftests-mm-cow"].timeout == 600
    # install.sh gives x86_64 a static liburing; there is none for the arm64 cross build.
    liburing = "yes" if arch.native else "no"
    assert by_name["selftests-setup"].argv[1:] == ("ksft_setup.py", f"liburing={liburing}")
    assert by_name["selftests-mm-gup_test-dump"].argv[-6:] == ("-ct", "-F", "0x1", "0", "19", "0x1000")
    for program in selftest_runs.SELECTED:
        binary = selftests.binary(out, program)
        assert binary.is_file(), (out / "logs").iterdir()
        assert _elf_machine(binary) == (machine, True), program

    if arch.native:  # every uffd test runs in exactly one -f group
        listed = proc.run([str(selftests.binary(out, "mm/uffd-unit-tests")), "-l"], timeout=60).output.split()
        assert listed and all(sum(g in n for g in selftest_runs.UFFD_GROUPS) == 1 for n in listed), listed

    # Nothing is rebuilt when nothing changed.
    before = {p: selftests.binary(out, p).stat().st_mtime_ns for p in selftest_runs.SELECTED}
    assert selftests.build(kernel_tree, arch, out, log) == tests
    assert log.read_text().startswith("up to date")
    assert {p: selftests.binary(out, p).stat().st_mtime_ns for p in selftest_runs.SELECTED} == before
    assert not (kernel_tree / "tools/testing/selftests/mm/local_config.h").exists()  # the tree is untouched


def test_a_program_whose_build_failed_becomes_a_bail_out(tmp_path: Path) -> None:
    tree, out = tmp_path / "tree", tmp_path / "out"
    (tree / "tools/testing/selftests/mm").mkdir(parents=True)
    for program in selftest_runs.SELECTED:
        if program != "mm/khugepaged":
            selftests.binary(out, program).parent.mkdir(parents=True, exist_ok=True)
            selftests.binary(out, program).write_bytes(b"\x7fELF")
    (out / "logs").mkdir()
    (out / "logs/mm-khugepaged.log").write_text(
        "  CC khugepaged\nkhugepaged.c:1195:24: error: 'KSFT_SKIP' undeclared\n"
    )
    tests = {t.name: t for t in selftests._guest_tests(tree, out)}
    for name in ("selftests-mm-khugepaged", "selftests-mm-khugepaged-shmem"):
        assert tests[name].argv[:2] == ("/usr/bin/python3", "-c")
        assert "Bail out! mm/khugepaged did not build: khugepaged.c:1195:24: error:" in tests[name].argv[2]
    cow = tests["selftests-mm-cow"]
    assert cow.argv == ("/usr/bin/python3", "ksft_tap.py", "--timeout", "570", "ksft", "./selftests-mm-cow")
    assert [f.name for f in cow.files] == ["ksft_tap.py", "selftests-mm-cow"]
    assert (out / "share" / "selftests-mm-cow").read_bytes() == b"\x7fELF"


def test_adapter_runs_the_program_in_the_runners_tmpfs(tmp_path: Path) -> None:
    """gup_longterm's "local tmpfile" is made in the cwd: never on the 9p share."""
    argv = [sys.executable, str(selftests.TAP_ADAPTER), "exit", "sh", "-c", "pwd"]
    done = proc.run(argv, env={"ZPFARM_TMPFS": str(tmp_path)}, timeout=60)
    assert f"# {tmp_path}" in done.output.splitlines()


def test_kselftests_failure_summary_is_not_an_abort() -> None:
    """ksft_finished() prints "Bail out! N out of M tests failed" after all results."""
    script = "echo 'TAP version 13'; echo 1..2; echo ok 1 a; echo not ok 2 b; echo 'Bail out! 1 out of 2 tests failed'"
    done = proc.run([sys.executable, str(selftests.TAP_ADAPTER), "ksft", "sh", "-c", script], timeout=60)
    root = ktap.parse(done.output)
    assert _counts(root) == {"OK": 1, "NOT_OK": 1}
    assert [path for path, node in ktap.walk(root) if node.errors] == []


def test_guest_capture_with_the_setup_step() -> None:
    """With zram swap and hugetlb pages, cow's MADV_PAGEOUT and hugetlb cases run."""
    root = ktap.parse((DATA / "guest-base-x86_64-tcg.ktap").read_text())
    by_program: dict[str, Counter[str]] = {}
    for name, node in ktap.leaves(root):
        by_program.setdefault(name.split(".", 1)[0], Counter())[node.status.name] += 1
    assert by_program["selftests-setup"] == Counter({"OK": 5, "SKIP": 1})
    assert by_program["selftests-mm-cow"] == Counter({"OK": 650, "NOT_OK": 4, "SKIP": 1})  # 4 kselftest XFAILs
    assert by_program["selftests-mm-gup_longterm"] == Counter({"OK": 32})
    assert root.status is ktap.KtapStatus.MISSING  # the VM was killed after them
