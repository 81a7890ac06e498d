"""The facts of a report: where data comes from, which packages, what was patched, the next
step, and redaction of everything that goes into it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from envfix.model import Failure, Location
from envfix.reporting.compose import applied_patches, compose, data_script, data_source
from envfix.workspace import open_folder
from tests.helpers import GIT_IDENTITY, git, make_git_repo
from tests.reporting.cases import CASES, Case, record, write_repo


def case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def test_data_source_prefers_the_readme_line_that_names_the_missing_file(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(
        "# Paper\n\nSee https://arxiv.org/abs/1234.5678 for the paper.\n"
        "Download the dataset from https://example.org/all-data.zip\n"
        "Labels: https://example.org/labels.csv.\n",
        encoding="utf-8",
    )
    assert data_source(tmp_path, "data/labels.csv") == "https://example.org/labels.csv"
    assert data_source(tmp_path, "data/other.npy") == "https://example.org/all-data.zip"
    assert data_source(tmp_path / "nowhere", "x.npy") is None


def test_needs_data_names_the_file_and_where_the_readme_says_to_get_it(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    report = compose(record(case("needs-data"), root), root)
    assert report.next_step.startswith(
        "The code needs `data/features.npy`, which the README says to download from"
        " https://zenodo.org/record/1234/files/features.npy"
    )


def test_needs_data_without_a_readme_link_says_so(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    (root / "README.md").write_text("# Sparse features\n", encoding="utf-8")
    report = compose(record(case("needs-data"), root), root)
    assert "the README does not say where to get it" in report.next_step


def test_packages_are_those_the_traceback_goes_through_with_their_versions(
    tmp_path: Path,
) -> None:
    root = write_repo(tmp_path / "sfn")
    report = compose(record(case("binary-incompatible"), root), root)
    assert [(p.name, p.version) for p in report.packages] == [
        ("torch", "2.8.0+cu126"),
        ("numpy", "2.0.2"),
    ]
    # An installed-by-the-lock version wins over the runtime's.
    report = compose(record(case("version-conflict"), root), root)
    assert ("tensorboardx", "2.6.4") in [(p.name, p.version) for p in report.packages]


def test_the_failing_cell_is_shown_with_its_code(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    report = compose(record(case("repo-bug"), root), root)
    assert report.where == "cell 4 of demo.ipynb"
    assert report.code is not None and "model = SparseNet(x.shape[1])" in report.code


def test_a_script_failure_shows_the_lines_around_the_failing_one(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    lines = [f"step_{n} = {n}" for n in range(1, 60)]
    lines[29] = "loss = model(batch)[3]"
    (root / "train.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = record(case("repo-bug"), root)
    failure = base.run.final.failure
    assert failure is not None
    moved = replace(failure, location=Location("train.py", 30))
    rounds = (replace(base.run.rounds[-1], execution=replace(base.run.final, failure=moved)),)
    report = compose(replace(base, run=replace(base.run, rounds=rounds)), root)
    assert report.where == "train.py, line 30"
    assert report.code is not None and "loss = model(batch)[3]" in report.code
    assert "step_1 = 1\n" not in report.code  # trimmed around the failing line


def test_timeout_next_step_names_the_limit(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    report = compose(record(case("timeout"), root), root)
    assert report.title == "Cell 5 of demo.ipynb ran past its time limit"
    assert "still running after 600 s" in report.next_step


def test_a_very_long_error_message_is_cut_in_the_title(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    base = record(case("repo-bug"), root)
    failure = base.run.final.failure
    assert isinstance(failure, Failure)
    long = replace(failure, evalue="shape mismatch " * 40)
    rounds = (replace(base.run.rounds[-1], execution=replace(base.run.final, failure=long)),)
    report = compose(replace(base, run=replace(base.run, rounds=rounds)), root)
    assert len(report.title) < 160 and "..." in report.title


def test_private_facts_are_redacted_everywhere(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    base = record(case("needs-data"), root)
    failure = base.run.final.failure
    assert failure is not None
    secret = "hf_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3x"
    private = replace(
        failure,
        evalue="[Errno 2] No such file or directory: '/content/drive/MyDrive/jane.doe/x.npy'",
        traceback=failure.traceback.replace(
            "fid = open(file)", f"fid = open('/home/jane/x.npy')  # token {secret}"
        ),
    )
    rounds = (replace(base.run.rounds[-1], execution=replace(base.run.final, failure=private)),)
    source = "https://jane:" + "s3cretpassw0rd@github.com/jane/sfn"
    report = compose(replace(base, run=replace(base.run, rounds=rounds), source=source), root)
    text = repr(report)
    for leaked in (secret, "s3cretpassw0rd", "/home/jane", "MyDrive/jane.doe"):
        assert leaked not in text, leaked
    assert dict(report.redacted)


def test_applied_patches_reads_the_patch_commits_from_git(tmp_path: Path) -> None:
    root = make_git_repo(tmp_path / "paper", {"a.py": "import numpy as np\nx = np.float(1)\n"})
    upstream = git(root, "rev-parse", "HEAD")
    envfix = {
        "GIT_AUTHOR_NAME": "envfix",
        "GIT_AUTHOR_EMAIL": "envfix@localhost",
    }
    (root / "a.py").write_text("import numpy as np\nx = float(1)\n", encoding="utf-8")
    git(root, "checkout", "-q", "-b", "envfix/patched")
    git(root, "add", "a.py")
    _git_as(root, envfix, "commit", "-q", "-m", "envfix: numpy-aliases: np.float was removed")
    (root / "requirements.envfix.txt").write_text("# Generated by envfix\n", encoding="utf-8")
    git(root, "add", "requirements.envfix.txt")
    _git_as(root, envfix, "commit", "-q", "-m", "envfix: pinned requirements for colab")
    commit, patches = applied_patches(open_folder(root))
    assert commit == upstream
    assert [(p.recipe, p.title, p.files) for p in patches] == [
        ("numpy-aliases", "np.float was removed", ("a.py",))
    ]


def _git_as(root: Path, identity: dict[str, str], *args: str) -> None:
    import os
    import subprocess

    env = {**os.environ, **GIT_IDENTITY, **identity}
    subprocess.run(["git", *args], cwd=root, env=env, check=True)


def test_the_json_form_has_the_same_facts_under_stable_names(tmp_path: Path) -> None:
    import json

    from envfix import serialize

    root = write_repo(tmp_path / "sfn")
    report = compose(record(case("needs-gpu"), root), root)
    doc = json.loads(json.dumps(serialize.document("report", serialize.report(report))))
    assert sorted(doc) == sorted(
        [
            "schema_version",
            "command",
            "title",
            "outcome",
            "class",
            "meaning",
            "next_step",
            "repo",
            "commit",
            "entry",
            "where",
            "environment",
            "runtime",
            "cells_passed",
            "cells_total",
            "packages",
            "code",
            "traceback",
            "changes",
            "recipes",
            "rounds",
            "install_cell",
            "reproduce_command",
            "redacted",
            "logs",
            "pins_for_colab",
        ]
    )
    assert (doc["schema_version"], doc["command"], doc["outcome"], doc["class"]) == (
        1,
        "report",
        "blocked",
        "needs-gpu",
    )
    assert doc["packages"] == {"torch": "2.8.0+cu126"}
    assert doc["next_step"].startswith("Runtime > Change runtime type > T4 GPU")
    assert doc["where"] == "cell 4 of demo.ipynb" and doc["redacted"] == {}


def test_a_paper_link_is_not_where_data_comes_from(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(
        "[Paper](https://arxiv.org/abs/1803.02999) code for"
        " [Omniglot](https://github.com/brendenlake/omniglot).\n",
        encoding="utf-8",
    )
    assert data_source(tmp_path, "data/omniglot") == "https://github.com/brendenlake/omniglot"


def test_needs_data_points_at_the_repos_own_download_script(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    (root / "README.md").write_text(
        "# Getting the data\n\nRun `./fetch_data.sh`, see https://arxiv.org/abs/1234.5678.\n",
        encoding="utf-8",
    )
    (root / "fetch_data.sh").write_text("mkdir -p data\n", encoding="utf-8")
    assert data_script(root) == "bash fetch_data.sh"
    report = compose(record(case("needs-data"), root), root)
    assert report.next_step == (
        "The code needs `data/features.npy`, which the repo's own script gets:"
        " run `!bash fetch_data.sh` in the repo's folder first, then run again."
    )
    # Without a README mention, a script named for it near the top still counts.
    (root / "README.md").write_text("# Sparse features\n", encoding="utf-8")
    (root / "fetch_data.sh").unlink()
    (root / "scripts").mkdir()
    (root / "scripts" / "download_features.py").write_text("", encoding="utf-8")
    assert data_script(root) == "python scripts/download_features.py"
