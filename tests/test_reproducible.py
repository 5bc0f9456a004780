"""A kernel build's environment names no date, user or host of its own: the commit's date, fixed names."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from farm.kernel import reproducible


def test_the_build_names_the_commits_date_and_fixed_user_and_host() -> None:
    assert reproducible.reproducible_env(946684800) == {
        "KBUILD_BUILD_TIMESTAMP": "@946684800",
        "KBUILD_BUILD_USER": "zpfarm",
        "KBUILD_BUILD_HOST": "zpfarm",
    }


def test_the_commit_epoch_is_the_committer_date(tmp_path: Path) -> None:
    env = {**os.environ, "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z", "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z"}
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    ident = ["-c", "user.name=t", "-c", "user.email=t@t"]
    commit = ["git", *ident, "-C", str(tmp_path), "commit", "-q", "--allow-empty", "-m", "x"]
    subprocess.run(commit, check=True, env=env)
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert reproducible.commit_epoch(tmp_path, head.strip()) == 946684800
