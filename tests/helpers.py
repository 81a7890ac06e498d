"""Helpers for tests: write fixture repos into temporary folders, make them git repos, build
notebooks."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}

Files = Mapping[str, str | bytes]


def write_files(root: Path, files: Files) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=root,
        env={**os.environ, **GIT_IDENTITY},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def make_git_repo(root: Path, files: Files, branch: str = "main") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_files(root, files)
    git(root, "init", "-q", "-b", branch)
    git(root, "add", "--all")
    git(root, "commit", "-q", "-m", "initial")
    return root


def notebook(*cells: str | tuple[str, str], nbformat: int = 4) -> str:
    """A notebook's JSON: plain strings are code cells, ("markdown", text) other kinds."""
    out = []
    for cell in cells:
        kind, source = cell if isinstance(cell, tuple) else ("code", cell)
        entry = {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True)}
        if kind == "code":
            entry.update(execution_count=None, outputs=[])
        out.append(entry)
    return json.dumps(
        {"cells": out, "metadata": {}, "nbformat": nbformat, "nbformat_minor": 5}, indent=1
    )
