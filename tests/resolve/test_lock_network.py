"""A few locks against the real PyPI (deselected by default; run with `pytest -m network`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from packaging.version import Version

from envfix import pipeline
from envfix.pipeline import LockOptions

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sparse-features-2018"
pytestmark = pytest.mark.network


def test_bundled_example_for_the_newest_colab(tmp_path: Path) -> None:
    repo = shutil.copytree(EXAMPLE, tmp_path / "example")
    lock = pipeline.lock(repo, target="colab", options=LockOptions(suggest=False))
    # tensorboardX==1.2's generated protobuf code does not import under Colab's protobuf 5:
    # the compat rules move it to the first release with regenerated code.
    (change,) = lock.installs
    assert (change.name, change.kind) == ("tensorboardx", "add")
    assert Version(change.new) >= Version("2.6.1")
    relaxed = {d.name: d.relaxed_because for d in lock.relaxed}
    assert relaxed["tensorboardx"] is not None
    assert relaxed["numpy"] == relaxed["pandas"] == relaxed["scikit-learn"] == "no-wheel"
    assert relaxed["tqdm"] == "breaks-preinstalled"
    assert lock.restart == ()
    text = (repo / "requirements.envfix.txt").read_text()
    assert f"tensorboardx=={change.new}  # " in text and "protobuf 4" in text
    again = pipeline.lock(repo, target="colab", options=LockOptions(suggest=False))
    assert again.reused and again.installs == lock.installs


def test_old_colab_profile_with_python_311(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text("numpy<1.24\nscikit-learn==1.2.2\n")
    (repo / "train.py").write_text("import numpy\nimport sklearn\n")
    lock = pipeline.lock(repo, target="colab-2025.07", options=LockOptions(suggest=False))
    # numpy 1.23 has cp311 wheels, but Colab's packages built for NumPy 2 refuse it.
    numpy = next(d for d in lock.relaxed if d.name == "numpy")
    assert numpy.relaxed_because == "breaks-preinstalled"
    assert all(c.name != "numpy" for c in lock.installs)
