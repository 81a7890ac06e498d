"""Choosing what to run: the README's link or Colab badge, names, scripts, --notebook."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envfix.errors import BadInputError, NothingToRunError
from envfix.execute.choose import choose_entry
from tests.helpers import notebook

NB = notebook("print(1)")
BADGE = (
    "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    "(https://colab.research.google.com/github/jane/paper/blob/master/notebooks/Demo.ipynb)\n"
)


def test_the_readme_badge_wins_over_names(repo_factory: Callable[..., Path]) -> None:
    root = repo_factory(
        {
            "README.md": "# Paper\n\nSee also [the tutorial](tutorial.ipynb).\n" + BADGE,
            "notebooks/Demo.ipynb": NB,
            "tutorial.ipynb": NB,
            "main.ipynb": NB,
        },
        as_git=False,
    )
    entry = choose_entry(root)
    assert (entry.kind, entry.path, entry.reason) == (
        "notebook",
        "notebooks/Demo.ipynb",
        "the README links it",
    )
    assert set(entry.candidates) == {"tutorial.ipynb", "main.ipynb"}


def test_a_relative_link_and_a_moved_badge(repo_factory: Callable[..., Path]) -> None:
    root = repo_factory(
        {"README.md": "Run [this](./examples/run%20me.ipynb).\n", "examples/run me.ipynb": NB},
        as_git=False,
    )
    assert choose_entry(root).path == "examples/run me.ipynb"
    # A badge naming an old folder still finds the one notebook of that name.
    moved = repo_factory(
        {"README.md": BADGE, "Demo.ipynb": NB, "other.ipynb": NB}, as_git=False, name="moved"
    )
    assert choose_entry(moved).path == "Demo.ipynb"


def test_names_then_depth_decide_without_a_link(repo_factory: Callable[..., Path]) -> None:
    root = repo_factory(
        {"analysis.ipynb": NB, "deep/x/colab_demo.ipynb": NB, "Example_usage.ipynb": NB},
        as_git=False,
    )
    entry = choose_entry(root)
    assert entry.path == "deep/x/colab_demo.ipynb" and "colab" in entry.reason
    only = repo_factory({"a/b.ipynb": NB, ".ipynb_checkpoints/b-checkpoint.ipynb": NB}, name="o")
    assert choose_entry(only).reason == "the only notebook in the repo"


def test_a_script_the_readme_shows(repo_factory: Callable[..., Path]) -> None:
    readme = "## Usage\n\n```bash\n$ python3 train.py --epochs 2 --data 'my data'\n```\n"
    root = repo_factory(
        {"README.md": readme, "train.py": "print(1)\n", "eval.py": "", "setup.py": ""},
        as_git=False,
    )
    entry = choose_entry(root)
    assert (entry.kind, entry.path, entry.args) == (
        "script",
        "train.py",
        ("--epochs", "2", "--data", "my data"),
    )
    assert entry.candidates == ("eval.py",)


@pytest.mark.parametrize(
    "line",
    [
        "python -u run_omniglot.py --shots 1 | tee log.txt",
        "CUDA_VISIBLE_DEVICES=0 python3.8 run_omniglot.py --shots 1",
        "python run_omniglot.py --shots 1 2>&1 > out.log",
        "!python -W run_omniglot.py --shots 1",
    ],
)
def test_a_readme_command_with_options_and_redirections(
    line: str, repo_factory: Callable[..., Path]
) -> None:
    root = repo_factory(
        {"README.md": f"Run:\n\n    {line}\n", "run_omniglot.py": "print(1)\n"}, as_git=False
    )
    entry = choose_entry(root)
    assert (entry.path, entry.args) == ("run_omniglot.py", ("--shots", "1"))


def test_of_several_readme_commands_the_demo_and_its_continued_arguments(
    repo_factory: Callable[..., Path],
) -> None:
    readme = (
        "Train:\n\n    python train.py --epochs 100\n\nTry it:\n\n"
        "    python cartoonize.py \\\n        --styles shinkai \\\n        --all_styles\n"
        "    python demo_app.py --port 80 \\\n        --host 0.0.0.0\n"
    )
    files = {"README.md": readme, "train.py": "", "cartoonize.py": "", "demo_app.py": ""}
    entry = choose_entry(repo_factory(files, as_git=False))
    assert (entry.path, entry.args) == ("demo_app.py", ("--port", "80", "--host", "0.0.0.0"))
    del files["demo_app.py"]
    entry = choose_entry(repo_factory(files, as_git=False, name="other"))
    assert (entry.path, entry.args) == ("cartoonize.py", ("--styles", "shinkai", "--all_styles"))


def test_nothing_to_run_lists_the_candidates(repo_factory: Callable[..., Path]) -> None:
    root = repo_factory({"README.md": "A library.\n", "model.py": "", "utils.py": ""})
    with pytest.raises(NothingToRunError, match=r"model\.py, utils\.py") as caught:
        choose_entry(root)
    assert "--notebook" in (caught.value.hint or "")


def test_requested_notebook_or_script(repo_factory: Callable[..., Path]) -> None:
    root = repo_factory({"a.ipynb": NB, "demo.ipynb": NB, "run.py": "", "data.csv": ""})
    assert choose_entry(root, "a.ipynb").reason == "named with --notebook"
    assert choose_entry(root, "run.py").kind == "script"
    for bad, words in (
        ("missing.ipynb", "no such file"),
        ("data.csv", "neither"),
        ("../outside.ipynb", "not inside"),
    ):
        with pytest.raises(BadInputError, match=words):
            choose_entry(root, bad)
