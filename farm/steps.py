"""The steps a CI engine calls, file in and file out: build one kernel into an artifact, test from one.

`zpfarm build --key K` builds the plan's build K (farm.plan) with the local
stages and packs it (farm.kernel.artifact): the image, its .config, the guest
runner and every guest program, indexed in programs.json. `zpfarm test`
unpacks such an artifact and runs the ordinary pipeline on it with
ArtifactStages, which take the kernel and the programs from the artifact
instead of building them: the test step never builds.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from farm import pipeline, plan
from farm.host import provenance
from farm.kernel import artifact, build, reproducible
from farm.model.arches import Arch
from farm.model.errors import UserError, ZpfarmError
from farm.model.matrix import Cell, Kernel, Matrix, Source
from farm.model.plan import BuildRow
from farm.model.programs import GuestTest
from farm.model.results import Report
from farm.options import Options, Progress
from farm.report.progress import Reporter
from farm.stages import CellBuild, GuestPrograms, LocalStages, Origin
from farm.trees import Tree

INDEX = "programs.json"  # in the artifact's programs/: the runner and each GuestTest


@dataclass(frozen=True)
class BuildStep:
    """What `zpfarm build` did: the artifact, or why the kernel did not build (no artifact then)."""

    built: build.Built
    artifact: Path | None


check_key = artifact.check_key


def build_artifact(matrix: Matrix, opts: Options, key: str, out_dir: Path, reporter: Reporter) -> BuildStep:
    """Build the plan's build key and pack it as out_dir/KEY.tar.zst."""
    row = _build_row(matrix, key)
    (cell,) = (c for c in matrix.cells if c.name == row.cell)
    stages = LocalStages(opts, reporter.notice, reporter.line)
    with opts.cache.trees_lock(lambda: reporter.notice("another zpfarm run is using the kernel trees: waiting")):
        tree = stages.prepare_trees({(cell.source, cell.kernel)})[cell.source, cell.kernel]
        if isinstance(tree, ZpfarmError):
            raise tree
        result = stages.build(cell, tree, lambda text: reporter.line(cell.name, text))
        if not result.built.ok or result.built.image is None:
            return BuildStep(result.built, None)
        guest = stages.guest_programs(cell.arch)
        manifest = artifact.Manifest(
            key=key,
            arch=cell.arch.name,
            cell=cell.name,
            commit=tree.commit,
            series_hash=tree.series_hash or None,
            fragments=tuple(f.name for f in build.fragments(cell)),
            toolchain=row.toolchain,
            warnings=result.built.warnings,
            build_seconds=round(result.built.elapsed, 1),
            image=result.built.image.name,
            release=result.built.release,
            epoch=reproducible.commit_epoch(tree.path, tree.commit),
            base=cell.source.base,
            base_line=cell.source.line,
            tarball_sha256=cell.source.tarball_sha256,
        )
        config = opts.cache.build(cell.name) / ".config"
        with tempfile.TemporaryDirectory() as tmp:
            programs = _stage_programs(Path(tmp), guest, result.selftests)
            return BuildStep(result.built, artifact.pack(out_dir, manifest, result.built.image, config, programs))


def _build_row(matrix: Matrix, key: str) -> BuildRow:
    """The plan's build row of key: the plan of the matrix's bootable cells, as `zpfarm plan` makes it."""
    rows = plan.make(matrix, [c for c in matrix.cells if not c.arch.build_only]).builds
    for row in rows:
        if row.key == key:
            return row
    raise UserError(
        f"no build {key} in {matrix.path.name} on this machine: the matrix, the series or this machine's "
        f"compiler differ from the plan's (builds here: {', '.join(r.key for r in rows)})"
    )


def _stage_programs(where: Path, guest: GuestPrograms, selftests: Collection[GuestTest]) -> list[Path]:
    """Every file a guest needs, flat (as the share directory holds them), and the index."""
    files = {guest.runner.name: guest.runner}
    for test in (*guest.tests, *selftests):
        files.update({f.name: f for f in test.files})
    index = {
        "runner": guest.runner.name,
        "tests": [_entry(t, "testcases") for t in guest.tests] + [_entry(t, "selftests") for t in selftests],
    }
    (where / INDEX).write_text(json.dumps(index, indent=2) + "\n")
    return [where / INDEX, *files.values()]


def _entry(test: GuestTest, kind: str) -> dict[str, object]:
    return {
        "kind": kind,
        "name": test.name,
        "argv": test.argv,
        "files": [f.name for f in test.files],
        "timeout": test.timeout,
    }


class ArtifactStages(LocalStages):
    """The local stages, with the kernel and the guest programs taken from an unpacked artifact."""

    def __init__(
        self,
        opts: Options,
        notice: Callable[[str], None],
        line: Callable[[str, str], None],
        unpacked: artifact.Unpacked,
        sha256: str = "",
    ) -> None:
        super().__init__(opts, notice, line)
        self.unpacked = unpacked
        self.sha256 = sha256  # the packed artifact's, for the suite's properties
        self.runner, tests = _index(unpacked.programs)
        self.tests = {kind: tuple(t for k, t in tests if k == kind) for kind in ("testcases", "selftests")}

    def prepare_trees(
        self, wanted: Collection[tuple[Source, Kernel]]
    ) -> dict[tuple[Source, Kernel], Tree | ZpfarmError]:
        m = self.unpacked.manifest
        return dict.fromkeys(wanted, Tree(self.unpacked.root, m.commit, m.series_hash or ""))

    def guest_programs(self, arch: Arch) -> GuestPrograms:
        wanted = self.opts.selection
        return GuestPrograms(self.runner, tuple(t for t in self.tests["testcases"] if wanted.wants(t.name)))

    def hold_trees(self, waiting: Callable[[], None]) -> AbstractContextManager[None]:
        return nullcontext()  # no tree is checked out: test jobs on one machine run side by side

    def build(self, cell: Cell, tree: Tree, progress: Progress) -> CellBuild:
        m = self.unpacked.manifest
        built = build.Built(
            True,
            self.unpacked.image,
            m.release,
            m.warnings,
            m.build_seconds,
            self.unpacked.root / artifact.MANIFEST,
            "from artifact",
        )
        wanted = self.opts.selection
        selftests = self.tests["selftests"] if self.opts.wants_selftests() else ()
        origin = Origin(m.key, f"{m.key}{artifact.SUFFIX}", self.sha256)
        return CellBuild(built, tuple(t for t in selftests if wanted.wants(t.name)), origin)


def _index(programs: Path) -> tuple[Path, list[tuple[str, GuestTest]]]:
    """The runner and (kind, test) of an artifact's programs.json, every name a file under programs/."""
    where = f"{programs / INDEX}"
    try:
        index = json.loads((programs / INDEX).read_text(encoding="utf-8"))
        runner, entries = index["runner"], index["tests"]
        tests = [(str(e["kind"]), _test(programs, e)) for e in entries]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{where}: not a programs index ({type(e).__name__}: {e})") from None
    return _program(programs, runner, where), tests


def _test(programs: Path, entry: dict[str, object]) -> GuestTest:
    files, argv, name = entry["files"], entry["argv"], entry["name"]
    if not isinstance(files, list) or not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise TypeError(f"{name!r}: files and argv must be lists of names")
    where = f"{programs / INDEX}"
    timeout = entry["timeout"]
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout < 86400:
        raise TypeError(f"{name!r}: timeout {timeout!r} is not a number of seconds")
    return GuestTest(str(name), tuple(argv), tuple(_program(programs, f, where) for f in files), float(timeout))


def _program(programs: Path, name: object, where: str) -> Path:
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise UserError(f"{where}: {name!r} is not a file name")
    if not (programs / name).is_file():
        raise UserError(f"{where}: names {name!r}, which the artifact does not hold")
    return programs / name


def test_artifact(opts: Options, kernel: Path, reporter: Reporter, report: Report) -> None:
    """Boot and test opts' one cell/runtime from the artifact kernel (whose file name is KEY.tar.zst)."""
    (cell,) = opts.cells
    key = kernel.name.removesuffix(artifact.SUFFIX)
    unpacked = artifact.unpack(kernel, key, cell.arch.name, opts.cache.root / "artifacts")
    if unpacked.manifest.cell != cell.name:
        raise UserError(
            f"{kernel}: holds a build of {unpacked.manifest.cell}, not {cell.name} (another cell's artifact)"
        )
    stages = ArtifactStages(opts, reporter.notice, reporter.line, unpacked, provenance.sha256(kernel))
    pipeline.run(opts, reporter, stages, report)


def one_suite(matrix: Matrix, suite: str) -> tuple[Cell, ...]:
    """The one cell/runtime a test step runs: CELL/RUNTIME exactly."""
    cells = matrix.select([suite])
    if "/" not in suite or len(cells) != 1 or len(cells[0].runtimes) != 1:
        raise UserError(f"--cell {suite!r}: a test step runs exactly one CELL/RUNTIME (see `zpfarm plan --stage test`)")
    return cells
