"""A reproducer that travels: one suite of a run, or one test of it, as a directory that reruns it anywhere.

`zpfarm repro make CELL/RUNTIME[/TEST]` reads the run's JUnit (untrusted: its
names become paths, so each is checked) and writes a new directory holding
reproduce.sh, a one-cell matrix.toml whose paths are relative to it, the
series it applied (with patch-ids), the kconfig fragments and the testcases
with their expectations, the build's .config, manifest.json (which zpfarm,
build, base, accel, QEMU and guest), the test's KTAP and console excerpt,
with --with-kernel the kernel artifact KEY.tar.zst, and SHA256SUMS. It is
built in a scratch directory beside the target and renamed into place, so
a failure leaves nothing half-made, and nothing but that scratch directory
is ever deleted.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from farm import pipeline, repro_suite, repro_text, steps
from farm.host import proc, provenance
from farm.host.cache import Cache
from farm.kernel import artifact, build, git, series, source
from farm.model.arches import Accel
from farm.model.errors import InfraError, UserError
from farm.model.matrix import Cell, Kernel, Matrix
from farm.report.progress import Reporter
from farm.repro_suite import Target

MAX_TEXT_BYTES = 64 << 20  # a console or KTAP file read for an excerpt


@dataclass(frozen=True)
class Bundle:
    directory: Path
    command: str  # what reproduce.sh runs, from the bundle
    expected_exit: int  # the original run's exit for what the bundle reruns
    files: tuple[str, ...]


def check_out_dir(out: Path) -> Path:
    """out as a directory that does not exist yet or is empty (a bundle is never written over anything)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UserError(f"-o {out}: exists and is not a directory (give a new or empty directory)")
    if out.is_dir() and any(out.iterdir()):
        raise UserError(f"-o {out}: is not empty (give a new or empty directory: a bundle replaces nothing)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"-o {out}: cannot make its parent ({e.strerror or e})") from None
    return out


def make(
    m: Matrix,
    cache: Cache,
    target: Target,
    junit: Path,
    results: Path,
    out: Path,
    reporter: Reporter,
    *,
    with_kernel: bool = False,
    kernel: Path | None = None,
) -> Bundle:
    """Write the bundle of target (from the run's JUnit and results directory) to out.

    with_kernel: put the kernel artifact in it, kernel (the artifact the run booted, checked
    against the run's sha256) or else packed from this machine's build (a warm cache compiles nothing).
    """
    check_out_dir(out)
    recorded = repro_suite.read_suite(junit, target.suite)
    props = recorded.properties
    matrix_sha = provenance.sha256(m.path)
    if props.get("matrix_sha256") != matrix_sha:
        raise UserError(
            f"{target.suite} was run from a matrix with sha256 {props.get('matrix_sha256', 'unknown')[:64]!r}, "
            f"not {m.path.name} ({matrix_sha}): give the run's own --matrix"
        )
    (cell,) = steps.one_suite(m, target.suite)
    program = repro_suite.program_of(target, recorded)
    _check_series(cell, props)
    where = results / target.cell / target.runtime
    if not where.is_dir():
        raise UserError(f"--results {results}: no {target.suite} in it (give the run's own --results)")
    accel = props.get("accel", "")
    accel = accel if accel in {a.value for a in Accel} else Accel.AUTO.value
    stage = Path(tempfile.mkdtemp(prefix=".repro-", dir=out.parent))
    try:
        stage.chmod(0o755)  # mkdtemp's 0700 would travel with the bundle
        key, sha = _recorded_key(props), None
        if with_kernel or kernel is not None:
            key, sha = _kernel(m, cache, cell, props, program, stage, reporter, kernel)
        else:
            _config(cache, cell, props, stage)
        patches = _inputs(m, cell, stage)
        places = _producing(cache, results, junit, m, out, stage)
        ktap = repro_text.ktap_excerpt(_read(where / "share" / "results.ktap"), program)
        (stage / "results.ktap").write_text(repro_text.scrub(ktap, places))
        console = repro_text.console_excerpt(_read(where / "console.log"), program)
        (stage / "console.txt").write_text(repro_text.scrub(console, places))
        argv = repro_text.command(target.suite, program, accel, f"{key}{artifact.SUFFIX}" if sha else None)
        expected = repro_suite.expected_exit(recorded, program)
        what = f"{target.suite}{f' --test {program}' if program else ''} of {m.path.name}"
        script = stage / "reproduce.sh"
        script.write_text(repro_text.reproduce_sh(argv, expected, what))
        script.chmod(0o755)
        manifest = _manifest(props, cell, target, program, key, sha, expected, argv, patches)
        manifest["base_commit"] = _base_commit(cache, cell)
        (stage / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _check_no_producing_path(stage, places)
        names = _files(stage)
        (stage / "SHA256SUMS").write_text(repro_text.sums({n: provenance.sha256(stage / n) for n in names}))
        _place(stage, out)
    finally:
        if stage.exists():
            shutil.rmtree(stage)  # the scratch directory this call made, and nothing else
    return Bundle(out, shlex.join(argv), expected, (*names, "SHA256SUMS"))


def _base_commit(cache: Cache, cell: Cell) -> str | None:
    """The commit of the base the series applies to: its tag in the farm's repository (made the same on
    every machine from the tarball), or the ref in the user's tree; None when this machine has neither."""
    src = cell.source
    repo = src.tree if src.tree is not None else cache.source(source.repo_name(src))
    ref = src.base if src.tree is not None else f"refs/tags/{src.base}"
    return git.resolve(repo, ref) if repo.is_dir() else None


def _recorded_key(props: Mapping[str, str]) -> str | None:
    """The run's build key, when the JUnit holds one that is a build key (it names files)."""
    try:
        return artifact.check_key(props.get("build_key", ""))
    except UserError:
        return None


def _check_series(cell: Cell, props: Mapping[str, str]) -> None:
    """The matrix's series must still be the one the run applied (its KCIDB patchset hash)."""
    if cell.kernel is not Kernel.SERIES:
        return
    now = series.load(cell.source.series).hash
    if props.get("series_hash") != now:
        raise UserError(
            f"{cell.source.series}: the series changed since the run (hash {now[:12]}, the run's "
            f"{props.get('series_hash', 'unknown')[:12]!r}): a bundle holds the series the run tested"
        )


def _kernel(
    m: Matrix,
    cache: Cache,
    cell: Cell,
    props: Mapping[str, str],
    program: str | None,
    stage: Path,
    reporter: Reporter,
    given: Path | None,
) -> tuple[str, str]:
    """stage/KEY.tar.zst (the given artifact, or packed here) and its stage/.config; (key, sha256)."""
    if given is None:
        key = _recorded_key(props) or _plan_key(m, cell)
        tests = (program,) if program else cell.runtimes[0].tests
        with tempfile.TemporaryDirectory(prefix="zpfarm-repro-logs-") as logs:
            opts = pipeline.options(m, m.cells, cache, Path(logs), Path(logs) / "junit.xml", tests=tests)
            done = steps.build_artifact(m, opts, key, stage, reporter)
        if done.artifact is None:
            raise InfraError(f"{cell.name}: the kernel did not build again: {done.built.message}")
        packed = done.artifact
    else:
        if not given.is_file():
            raise UserError(f"--kernel {given}: no such kernel artifact")
        key = steps.check_key(given.name.removesuffix(artifact.SUFFIX))
        recorded, sha = props.get("artifact_sha256"), provenance.sha256(given)
        if recorded and recorded != sha:
            raise UserError(f"--kernel {given}: sha256 {sha[:12]}, but the run booted {recorded[:12]}: another one")
        packed = stage / given.name
        shutil.copyfile(given, packed)
    with tempfile.TemporaryDirectory(prefix="zpfarm-repro-") as tmp:
        unpacked = artifact.unpack(packed, key, cell.arch.name, Path(tmp))  # every member checked first
        m_ = unpacked.manifest
        for name, have, want in (("key", m_.key, props.get("build_key")), ("commit", m_.commit, props.get("commit"))):
            if want and have != want:
                raise UserError(f"{packed.name}: its {name} is {have!r}, the run's {want!r}: not the run's kernel")
        if m_.cell != cell.name:
            raise UserError(f"{packed.name}: holds a build of {m_.cell}, not {cell.name}")
        shutil.copyfile(unpacked.config, stage / ".config")
    return key, provenance.sha256(packed)


def _plan_key(m: Matrix, cell: Cell) -> str:
    from farm import plan

    return next(row.key for row in plan.make(m, [cell]).builds)


def _inputs(m: Matrix, cell: Cell, stage: Path) -> list[dict[str, str]]:
    """Copy the series (its patch-ids returned), the fragments and the testcases; write the one-cell matrix."""
    patches: list[dict[str, str]] = []
    series_dir = None
    if cell.kernel is Kernel.SERIES:
        series_dir = "series"
        _copy_tree(cell.source.series, stage / series_dir)
        for patch in series.load(stage / series_dir).patches:
            patches.append({"file": patch.name, "patch_id": patch_id(patch), "sha256": provenance.sha256(patch)})
    fragments = []
    (stage / "configs").mkdir()
    for i, frag in enumerate(cell.kconfig.fragments, 1):
        name = f"configs/{i:02d}-{frag.name}"  # numbered: two variants' fragments may share a name
        shutil.copyfile(frag, stage / name)
        fragments.append(name)
    _copy_tree(m.testcases_dir, stage / "testcases")
    layout = repro_text.Layout(series_dir, "testcases", tuple(fragments))
    text = repro_text.matrix_toml(cell, cell.runtimes[0], m.guest, layout, m.path.name)
    (stage / "matrix.toml").write_text(text)
    _check_matrix(stage / "matrix.toml", cell)
    return patches


def _check_matrix(path: Path, cell: Cell) -> None:
    """The written matrix must read back as exactly this cell and runtime, with the same build inputs."""
    from farm.model import matrix

    m = matrix.load(path)
    (again,) = m.cells
    same = (again.name, again.runtimes, again.kconfig.cmdline) == (cell.name, cell.runtimes, cell.kconfig.cmdline)
    frags = [f.read_bytes() for f in again.kconfig.fragments] == [f.read_bytes() for f in cell.kconfig.fragments]
    if not (same and frags):
        raise InfraError(f"{path}: the one-cell matrix does not read back as {cell.name} (a zpfarm bug)")


def patch_id(patch: Path) -> str:
    """`git patch-id --stable` of a patch file (what b4 and series.json name patches by)."""
    done = proc.run(["sh", "-c", 'exec git patch-id --stable < "$1"', "patch-id", str(patch)], timeout=60)
    words = done.output.split()
    if not done.ok or not words or not re.fullmatch(r"[0-9a-f]{40}", words[0]):
        raise UserError(f"{patch}: git patch-id finds no diff in it ({done.tail(1) or 'no output'})")
    return words[0]


def _copy_tree(src: Path, dest: Path) -> None:
    """Regular files and directories of src (a symlink or a device is left out: it could point anywhere)."""
    dest.mkdir()
    for entry in sorted(src.iterdir()):
        if entry.name in ("__pycache__",) or entry.is_symlink():
            continue
        if entry.is_dir():
            _copy_tree(entry, dest / entry.name)
        elif entry.is_file():
            shutil.copyfile(entry, dest / entry.name)


def _config(cache: Cache, cell: Cell, props: Mapping[str, str], stage: Path) -> None:
    """The .config of the run's build: from the cache's build directory while it still holds that build,
    or from the artifact `zpfarm test` unpacked into the cache, when it is the run's commit."""
    built, commit = cache.build(cell.name), props.get("commit", "")
    try:
        same = (built / ".zpfarm-built").read_text() == f"{commit} {build.config_digest(cell)}\n"
    except OSError:
        same = False
    key = _recorded_key(props)
    unpacked = cache.root / "artifacts" / (key or "none")
    if same and (built / ".config").is_file():
        shutil.copyfile(built / ".config", stage / ".config")
    elif key and commit and _unpacked_commit(unpacked) == commit:
        shutil.copyfile(unpacked / artifact.KERNEL_DIR / artifact.CONFIG_NAME, stage / ".config")
    else:
        raise UserError(
            f"this machine's cache no longer holds the build {cell.name} ran (commit {commit[:12] or '?'}): "
            "--with-kernel builds it again (from ccache) and packs it, or --kernel FILE gives its artifact"
        )


def _unpacked_commit(root: Path) -> str | None:
    try:
        data = json.loads((root / artifact.MANIFEST).read_text(encoding="utf-8"))
        config = root / artifact.KERNEL_DIR / artifact.CONFIG_NAME
        return str(data["commit"]) if config.is_file() and not config.is_symlink() else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read(path: Path) -> str:
    """A results file the run wrote ("" when there is none); its size is capped, it may be anything."""
    try:
        with path.open("rb") as f:
            return f.read(MAX_TEXT_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _producing(cache: Cache, results: Path, junit: Path, m: Matrix, out: Path, stage: Path) -> dict[str, str]:
    """This machine's directories, each with what stands for it in the bundle's texts."""
    places = {
        str(cache.root.resolve()): "<cache>",
        str(results.resolve()): "<results>",
        str(junit.resolve().parent): "<junit-dir>",
        str(m.path.parent): "<matrix-dir>",
        str(provenance.CHECKOUT): "<zpfarm>",
        str(Path(sys.prefix).resolve()): "<venv>",
        str(out.resolve()): "<bundle>",
        str(stage.resolve()): "<bundle>",
    }
    return {k: v for k, v in places.items() if k != "/"}


def _check_no_producing_path(stage: Path, places: Mapping[str, str]) -> None:
    """No file written so far names a directory of this machine (the artifact is compressed: its manifest has none)."""
    wanted = [p.encode() for p in places if p != "/"]
    for name in _files(stage):
        data = (stage / name).read_bytes()
        for path in wanted:
            if path in data:
                raise UserError(f"{name} names {path.decode()}, a directory of this machine: it would not travel")


def _files(stage: Path) -> list[str]:
    return sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file() and p.name != "SHA256SUMS")


def _place(stage: Path, out: Path) -> None:
    """Rename the finished bundle to out: a new name, or over an empty directory (never over anything else)."""
    try:
        os.rename(stage, out)
    except OSError as e:
        raise UserError(f"-o {out}: could not put the bundle there ({e.strerror or e}): written meanwhile?") from None


def _manifest(
    props: Mapping[str, str],
    cell: Cell,
    target: Target,
    program: str | None,
    key: str | None,
    sha: str | None,
    expected: int,
    argv: Sequence[str],
    patches: Sequence[Mapping[str, str]],
) -> dict[str, object]:
    """What was run where: the run's own provenance (its JUnit properties) and this bundle's."""
    copied = (
        "zpfarm", "base", "base_line", "tarball_sha256", "commit", "series_hash", "kernel_release", "compiler",
        "qemu_version", "vng_version", "accel", "matrix_sha256", "build_warnings",
    )  # fmt: skip
    return {
        "format": 1,
        "suite": target.suite,
        "cell": cell.name,
        "runtime": target.runtime,
        "test": target.test,
        "program": program,
        "arch": cell.arch.name,
        "kernel": cell.kernel.value,
        "build_key": key,
        "artifact": f"{key}{artifact.SUFFIX}" if sha else None,
        "artifact_sha256": sha or props.get("artifact_sha256"),
        "guest": {"cpus": props.get("guest_cpus"), "memory": props.get("guest_memory")},
        "run": {name: props.get(name) for name in copied},
        "patches": list(patches),
        "expected_exit": expected,
        "command": list(argv),
        "made_by": provenance.zpfarm(),
    }
