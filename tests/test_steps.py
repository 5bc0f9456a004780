"""The CI steps' artifact round trip without a kernel: what `zpfarm build` packs, `zpfarm test` boots."""

from __future__ import annotations

import json
import os
from pathlib import Path

import junitparser
import pytest
import xmlschema
from conftest import FakeFarm
from test_pipeline import write_matrix
from typer.testing import CliRunner

import cli
from farm import pipeline, plan, steps
from farm.guest.selection import Selection
from farm.host.cache import Cache
from farm.kernel import artifact
from farm.model.errors import UserError
from farm.model.matrix import Kernel
from farm.model.programs import GuestTest
from farm.options import Options
from farm.report.history import History
from farm.stages import GuestPrograms

XSD = Path(__file__).parent / "data" / "junit-10.xsd"
KEY = "00000000000000a1"  # a build key: 16 hex digits


def fake_artifact(tmp_path: Path, cell: str = "base-x86_64-on") -> Path:
    """An artifact as build_artifact packs it: a fake image, its config, runner, a testcase, a selftest."""
    files = tmp_path / "files"
    files.mkdir()
    for name in ("bzImage", "config", "runner-1234", "memory", "ksft_tap.py", "selftests-mm-cow"):
        (files / name).write_text(name)
    guest = GuestPrograms(files / "runner-1234", (GuestTest("memory", ("./memory",), (files / "memory",), 60.0),))
    cow = GuestTest(
        "selftests-mm-cow", ("python3", "ksft_tap.py"), (files / "ksft_tap.py", files / "selftests-mm-cow"), 600.0
    )
    staged = tmp_path / "staged"
    staged.mkdir()
    programs = steps._stage_programs(staged, guest, (cow,))
    manifest = artifact.Manifest(
        KEY, "x86_64", cell, "abc", None, ("base-x86_64.config",), "gcc 12", 0, 1.0, "bzImage", "6.12.117"
    )
    return artifact.pack(tmp_path / "dist", manifest, files / "bzImage", files / "config", programs)


def options(tmp_path: Path, tests: tuple[str, ...] = ()) -> Options:
    m = write_matrix(tmp_path)
    cells = m.select(["base-x86_64-on/default"])
    return pipeline.options(m, cells, Cache(tmp_path / "cache"), tmp_path / "out", tmp_path / "j.xml", tests=tests)


def test_the_artifact_stages_give_back_the_kernel_and_programs_it_was_packed_with(tmp_path: Path) -> None:
    packed = fake_artifact(tmp_path)
    unpacked = artifact.unpack(packed, KEY, "x86_64", tmp_path / "unpacked")
    stages = steps.ArtifactStages(options(tmp_path), print, lambda c, t: None, unpacked)
    (cell,) = stages.opts.cells
    tree = stages.prepare_trees({(cell.source, Kernel.BASE)})[cell.source, Kernel.BASE]
    assert not isinstance(tree, Exception) and tree.commit == "abc"
    built = stages.build(cell, tree, print)
    assert built.built.ok and built.built.image == unpacked.image and built.built.release == "6.12.117"
    assert (built.origin.key, built.origin.artifact) == (KEY, f"{KEY}.tar.zst")  # the suite names what it booted
    assert [t.name for t in built.selftests] == ["selftests-mm-cow"]
    assert all(f.is_file() for t in built.selftests for f in t.files)
    guest = stages.guest_programs(cell.arch)
    assert guest.runner.read_text() == "runner-1234"
    assert [(t.name, t.argv, t.timeout) for t in guest.tests] == [("memory", ("./memory",), 60.0)]


def test_a_test_selection_limits_what_the_artifact_runs(tmp_path: Path) -> None:
    unpacked = artifact.unpack(fake_artifact(tmp_path), KEY, "x86_64", tmp_path / "unpacked")
    stages = steps.ArtifactStages(options(tmp_path, ("selftests",)), print, lambda c, t: None, unpacked)
    assert stages.opts.selection == Selection(("selftests",))
    assert stages.guest_programs(stages.opts.cells[0].arch).tests == ()


def test_another_cells_artifact_is_refused_in_one_line(tmp_path: Path) -> None:
    packed = fake_artifact(tmp_path, cell="series-x86_64-on")
    renamed = packed.with_name(f"{KEY}.tar.zst")
    with pytest.raises(UserError, match=r"holds a build of series-x86_64-on, not base-x86_64-on"):
        steps.test_artifact(options(tmp_path), renamed, None, None)  # type: ignore[arg-type]


def test_a_test_step_runs_exactly_one_suite(tmp_path: Path) -> None:
    m = write_matrix(tmp_path)
    assert [c.name for c in steps.one_suite(m, "base-x86_64-on/default")] == ["base-x86_64-on"]
    for glob in ("base-x86_64-on", "*/default"):
        with pytest.raises(UserError, match="exactly one CELL/RUNTIME"):
            steps.one_suite(m, glob)


def test_a_build_key_is_found_in_a_matrix_that_also_has_build_only_cells(tmp_path: Path) -> None:
    m = write_matrix(tmp_path, arches='["x86_64", "s390"]')
    (tmp_path / "kernel-series" / "series").write_text("0001-one.patch\n")
    (tmp_path / "kernel-series" / "0001-one.patch").write_text("Subject: [PATCH] one\n")
    bootable = m.select(["*-x86_64-*"])
    keys = [row.key for row in plan.make(m, bootable).builds]
    assert [steps._build_row(m, key).cell for key in keys] == [c.name for c in bootable]
    with pytest.raises(UserError, match="no build nope"):
        steps._build_row(m, "nope")


@pytest.mark.parametrize(
    ("index", "words"),
    [
        ({"runner": "../../bin/sh", "tests": []}, "'../../bin/sh' is not a file name"),
        ({"runner": "runner-1234", "tests": [{"kind": "testcases", "name": "m", "argv": "./m", "files": []}]}, "lists"),
        (
            {"runner": "runner-1234", "tests": [{"kind": "x", "name": "m", "argv": [], "files": [], "timeout": "9"}]},
            "9",
        ),
        ({"runner": "gone", "tests": []}, "'gone', which the artifact does not hold"),
        ([], "not a programs index"),
    ],
)
def test_a_programs_index_of_the_wrong_shape_is_bad_input_not_an_assert(
    tmp_path: Path, index: object, words: str
) -> None:
    """Under python -O an assert vanished and a wrong type was iterated into wrong file names."""
    unpacked = artifact.unpack(fake_artifact(tmp_path), KEY, "x86_64", tmp_path / "unpacked")
    (unpacked.programs / steps.INDEX).write_text(json.dumps(index))
    with pytest.raises(UserError, match=r"programs\.json") as e:
        steps.ArtifactStages(options(tmp_path), print, lambda c, t: None, unpacked)
    assert words in str(e.value)


def test_the_ci_chain_plan_build_test_merge_compare_on_a_fake_tree(fakefarm: FakeFarm) -> None:
    """The whole CI pipeline as its jobs run it, one zpfarm command per job, on tests/fakelinux.

    The build jobs share one cache (the build machine); each test job has a cache of its own (another
    machine) and gets only its artifact: the kernel and the runner built by the build job.
    """
    ci = fakefarm.root / "ci"
    planned = fakefarm.zpfarm("plan")
    assert planned.exit_code == 0, planned.output
    (ci / "plan.json").parent.mkdir()
    (ci / "plan.json").write_text(planned.stdout)
    rows = json.loads(planned.stdout)
    builds, tests = rows["build"]["include"], rows["test"]["include"]
    assert {r["cell"] for r in builds} == {"base-x86_64-shmem", "series-x86_64-shmem"}
    for row in builds:
        built = fakefarm.zpfarm("build", "--key", row["key"], "--out", ci / "dist", "--no-selftests")
        assert built.exit_code == 0, built.output
        assert built.stdout.strip() == str(ci / "dist" / f"{row['key']}.tar.zst")
    runner = CliRunner()
    history = ci / "history.sqlite"  # the one the pipeline keeps across runs: none recorded yet
    History.open(history).close()
    for n, row in enumerate(tests):
        job = ci / f"test-{n}"
        argv = ["test", "--cell", row["suite"], "--kernel", str(ci / "dist" / f"{row['key']}.tar.zst")]
        argv += ["--junit", str(ci / "junit" / f"{n}.xml"), "--results", str(job), "--no-selftests"]  # --accel auto
        argv += ["--history", str(history)]
        tested = runner.invoke(cli.app, [*argv, "--matrix", str(fakefarm.matrix), "--cache", str(job / "cache")])
        assert tested.exit_code == (1 if row["cell"].startswith("series") else 0), tested.output
        if row["cell"].startswith("series"):  # no earlier run of it passed
            assert "new failure: 1\n  series-x86_64-shmem/default: holes.read_hole\n" in tested.stdout
    merged = runner.invoke(
        cli.app, ["merge", *map(str, sorted((ci / "junit").glob("*.xml"))), "-o", str(ci / "junit.xml"),
                  "--expect-from", str(ci / "plan.json"), "--history", str(history)],
    )  # fmt: skip
    assert merged.exit_code == 0, merged.output
    assert "2 suites (0 lost)" in merged.output
    assert "new failure: 1\n  series-x86_64-shmem/default: holes.read_hole\n" in merged.stdout
    xmlschema.XMLSchema(XSD).validate(ci / "junit.xml")
    # Each test job probed KVM once (the fake vng boots `true` under it) where /dev/kvm is usable.
    kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
    for suite in junitparser.JUnitXml.fromfile(str(ci / "junit.xml")):
        assert {p.name: p.value for p in suite.properties()}["accel"] == ("kvm" if kvm else "tcg")
    compared = runner.invoke(cli.app, ["compare", str(ci / "junit.xml")])
    assert compared.exit_code == 1, compared.output  # a regression from base to series
    assert "regression │ x86_64-shmem/default │ holes.read_hole │ pass │ fail" in " ".join(compared.output.split())
