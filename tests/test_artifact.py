"""farm.kernel.artifact: pack a build into KEY.tar.zst, unpack it only when it is whole and the right one."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from farm.kernel import artifact
from farm.kernel.artifact import Manifest
from farm.model.errors import UserError

pytestmark = pytest.mark.skipif(shutil.which("zstd") is None, reason="needs zstd (apt-get install zstd)")

MANIFEST = Manifest(
    key="0123456789abcdef",
    arch="x86_64",
    cell="series-x86_64-thp-on",
    commit="c0ffee" * 6 + "c0ff",
    series_hash="5e" * 32,
    fragments=("base-x86_64.config", "thp-on.config"),
    toolchain="gcc (Debian 12.2.0-14) 12.2.0",
    warnings=2,
    build_seconds=412.5,
    image="bzImage",
    release="6.12.117-zp",
    epoch=946684800,
)


@pytest.fixture
def build(tmp_path: Path) -> dict[str, Path]:
    b = tmp_path / "build"
    (b / "testcases").mkdir(parents=True)
    (b / "bzImage").write_bytes(b"\x7fkernel image" * 1000)
    (b / ".config").write_text("CONFIG_TRANSPARENT_HUGEPAGE=y\n")
    (b / "testcases" / "memory").write_bytes(b"\x7fELF memory")
    (b / "testcases" / "expectations.toml").write_text("[x]\n")
    (b / "runner").write_bytes(b"\x7fELF runner")
    (b / "runner").chmod(0o755)
    return {"image": b / "bzImage", "config": b / ".config", "dir": b / "testcases", "runner": b / "runner"}


def _pack(tmp_path: Path, build: dict[str, Path], manifest: Manifest = MANIFEST) -> Path:
    return artifact.pack(tmp_path / "out", manifest, build["image"], build["config"], [build["dir"], build["runner"]])


def test_pack_and_unpack_round_trip(tmp_path: Path, build: dict[str, Path]) -> None:
    path = _pack(tmp_path, build)
    assert path == tmp_path / "out" / "0123456789abcdef.tar.zst"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file or stage left
    listing = subprocess.run(["tar", "--zstd", "-tf", str(path)], capture_output=True, text=True, check=True)
    assert listing.stdout.splitlines()[0] == "manifest.json"  # first: cheap to read
    got = artifact.unpack(path, MANIFEST.key, "x86_64", tmp_path / "dest")
    assert got.manifest == MANIFEST
    assert got.image.read_bytes() == build["image"].read_bytes()
    assert got.config.read_text() == "CONFIG_TRANSPARENT_HUGEPAGE=y\n"
    assert (got.programs / "testcases" / "memory").read_bytes() == b"\x7fELF memory"
    assert (got.programs / "runner").stat().st_mode & 0o111  # still executable
    assert got.root == tmp_path / "dest" / MANIFEST.key
    assert [p.name for p in (tmp_path / "dest").iterdir()] == [MANIFEST.key]
    again = artifact.unpack(path, MANIFEST.key, "x86_64", tmp_path / "dest")  # over an earlier unpack
    assert again.image.is_file()


def test_packing_twice_gives_the_same_bytes(tmp_path: Path, build: dict[str, Path]) -> None:
    first = _pack(tmp_path, build).read_bytes()
    build["runner"].touch()  # a new mtime on the host does not change the archive
    assert _pack(tmp_path, build).read_bytes() == first


def test_manifest_json_has_what_a_reader_needs(tmp_path: Path, build: dict[str, Path]) -> None:
    path = _pack(tmp_path, build)
    subprocess.run(["tar", "--zstd", "-xf", str(path), "-C", str(tmp_path), "manifest.json"], check=True)
    data = json.loads((tmp_path / "manifest.json").read_text())
    for key in ("key", "arch", "cell", "commit", "series_hash", "fragments", "toolchain", "warnings", "build_seconds"):
        assert key in data
    assert data["format"] == artifact.FORMAT_VERSION


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_artifact_is_one_clear_line(tmp_path: Path, build: dict[str, Path], keep: float) -> None:
    path = _pack(tmp_path, build)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(UserError, match="tar could not read the artifact: ") as e:
        artifact.unpack(path, MANIFEST.key, "x86_64", tmp_path / "dest")
    assert "\n" not in str(e.value) and str(path) in str(e.value)
    assert nothing_in(tmp_path / "dest")  # nothing half-unpacked left


def test_corrupt_and_foreign_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.zst"
    junk.write_bytes(b"<html>502</html>")
    with pytest.raises(UserError, match="tar could not read the artifact"):
        artifact.unpack(junk, MANIFEST.key, "x86_64", tmp_path / "dest")
    with pytest.raises(UserError, match="no such kernel artifact"):
        artifact.unpack(tmp_path / "nope.tar.zst", MANIFEST.key, "x86_64", tmp_path / "dest")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "README").write_text("hi")
    plain = tmp_path / "plain.tar.zst"
    subprocess.run(["tar", "--zstd", "-cf", str(plain), "-C", str(tmp_path / "other"), "README"], check=True)
    with pytest.raises(UserError, match=r"refused: a name outside the artifact's layout: 'README'"):
        artifact.unpack(plain, MANIFEST.key, "x86_64", tmp_path / "dest")


def test_another_arch_or_key_is_refused(tmp_path: Path, build: dict[str, Path]) -> None:
    path = _pack(tmp_path, build)
    with pytest.raises(UserError, match="holds an x86_64 kernel, not arm64"):
        artifact.unpack(path, MANIFEST.key, "arm64", tmp_path / "dest")
    with pytest.raises(UserError, match=f"holds build '{MANIFEST.key}', not fedcba9876543210"):
        artifact.unpack(path, "fedcba9876543210", "x86_64", tmp_path / "dest")
    future = _pack(tmp_path, build, replace(MANIFEST, format=99))
    with pytest.raises(UserError, match="artifact format 99"):
        artifact.unpack(future, MANIFEST.key, "x86_64", tmp_path / "dest")


def nothing_in(dest: Path) -> bool:
    return not dest.exists() or not list(dest.iterdir())


def _tar(path: Path, root: Path, *names: str) -> Path:
    subprocess.run(["tar", "--zstd", "-cf", str(path), "-C", str(root), *names], check=True)
    return path


@pytest.mark.parametrize("key", ["..", "", ".", "../../escaped", "0123456789ABCDEF", "0123456789abcdef\n"])
def test_a_key_that_is_not_a_build_key_is_refused_before_any_file_is_touched(tmp_path: Path, key: str) -> None:
    """A file named `...tar.zst` once made the key "..": unpacking removed the whole cache root."""
    cache = tmp_path / "cache"
    (cache / "artifacts").mkdir(parents=True)
    (cache / "keep").write_text("sources, worktrees, builds")
    with pytest.raises(UserError, match="is not a build key"):
        artifact.unpack(tmp_path / f"{key}.tar.zst", key, "x86_64", cache / "artifacts")
    assert (cache / "keep").is_file() and list((cache / "artifacts").iterdir()) == []


def test_a_manifest_whose_key_or_image_is_a_path_is_refused(tmp_path: Path, build: dict[str, Path]) -> None:
    stage = tmp_path / "stage"
    for field, value in (("key", ".."), ("image", "../../bzImage")):
        shutil.rmtree(stage, ignore_errors=True)
        (stage / "kernel").mkdir(parents=True)
        (stage / "programs").mkdir()
        (stage / "manifest.json").write_text(json.dumps({**json.loads(json.dumps(MANIFEST.__dict__)), field: value}))
        path = _tar(tmp_path / f"{MANIFEST.key}.tar.zst", stage, "manifest.json", "kernel", "programs")
        with pytest.raises(UserError, match=rf"{field} '{value}' is not a plain name|holds build '\.\.'"):
            artifact.unpack(path, MANIFEST.key, "x86_64", tmp_path / "dest")
        assert nothing_in(tmp_path / "dest")


@pytest.mark.parametrize("member", ["symlink", "escape", "absolute"])
def test_members_outside_the_layout_are_refused_before_unpacking(tmp_path: Path, member: str) -> None:
    stage = tmp_path / "stage"
    (stage / "kernel").mkdir(parents=True)
    (stage / "manifest.json").write_text(json.dumps(MANIFEST.__dict__))
    outside = tmp_path / "outside"
    if member == "symlink":
        (stage / "kernel" / "bzImage").symlink_to("/etc/passwd")
        argv = ["manifest.json", "kernel"]
    else:
        (stage / "x").write_text("x")
        argv = ["manifest.json", "kernel", "--transform", f"s,^x$,{'../outside' if member == 'escape' else '/abs'},"]
        argv += ["--absolute-names", "x"] if member == "absolute" else ["x"]
    path = _tar(tmp_path / f"{MANIFEST.key}.tar.zst", stage, *argv)
    with pytest.raises(UserError, match="refused: "):
        artifact.unpack(path, MANIFEST.key, "x86_64", tmp_path / "dest")
    assert not outside.exists() and nothing_in(tmp_path / "dest")


def test_an_artifact_that_unpacks_too_large_is_refused_before_unpacking(
    tmp_path: Path, build: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _pack(tmp_path, build)
    monkeypatch.setattr(artifact, "MAX_UNPACKED_BYTES", 4096)  # the bzImage alone is 13 kB
    with pytest.raises(UserError, match="unpacks to more than"):
        artifact.unpack(path, MANIFEST.key, "x86_64", tmp_path / "dest")
    assert nothing_in(tmp_path / "dest")
