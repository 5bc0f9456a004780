"""A built kernel as one file: DIR/KEY.tar.zst, what a build job hands a test job.

The archive holds manifest.json first (what was built, from what, by which
compiler, how long it took), kernel/IMAGE and kernel/config, and programs/
(the guest programs built for the arch: testcases, selftests, the runner).
Members are sorted, owned by 0:0 and dated at the commit, so packing the same
build twice gives the same bytes. unpack() checks it is whole and is the
build the test row asked for (key and arch) before anything boots it.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from farm.host import files, proc
from farm.model.errors import InfraError, UserError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
KERNEL_DIR = "kernel"
PROGRAMS_DIR = "programs"
CONFIG_NAME = "config"
SUFFIX = ".tar.zst"
TAR_TIMEOUT_S = 900
KEY_LENGTH = 16  # hex digits of the build key's sha256 (farm.plan)
_KEY = re.compile(f"[0-9a-f]{{{KEY_LENGTH}}}")
MAX_UNPACKED_BYTES = 4 << 30  # a kernel, its config and the guest programs are well under 1 GiB


@dataclass(frozen=True)
class Manifest:
    key: str  # the plan's build key
    arch: str
    cell: str
    commit: str
    series_hash: str | None  # None for a base kernel
    fragments: tuple[str, ...]  # the kconfig fragments' file names, arch base config first
    toolchain: str  # the compiler's version line
    warnings: int  # compiler warnings in the build log
    build_seconds: float
    image: str  # the image's file name under kernel/: bzImage, Image
    release: str = ""  # `make kernelrelease`
    epoch: int = 0  # the commit's date: member times and KBUILD_BUILD_TIMESTAMP
    base: str = ""  # the base's exact tag (v7.3.4)
    base_line: str = ""  # the stable line the matrix named (v7.3), when the base floats
    tarball_sha256: str = ""  # the source tarball the base was imported from
    format: int = FORMAT_VERSION


@dataclass(frozen=True)
class Unpacked:
    manifest: Manifest
    root: Path
    image: Path
    config: Path
    programs: Path  # a directory


def path_for(out_dir: Path, key: str) -> Path:
    return out_dir / f"{key}{SUFFIX}"


def pack(out_dir: Path, manifest: Manifest, image: Path, config: Path, programs: Sequence[Path] = ()) -> Path:
    """Write out_dir/KEY.tar.zst (atomically) from the image, its .config and the guest programs.

    programs: files or directories, each put under programs/ by its name.
    """
    if Path(manifest.image).name != manifest.image or image.name != manifest.image:
        raise ValueError(f"manifest image {manifest.image!r} must be the image's file name {image.name!r}")
    names = [p.name for p in programs]
    if len(set(names)) != len(names):
        raise UserError(f"two guest programs with one name: {sorted(n for n in names if names.count(n) > 1)[0]}")
    with tempfile.TemporaryDirectory(prefix=".pack-", dir=_made(out_dir)) as tmp:
        stage = Path(tmp)
        (stage / KERNEL_DIR).mkdir()
        shutil.copyfile(image, stage / KERNEL_DIR / image.name)
        shutil.copyfile(config, stage / KERNEL_DIR / CONFIG_NAME)
        (stage / PROGRAMS_DIR).mkdir()
        for item in programs:
            if item.is_dir():
                shutil.copytree(item, stage / PROGRAMS_DIR / item.name, symlinks=True)
            else:
                shutil.copy2(item, stage / PROGRAMS_DIR / item.name)
        (stage / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True) + "\n")
        target = path_for(out_dir, manifest.key)
        with files.replacing(target) as partial:
            argv = [
                "tar", "--zstd", "-cf", str(partial), "-C", str(stage),
                "--sort=name", f"--mtime=@{manifest.epoch}", "--owner=0", "--group=0", "--numeric-owner",
                MANIFEST, KERNEL_DIR, PROGRAMS_DIR,
            ]  # fmt: skip
            done = proc.run(argv, timeout=TAR_TIMEOUT_S)
            if not done.ok:
                raise InfraError(f"tar --zstd could not write {target}: {done.tail(1)} (apt-get install zstd)")
    return target


def check_key(key: str) -> str:
    """key as a build key (KEY_LENGTH hex digits): it names files, so nothing else is one."""
    if not _KEY.fullmatch(key):
        raise UserError(f"{key!r} is not a build key ({KEY_LENGTH} hex digits, as `zpfarm plan` prints them)")
    return key


def unpack(path: Path, expect_key: str, expect_arch: str, dest: Path) -> Unpacked:
    """Unpack path into dest/KEY after checking it is whole and is build expect_key for expect_arch.

    An artifact is another job's upload: its key is checked before any file is
    touched, its manifest is read before anything is unpacked, and every member
    must be a plain file or directory under the archive's own names, within
    MAX_UNPACKED_BYTES in all. Only dest/KEY is ever replaced.
    """
    check_key(expect_key)
    if not path.is_file():
        raise UserError(f"{path}: no such kernel artifact")
    _check_members(path)
    with tempfile.TemporaryDirectory(prefix=".unpack-", dir=_made(dest)) as tmp:
        _tar(path, ["-xf", str(path), "-C", tmp, "--occurrence=1", MANIFEST])
        manifest = _manifest(path, Path(tmp) / MANIFEST)
        if manifest.arch != expect_arch:
            raise UserError(f"{path}: holds an {manifest.arch} kernel, not {expect_arch} (another build's artifact)")
        if manifest.key != expect_key:
            raise UserError(f"{path}: holds build {manifest.key!r}, not {expect_key} (another build's artifact)")
        _tar(path, ["-xf", str(path), "-C", tmp, "--no-same-owner", "--no-same-permissions", "--no-overwrite-dir"])
        for member in (f"{KERNEL_DIR}/{manifest.image}", f"{KERNEL_DIR}/{CONFIG_NAME}", PROGRAMS_DIR):
            if not (Path(tmp) / member).exists():
                raise UserError(f"{path}: no {member} in the artifact")
        root = dest / expect_key
        if root.exists():
            shutil.rmtree(root)
        Path(tmp).rename(root)
        Path(tmp).mkdir()  # for TemporaryDirectory's cleanup
    kernel = root / KERNEL_DIR
    return Unpacked(manifest, root, kernel / manifest.image, kernel / CONFIG_NAME, root / PROGRAMS_DIR)


def _tar(path: Path, args: list[str]) -> str:
    done = proc.run(["tar", "--zstd", *args], timeout=TAR_TIMEOUT_S)
    if not done.ok:
        raise UserError(f"{path}: tar could not read the artifact: {done.tail(2) or f'exit {done.returncode}'}")
    return done.output


def _check_members(path: Path) -> None:
    """Every member a regular file or directory under manifest.json, kernel/ or programs/; sizes capped."""
    total = 0
    listing = _tar(path, ["-tvf", str(path), "--numeric-owner", "--quoting-style=escape", "--absolute-names"])
    for line in listing.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) != 6 or not fields[2].isdigit():
            raise UserError(f"{path}: refused: a tar listing line zpfarm does not read: {line[:200]!r}")
        kind, size, name = fields[0][0], int(fields[2]), fields[5]
        parts = name.rstrip("/").split("/")
        top_ok = parts[0] in (KERNEL_DIR, PROGRAMS_DIR) or (parts == [MANIFEST] and kind == "-")
        if kind not in "-d" or name.startswith("/") or ".." in parts or "\\" in name or not top_ok:
            what = {"l": "a symlink", "h": "a hard link"}.get(kind, f"type {kind!r}") if kind not in "-d" else "a name"
            raise UserError(f"{path}: refused: {what} outside the artifact's layout: {name[:200]!r}")
        total += size
        if total > MAX_UNPACKED_BYTES:
            raise UserError(f"{path}: unpacks to more than {MAX_UNPACKED_BYTES >> 30} GiB: not a kernel artifact")


def _manifest(path: Path, file: Path) -> Manifest:
    if not file.is_file():
        raise UserError(f"{path}: no {MANIFEST}: not a zpfarm kernel artifact")
    try:
        data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as e:
        raise UserError(f"{path}: {MANIFEST} is not JSON: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
        got = data.get("format") if isinstance(data, dict) else None
        raise UserError(f"{path}: artifact format {got!r}, this zpfarm reads format {FORMAT_VERSION}")
    known = {f.name for f in fields(Manifest)}
    try:
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        manifest = Manifest(**values)
    except TypeError as e:
        raise UserError(f"{path}: {MANIFEST} is incomplete: {e}") from None
    for name, value in (("key", manifest.key), ("image", manifest.image), ("arch", manifest.arch)):
        if not isinstance(value, str) or Path(value).name != value or value in ("", ".", ".."):
            raise UserError(f"{path}: {MANIFEST}: {name} {value!r} is not a plain name")
    return manifest


def _made(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory
