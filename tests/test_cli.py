from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from envfix import pipeline
from envfix.cli import main
from envfix.errors import EXIT_BAD_INPUT, EXIT_ENVIRONMENT, EXIT_INTERNAL, EXIT_OK
from tests.helpers import make_git_repo, notebook
from tests.resolve.fake_index import FakeIndex, serve, write_freeze
from tests.resolve.test_lock import PREINSTALLED, WORLD

PAPER = {
    "requirements.txt": "numpy==1.16.4\ntorch==1.4.0\n",
    "train.py": "import numpy as np\nimport cv2\nfrom models import net\n",
    "models.py": "import torch\n",
    "demo.ipynb": notebook("!pip install tensorboardX==2.6.2", "import tensorboardX"),
}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def paper(tmp_path: Path) -> Path:
    return make_git_repo(tmp_path / "paper", PAPER)


def assert_one_line_error(result: Result, code: int, words: str) -> None:
    assert result.exit_code == code
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("envfix: error: ") and words in lines[0]
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("hint: "))


def test_scan_summary(paper: Path) -> None:
    result = invoke("scan", str(paper))
    assert result.exit_code == EXIT_OK
    assert "opencv-python" in result.stdout and "tensorboardx" in result.stdout
    assert "Imported but not declared: opencv-python" in result.stdout


def test_scan_json_is_only_json_with_a_schema_version(paper: Path) -> None:
    result = invoke("scan", str(paper), "--json", "--target", "colab-2026.07")
    assert result.exit_code == EXIT_OK
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and doc["command"] == "scan"
    assert doc["runtime"]["name"] == "colab-2026.07"
    assert doc["summary"]["undeclared"] == ["opencv-python"]
    for item in doc["imports"] + doc["requirements"]:
        assert {"name", "path", "line", "cell"} <= set(item)
    assert {i["module"]: i["name"] for i in doc["imports"]}["cv2"] == "opencv-python"


def test_scan_of_a_missing_folder(tmp_path: Path) -> None:
    assert_one_line_error(invoke("scan", str(tmp_path / "nope")), EXIT_BAD_INPUT, "does not exist")


@pytest.fixture(scope="module")
def index() -> Iterator[FakeIndex]:
    with serve(WORLD) as served:
        yield served


@pytest.fixture
def freeze(tmp_path: Path) -> str:
    """A target whose preinstalled versions exist on the fake index."""
    return str(write_freeze(tmp_path / "freeze.txt", PREINSTALLED))


def test_clone_local_repo(paper: Path, tmp_path: Path, index: FakeIndex, freeze: str) -> None:
    dest = tmp_path / "work"
    args = ["--no-run", "--index-url", index.url, "--target", freeze]
    result = invoke("clone", str(paper), str(dest), *args)
    assert result.exit_code == EXIT_OK, result.stderr
    assert f"Cloned {paper}" in result.stdout
    assert "%pip install -r requirements.envfix.txt" in result.stdout
    assert "Not run (--no-run)" in result.stdout
    again = invoke("clone", str(paper), str(dest), "--json", *args)
    doc = json.loads(again.stdout)
    assert doc["command"] == "clone" and doc["workspace"]["reused"] is True
    assert doc["inventory"]["summary"]["declared_unused"] == []
    assert doc["lock"]["reused"] is True
    assert doc["lock"]["summary"]["add"] == ["tensorboardx"]
    relaxed = {d["name"]: d["relaxed_because"] for d in doc["lock"]["relaxed"]}
    assert relaxed == {"numpy": "no-wheel"}
    not_found = [f for f in doc["lock"]["findings"] if f["code"] == "not-on-index"]
    # Neither torch nor opencv-python is on the fake index: each named with where it came from.
    assert sorted((f["message"].split()[0], f["path"]) for f in not_found) == [
        ("opencv-python", "train.py"),
        ("torch", "requirements.txt"),
    ]
    pins = (dest / "requirements.envfix.txt").read_text()
    assert "tensorboardx==2.6.2" in pins and index.url not in pins


def test_lock_command(paper: Path, index: FakeIndex, freeze: str) -> None:
    result = invoke("lock", str(paper), "--index-url", index.url, "--json", "--target", freeze)
    assert result.exit_code == EXIT_OK, result.stderr
    doc = json.loads(result.stdout)
    assert doc["command"] == "lock" and doc["schema_version"] == 1
    assert doc["install_cell"] == "%pip install -r requirements.envfix.txt"
    assert doc["restart_required"] is False
    human = invoke("lock", str(paper), "--index-url", index.url, "--target", freeze)
    assert "Relaxed" in human.stdout and "numpy==1.16.4" in human.stdout


def test_lock_refuses_to_overwrite_a_users_file(paper: Path, index: FakeIndex) -> None:
    (paper / "requirements.envfix.txt").write_text("my own notes\n")
    assert_one_line_error(
        invoke("lock", str(paper), "--index-url", index.url),
        EXIT_BAD_INPUT,
        "not written by envfix",
    )
    assert (paper / "requirements.envfix.txt").read_text() == "my own notes\n"


def test_lock_with_the_index_down_is_an_environment_error(paper: Path, tmp_path: Path) -> None:
    result = invoke("lock", str(paper), "--index-url", "http://127.0.0.1:9/simple")
    assert_one_line_error(result, EXIT_ENVIRONMENT, "cannot reach the package index")


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["clone", "--", "--upload-pack=touch /tmp/x"], EXIT_BAD_INPUT, "could pass options"),
        (["clone", "ext::sh -c touch% /tmp/x"], EXIT_BAD_INPUT, "remote helpers"),
        (["clone", "http://127.0.0.1:9/a/b.git", "unused-dest"], EXIT_ENVIRONMENT, "cannot reach"),
        (["runtime", "--target", "colab-1999"], EXIT_BAD_INPUT, "unknown target"),
        (["scan", ".", "--target", "colab-1999"], EXIT_BAD_INPUT, "unknown target"),
    ],
)
def test_bad_input_is_one_line_and_an_exit_code(
    args: list[str], code: int, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke(*args), code, words)
    assert not (tmp_path / "unused-dest").exists()


def test_running_on_a_machine_description_is_refused_before_cloning(
    paper: Path, tmp_path: Path, freeze: str
) -> None:
    # A freeze file (or a bundled Colab profile) describes another machine: code cannot
    # run on it from here, only be locked and patched for it.
    for target in (freeze, "colab"):
        result = invoke("clone", str(paper), str(tmp_path / "dest"), "--target", target)
        assert_one_line_error(result, EXIT_BAD_INPUT, "cannot run code on")
        assert "--no-run" in result.stderr
        assert not (tmp_path / "dest").exists()


def test_a_bad_target_is_refused_before_cloning(paper: Path, tmp_path: Path) -> None:
    result = invoke("clone", str(paper), str(tmp_path / "dest"), "--target", "nope")
    assert result.exit_code == EXIT_BAD_INPUT
    assert not (tmp_path / "dest").exists()


def test_internal_error_is_one_line_with_a_log(
    monkeypatch: pytest.MonkeyPatch, paper: Path
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "scan", broken)
    result = invoke("scan", str(paper))
    assert result.exit_code == EXIT_INTERNAL
    assert "internal error: RuntimeError: boom" in result.stderr
    log = Path(result.stderr.split("traceback is in ")[1].strip())
    assert "RuntimeError: boom" in log.read_text()
    log.unlink()


def test_runtime_list_and_json() -> None:
    listing = invoke("runtime", "--list")
    assert "colab-2025.07-gpu" in listing.stdout
    doc = json.loads(invoke("runtime", "--list", "--json").stdout)
    assert [p["name"] for p in doc["profiles"]][:2] == ["colab", "colab-gpu"]
    single = json.loads(invoke("runtime", "--target", "colab-gpu", "--json", "--packages").stdout)
    assert single["runtime"]["cuda"] == "12.8"
    assert any(d["name"] == "torch" for d in single["runtime"]["distributions"])


def test_python_dash_m_entry_point(paper: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "envfix", "scan", str(paper), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["command"] == "scan"
    version = subprocess.run(
        [sys.executable, "-m", "envfix", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("envfix, version ")
