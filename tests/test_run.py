"""The run stage end to end on fixture notebooks that really execute: a kernel of the target
interpreter, the first error classified, the repair loop, and the honest outcome."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from envfix import pipeline
from envfix.cli import main
from envfix.errors import EXIT_BLOCKED
from envfix.execute.notebook import Limits
from envfix.model import RunResult
from tests.helpers import git, notebook
from tests.resolve.fake_index import Dist, FakeIndex, serve


@pytest.fixture(scope="module")
def target_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment that sees the test environment's packages (ipykernel, numpy)
    through a .pth file: notebooks run without downloads, and what envfix installs lands in
    the venv only."""
    root = tmp_path_factory.mktemp("target") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = next(root.glob("lib/python3*/site-packages"))
    (site / "_tests_parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root / "bin" / "python"


@pytest.fixture(scope="module")
def index() -> Iterator[FakeIndex]:
    with serve([Dist("envfix-demo-tool", "1.0"), Dist("envfix-demo-tool", "0.9")]) as served:
        yield served


def run(
    repo: Path,
    python: Path,
    index: FakeIndex,
    limits: Limits | None = None,
    notebook_path: str | None = None,
) -> RunResult:
    return pipeline.run(
        repo,
        target=str(python),
        options=pipeline.RunOptions(notebook=notebook_path, limits=limits or Limits(cell=60)),
        lock_options=pipeline.LockOptions(index_url=index.url, suggest=False),
    )


def outcome(result: RunResult) -> tuple[str, str | None, int | None, int]:
    failure = result.final.failure
    cell = failure.location.cell if failure and failure.location else None
    return result.outcome, failure.kind if failure else None, cell, len(result.rounds)


def test_a_missing_module_becomes_a_requirement(
    repo_factory: Callable[..., Path], target_python: Path, index: FakeIndex
) -> None:
    # A plugin loaded by a computed name: no scan can see it, only a run.
    repo = repo_factory(
        {"demo.ipynb": notebook('tool = __import__("envfix_" + "demo_tool")', "print(tool)")}
    )
    result = run(repo, target_python, index)
    assert outcome(result) == ("runs", None, None, 2)
    first = result.rounds[0].execution.failure
    assert first is not None and (first.kind, first.module) == (
        "missing-module",
        "envfix_demo_tool",
    )
    assert result.rounds[0].actions == (
        "added requirement envfix-demo-tool for module envfix_demo_tool (demo.ipynb cell 1)",
    )
    assert "envfix-demo-tool==1.0" in (repo / "requirements.envfix.txt").read_text()
    rounds = sorted((repo / ".envfix" / "rounds").glob("round-*.json"))
    assert [json.loads(p.read_text())["run"]["status"] for p in rounds] == ["blocked", "runs"]


def test_a_recipe_fixable_error_three_cells_deep(
    repo_factory: Callable[..., Path], target_python: Path, index: FakeIndex
) -> None:
    nb = notebook(
        ("markdown", "# Demo"),
        "import numpy as np",
        "x = 1",
        "y = np.zeros(3).astype(np.float)",
        "print(y.dtype)",
    )
    repo = repo_factory({"demo.ipynb": nb})
    result = run(repo, target_python, index)
    assert outcome(result) == ("runs", None, None, 2)
    first = result.rounds[0].execution.failure
    assert first is not None and first.kind == "removed-api" and first.location is not None
    assert first.location.cell == 4  # counted from 1 over all cells, the markdown one too
    assert first.recipe == "numpy-builtin-type-aliases"
    assert result.rounds[0].execution.cells_passed == 2
    assert "astype(float)" in (repo / "demo.ipynb").read_text()
    assert "numpy-builtin-type-aliases" in git(repo, "log", "-1", "--format=%s")
    executed = json.loads((repo / ".envfix" / "executed" / "demo.ipynb").read_text())
    assert executed["cells"][4]["outputs"][0]["text"] == ["float64\n"]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # An API NumPy 2 removed that no recipe rewrites.
        (("import numpy as np", "np.lookfor('fft')"), ("blocked", "removed-api", 2, 1)),
        (
            (
                "import urllib.request",
                "urllib.request.urlopen('http://127.0.0.1:9/weights.zip', timeout=5)",
            ),
            ("blocked", "needs-network", 2, 1),
        ),
        (("data = open('data/train.csv').read()",), ("blocked", "needs-data", 1, 1)),
        (("def f():\n    return 1 / 0", "x = 2", "f()"), ("blocked", "repo-bug", 3, 1)),
        (("x = 1", "import os\nos._exit(1)", "print(x)"), ("blocked", "kernel-died", 2, 1)),
    ],
    ids=["removed-api", "network", "data", "repo-bug", "kernel-dies"],
)
def test_outcomes_that_stay_blocked(
    cells: tuple[str, ...],
    expected: tuple[str, str, int, int],
    repo_factory: Callable[..., Path],
    target_python: Path,
    index: FakeIndex,
) -> None:
    repo = repo_factory({"demo.ipynb": notebook(*cells)})
    result = run(repo, target_python, index)
    assert outcome(result) == expected
    assert result.final.failure is not None and result.final.failure.explanation


def test_a_hang_times_out_or_counts_as_started_in_smoke_mode(
    repo_factory: Callable[..., Path], target_python: Path, index: FakeIndex
) -> None:
    repo = repo_factory({"train.ipynb": notebook("x = 1", "import time\ntime.sleep(60)")})
    blocked = run(repo, target_python, index, Limits(cell=3, total=60))
    assert outcome(blocked) == ("blocked", "timeout", 2, 1)
    started = run(repo, target_python, index, Limits(cell=3, total=60, smoke=True))
    assert outcome(started)[0] == "started" and started.final.cells_passed == 1
    # The total limit also ends a run, whatever the cell limit.
    total = run(repo, target_python, index, Limits(cell=60, total=4))
    assert outcome(total)[:2] == ("blocked", "timeout")
    assert total.final.failure is not None and "total" in total.final.failure.evalue


def test_a_script_from_the_readme(
    repo_factory: Callable[..., Path], target_python: Path, index: FakeIndex
) -> None:
    repo = repo_factory(
        {
            "README.md": "Run:\n\n    python main.py --n 3\n",
            "main.py": "import sys\nfrom lib import work\nwork(int(sys.argv[2]))\n",
            "lib.py": "def work(n):\n    return [1 / (i - 2) for i in range(n)]\n",
        }
    )
    result = run(repo, target_python, index)
    failure = result.final.failure
    assert result.entry.args == ("--n", "3") and failure is not None
    assert (failure.kind, failure.ename, str(failure.location)) == (
        "repo-bug",
        "ZeroDivisionError",
        "lib.py:2",
    )


def test_cli_run_exit_code_and_json(
    repo_factory: Callable[..., Path], target_python: Path, index: FakeIndex
) -> None:
    repo = repo_factory({"demo.ipynb": notebook("import numpy", "numpy.lookfor('x')")})
    args = ["run", str(repo), "--target", str(target_python), "--index-url", index.url]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == EXIT_BLOCKED
    doc = json.loads(result.stdout)
    assert doc["command"] == "run" and doc["outcome"] == "blocked"
    assert doc["failure"]["class"] == "removed-api" and doc["failure"]["cell"] == 2
    text = CliRunner().invoke(main, args)
    assert "Outcome: blocked: removed-api at demo.ipynb cell 2" in text.stdout


def test_report_of_a_real_blocked_run(
    repo_factory: Callable[..., Path], target_python: Path, index: FakeIndex
) -> None:
    # A deep library error three frames down, in cell 3: the report names the cell, shows
    # its code and the repo's frame, and is written beside the code, out of git status.
    cells = (
        "import json",
        "def load(text):\n    return json.loads(text)",
        "settings = load('{\"lr\": 0.1,}')\nprint(settings)",
    )
    repo = repo_factory({"demo.ipynb": notebook(*cells)})
    run(repo, target_python, index)
    report = pipeline.report(repo)
    assert report.outcome == "blocked" and report.failure_class == "repo-bug"
    assert report.where == "cell 3 of demo.ipynb"
    assert report.code is not None and "settings = load(" in report.code
    assert report.traceback is not None and "JSONDecodeError" in report.traceback
    markdown = (repo / "ENVFIX_REPORT.md").read_text(encoding="utf-8")
    assert markdown.splitlines()[2].startswith("### `JSONDecodeError: ")
    assert "cell 3 of demo.ipynb" in markdown.splitlines()[2]
    assert "ENVFIX_REPORT" not in git(repo, "status", "--porcelain", "--untracked-files=all")
    # The CLI prints the same report, or its JSON, and exits 0 whatever the outcome.
    printed = CliRunner().invoke(main, ["report", str(repo)])
    assert printed.exit_code == 0 and printed.stdout == markdown
    as_json = CliRunner().invoke(main, ["report", str(repo), "--format", "json"])
    doc = json.loads(as_json.stdout)
    assert (doc["schema_version"], doc["command"], doc["class"]) == (1, "report", "repo-bug")
    assert doc["cells_total"] == 3 and doc["cells_passed"] == 2


def test_report_before_any_run_is_bad_input(repo_factory: Callable[..., Path]) -> None:
    repo = repo_factory({"demo.ipynb": notebook("x = 1")})
    result = CliRunner().invoke(main, ["report", str(repo)])
    assert result.exit_code == 2
    assert "no run" in result.stderr and "envfix run" in result.stderr


def test_report_never_overwrites_a_users_file(
    repo_factory: Callable[..., Path], target_python: Path, index: FakeIndex
) -> None:
    repo = repo_factory({"demo.ipynb": notebook("1 / 0"), "ENVFIX_REPORT.md": "my own notes\n"})
    run(repo, target_python, index)
    result = CliRunner().invoke(main, ["report", str(repo)])
    assert result.exit_code == 2 and "not written by envfix" in result.stderr
    assert (repo / "ENVFIX_REPORT.md").read_text(encoding="utf-8") == "my own notes\n"


def test_clone_result_displays_as_the_report_in_a_notebook(
    repo_factory: Callable[..., Path], target_python: Path, index: FakeIndex, tmp_path: Path
) -> None:
    source = repo_factory({"demo.ipynb": notebook("import numpy", "numpy.lookfor('x')")})
    result = pipeline.clone(
        str(source),
        tmp_path / "clone",
        target=str(target_python),
        lock_options=pipeline.LockOptions(index_url=index.url, suggest=False),
        run=pipeline.RunOptions(limits=Limits(cell=60)),
    )
    assert result.error is None and result.report is not None
    shown = result._repr_markdown_()
    assert shown == (tmp_path / "clone" / "ENVFIX_REPORT.md").read_text(encoding="utf-8")
    assert "in cell 2 of demo.ipynb" in shown.splitlines()[2]
    assert git(tmp_path / "clone", "status", "--porcelain") == ""
