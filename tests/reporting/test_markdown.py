"""The Markdown report of each outcome, compared with stored snapshots.

The snapshots in `snapshots/` are the reviewed reports. After an intended change, rewrite
them with `ENVFIX_UPDATE_SNAPSHOTS=1 python -m pytest tests/reporting` and review the diff."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from envfix.reporting.compose import compose
from envfix.reporting.markdown import MARKER, to_markdown
from tests.reporting.cases import CASES, Case, record, write_repo

SNAPSHOTS = Path(__file__).parent / "snapshots"
MAX_LINES = 80


def normalised(markdown: str) -> str:
    """The report with its volatile parts (envfix's version) fixed."""
    return re.sub(r"^<!-- envfix report \S+:", "<!-- envfix report VERSION:", markdown)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_report_of_each_outcome_matches_its_snapshot(case: Case, tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    markdown = normalised(to_markdown(compose(record(case, root), root)))
    snapshot = SNAPSHOTS / f"{case.name}.md"
    if os.environ.get("ENVFIX_UPDATE_SNAPSHOTS"):
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(markdown, encoding="utf-8")
    assert snapshot.exists(), f"no snapshot {snapshot.name}: run with ENVFIX_UPDATE_SNAPSHOTS=1"
    assert markdown == snapshot.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_report_fits_a_forum_post(case: Case, tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    markdown = to_markdown(compose(record(case, root), root))
    assert markdown.startswith(MARKER)
    assert len(markdown.splitlines()) < MAX_LINES
    assert "\x1b[" not in markdown
    # Fences balance: the post renders as intended.
    assert len(re.findall(r"^```", markdown, re.MULTILINE)) % 2 == 0


def test_a_blocked_report_answers_a_teaching_assistants_questions(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    case = next(c for c in CASES if c.name == "removed-api")
    markdown = to_markdown(compose(record(case, root), root))
    title = markdown.splitlines()[2]
    assert title == (
        "### `AttributeError: module 'tensorflow' has no attribute 'contrib'` in cell 2 of"
        " demo.ipynb"
    )
    for fact in (
        "https://github.com/jane/sfn @ `5723763cb172`",  # which code
        "Colab of 2026-08-19: Python 3.12.13, CPU",  # which runtime
        "tensorflow 2.19.0",  # the version the traceback goes through
        "from sfn.model import SparseNet",  # the failing cell's code
        "tf.contrib.layers",  # the repo's own frame
        "relaxed torch==1.4.0 -> torch==2.8.0+cu126",  # what was tried
        "applied recipe numpy-aliases",
        "%pip install -r requirements.envfix.txt",  # how to reproduce
        "envfix clone https://github.com/jane/sfn --notebook demo.ipynb",
        "**Next step:**",
    ):
        assert fact in markdown, fact


def test_a_runs_report_is_short_and_keeps_the_pins(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    markdown = to_markdown(compose(record(CASES[0], root), root))
    assert markdown.splitlines()[2] == "### demo.ipynb runs (5 code cells)"
    assert "Traceback" not in markdown and "Next step" not in markdown
    assert "added tqdm==4.67.1" in markdown
    assert "added 2 packages the ones above need (six, cloudpickle)" in markdown
    assert "downgraded pandas 2.2.2 -> 2.1.4: requirements.txt:2 asks for pandas<2.2" in markdown
    assert len(markdown.splitlines()) < 40


def test_code_containing_a_fence_stays_inside_its_block(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "sfn")
    notebook = (root / "demo.ipynb").read_text(encoding="utf-8")
    (root / "demo.ipynb").write_text(
        notebook.replace("from sfn.model import SparseNet", 'doc = \\"```\\"'), encoding="utf-8"
    )
    case = next(c for c in CASES if c.name == "removed-api")
    markdown = to_markdown(compose(record(case, root), root))
    assert "````python" in markdown
