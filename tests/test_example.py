"""The bundled example, end to end with the real PyPI: what README's first set-up command
does. Marked `network`; CI proves the same through README's Quick start."""

from __future__ import annotations

from pathlib import Path

import pytest

from envfix import pipeline

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sparse-features-2018"


@pytest.mark.network
def test_the_bundled_example_runs_and_its_report_says_what_changed(tmp_path: Path) -> None:
    result = pipeline.clone(str(EXAMPLE), tmp_path / "example", run=pipeline.RunOptions())
    assert result.error is None and result.run is not None and result.report is not None
    assert result.run.outcome == "runs"
    report = (tmp_path / "example" / "ENVFIX_REPORT.md").read_text(encoding="utf-8")
    assert report.splitlines()[2] == "### demo.ipynb runs (5 code cells)"
    assert "relaxed numpy==1.16.4 -> numpy==" in report
    assert "applied recipe sklearn-externals-joblib" in report
    assert "applied recipe matplotlib-seaborn-styles" in report  # found by running it
    assert len(report.splitlines()) < 80
