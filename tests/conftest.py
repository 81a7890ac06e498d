"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import Files, make_git_repo, write_files


@pytest.fixture
def repo_factory(tmp_path: Path) -> Callable[..., Path]:
    """Make a fixture repo: `repo_factory({"a.py": "..."}, git=True, name="paper")`."""

    def factory(files: Files, *, as_git: bool = True, name: str = "paper") -> Path:
        root = tmp_path / name
        if as_git:
            return make_git_repo(root, files)
        root.mkdir(parents=True, exist_ok=True)
        return write_files(root, files)

    return factory
