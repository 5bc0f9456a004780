"""The patch series: read kernel-series/series, hash it, apply it with git am."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from farm.kernel import git, patchid
from farm.model.errors import UserError


@dataclass(frozen=True)
class Series:
    directory: Path
    patches: tuple[Path, ...]

    @property
    def hash(self) -> str:
        """KCIDB's patchset_hash: sha256 over each patch's sha256 hex + newline."""
        digests = "".join(hashlib.sha256(p.read_bytes()).hexdigest() + "\n" for p in self.patches)
        return hashlib.sha256(digests.encode()).hexdigest()

    @functools.cached_property
    def identity(self) -> str:
        """sha256 over each patch's `git patch-id --verbatim`: what the patches change, not how they were mailed.

        A new version whose patches differ only in their messages, trailers or cover letter
        has the same identity: build keys and the applied commits use it, so it builds nothing new.
        """
        ids = "".join(patchid.identity(p) + "\n" for p in self.patches)
        return hashlib.sha256(ids.encode()).hexdigest()


def load(directory: Path) -> Series:
    """The patches named in directory/series, in order (quilt-style: # comments)."""
    listing = directory / "series"
    if not listing.is_file():
        raise UserError(f"{listing}: no such file (list the patches in order, one per line)")
    try:
        text = listing.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{listing}: not UTF-8 text (byte {e.start}): list the patches' file names") from None
    patches = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        name = raw.split("#", 1)[0].strip()
        if not name or name.startswith("0000-"):  # blank, comment or cover letter
            continue
        patch = directory / name
        if not patch.is_file():
            raise UserError(f"{listing}:{lineno}: no such patch {name}")
        patches.append(patch)
    if not patches:
        raise UserError(f"{listing}: lists no patches")
    return Series(directory, tuple(patches))


_SUBJECT_TAG = re.compile(r"^Subject: \[([^\]\n]*)\]", re.M)


def name(series: Series) -> str:
    """The series as its patches' subject tag names it: "v3" of "[PATCH v3 01/13]" ("" without a tag)."""
    head = series.patches[0].read_bytes()[:16384].decode("utf-8", "replace")
    found = _SUBJECT_TAG.search(head)
    words = found.group(1).split() if found else []
    return " ".join(w for w in words if w.upper() != "PATCH" and not re.fullmatch(r"\d+/\d+", w))


def patch_ids(series: Series) -> tuple[str, ...]:
    """Each patch's `git patch-id --stable`: the same for the same change, whatever its message or offsets."""
    return tuple(patchid.of(p) for p in series.patches)


_NEW_FILE = re.compile(r"^diff --git a/\S+ b/(\S+)\nnew file mode ", re.M)


def added_files(series: Series) -> list[str]:
    """The paths the series' patches create (git's "new file mode"), in patch order."""
    found: list[str] = []
    for patch in series.patches:
        found += _NEW_FILE.findall(patch.read_bytes().decode("utf-8", "replace"))
    return found


def touched_files(series: Series) -> tuple[str, ...]:
    """The files the patches change (each patch's `+++ b/PATH`), in order of first change."""
    found: dict[str, None] = {}
    for patch in series.patches:
        for line in patch.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("+++ b/"):
                found[line.removeprefix("+++ b/").strip()] = None
    return tuple(found)


def applied_ref(series: Series) -> str:
    """The ref apply() leaves at the tip of the series it applied."""
    return f"refs/zpfarm/series/{series.identity}"


def apply(series: Series, worktree: Path, base: str) -> str:
    """Check out base in worktree, git am every patch; return the tip commit.

    Applying the same series to the same base again is a no-op: the result is
    remembered under refs/zpfarm/series/<identity>, so a series whose patches have
    the same patch-ids (another version that changed only messages or trailers)
    gets the commits already built, and nothing is rebuilt.
    """
    ref = applied_ref(series)
    base_commit = git.resolve(worktree, base)
    tip = git.resolve(worktree, ref)
    if tip is not None and git.resolve(worktree, f"{tip}~{len(series.patches)}") == base_commit:
        if git.out(worktree, ["rev-parse", "HEAD"]) != tip:
            git.run(worktree, ["checkout", "-q", "--detach", "-f", tip])
        return tip
    git.run(worktree, ["am", "--abort"])
    done = git.run(worktree, ["checkout", "-q", "--detach", "-f", base])
    if not done.ok:
        raise UserError(f"cannot check out {base} in {worktree}: {done.tail(2)}")
    for patch in series.patches:
        done = git.run(worktree, ["am", "--committer-date-is-author-date", str(patch)])
        if not done.ok:
            git.run(worktree, ["am", "--abort"])
            raise UserError(f"{patch.name} does not apply to {base}: {_why(done.output)}")
    tip = git.out(worktree, ["rev-parse", "HEAD"])
    git.run(worktree, ["update-ref", ref, tip])
    return tip


def _why(output: str) -> str:
    """The file and hunk git am choked on, in one line."""
    failed = re.findall(r"error: patch failed: (\S+)", output)
    if failed:
        return f"hunk failed at {failed[0]}"
    problems = re.findall(r"error: (.+)", output)
    return problems[0] if problems else (output.strip().splitlines() or ["git am failed"])[-1]
