from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from envfix.batch.process import (
    LOGS,
    REPOS,
    BatchOptions,
    Step,
    batch,
    clone_command,
    framework_of,
)
from envfix.batch.repos import parse_list
from envfix.batch.summary import read_rows
from envfix.cli import main
from envfix.errors import EXIT_BAD_INPUT, EXIT_OK, BadInputError, RepoNotFoundError
from envfix.model import BatchItem
from envfix.reporting.compose import REPORT_FILE
from envfix.runner import Completed
from tests.helpers import make_git_repo
from tests.resolve.fake_index import FakeIndex, serve, write_freeze
from tests.resolve.test_lock import PREINSTALLED, WORLD

TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def clone_doc(
    dest: str,
    *,
    imports: Sequence[str] = ("numpy",),
    kinds: Sequence[str] = ("add", "upgrade", "keep"),
    relaxed: int = 0,
    recipes: Sequence[str] = (),
    run: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The parts of `envfix clone --json` that a batch row is made of."""
    return {
        "schema_version": 1,
        "command": "clone",
        "workspace": {"root": dest, "path": dest},
        "inventory": {"imports": [{"module": n, "name": n} for n in imports]},
        "lock": {
            "changes": [{"name": f"p{i}", "kind": k} for i, k in enumerate(kinds)],
            "relaxed": [{"name": f"r{i}"} for i in range(relaxed)],
        },
        "patch": {"patches": [{"recipe": r} for r in recipes]},
        "outcome": run["outcome"] if run else None,
        "run": run,
        "report": report,
        "error": error,
    }


class FakeClone:
    """Stands in for `python -m envfix clone`: answers each source from a table, records
    the calls and how many ran at once."""

    def __init__(self, answers: Mapping[str, Any], delay: float = 0.0) -> None:
        self.answers = answers
        self.delay = delay
        self.calls: list[list[str]] = []
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def __call__(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        timeout: float | None = None,
        input: str | None = None,
    ) -> Completed:
        with self._lock:
            self.calls.append(list(args))
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.delay)
            source, dest = args[-2], args[-1]
            answer = self.answers[source]
            if isinstance(answer, Exception):
                raise answer
            if isinstance(answer, Completed):
                return answer
            doc = answer(dest)
            Path(dest).mkdir(parents=True)
            if doc.get("report"):
                (Path(dest) / REPORT_FILE).write_text("# report\n")
            return Completed(
                tuple(args), 3 if doc["outcome"] == "blocked" else 0, json.dumps(doc), ""
            )
        finally:
            with self._lock:
                self.running -= 1

    def sources(self) -> list[str]:
        return [call[-2] for call in self.calls]


BLOCKED_RUN = {
    "outcome": "blocked",
    "failure": {"class": "needs-gpu", "ename": "RuntimeError", "evalue": "no CUDA"},
    "rounds": [{"actions": ["applied recipe torch-load-map-location for x"]}, {"actions": []}],
}
ANSWERS: dict[str, Any] = {
    "o/locked": lambda dest: clone_doc(
        dest, imports=("numpy", "torch"), relaxed=1, recipes=("np-float",)
    ),
    "o/blocked": lambda dest: clone_doc(
        dest,
        imports=("tensorflow", "keras"),
        run=BLOCKED_RUN,
        report={"title": f"needs a GPU in cell 3 ({TOKEN})", "class": "needs-gpu"},
    ),
    "o/failed-stage": lambda dest: clone_doc(
        dest, error={"stage": "lock", "message": "cannot reach the package index"}
    ),
    "o/missing": Completed(
        (), 2, "", "envfix: error: no repository at /home/jane.doe/x\nhint: check the URL\n"
    ),
    "o/crash": RepoNotFoundError("python vanished"),
}


@pytest.fixture
def items() -> tuple[BatchItem, ...]:
    return parse_list("o/locked\no/blocked nb/demo.ipynb\no/failed-stage\no/missing\n")


def test_framework_of() -> None:
    assert framework_of(["numpy", "torch", "tensorflow"]) == "pytorch"
    assert framework_of(["tensorflow", "keras"]) == "tensorflow"
    assert framework_of(["keras", "numpy"]) == "keras"
    assert framework_of(["flax"]) == "jax"
    assert framework_of(["scikit-learn", "numpy"]) == "scikit-learn"
    assert framework_of(["numpy", "pandas"]) == "numpy"
    assert framework_of(["requests"]) == framework_of([]) == "other"


def test_clone_command(tmp_path: Path) -> None:
    item = BatchItem("o/n", "o__n", "v1", "nb/demo.ipynb")
    args = clone_command(item, tmp_path / "d", BatchOptions(index_url="http://i/simple"))
    assert args[1:5] == ["-m", "envfix", "clone", "--json"]
    assert "--no-run" in args and args[args.index("--ref") + 1] == "v1"
    assert args[args.index("--notebook") + 1] == "nb/demo.ipynb"
    assert args[args.index("--index-url") + 1] == "http://i/simple"
    assert args[-3:] == ["--", "o/n", str(tmp_path / "d")]
    plain = clone_command(BatchItem("o/n", "o__n"), tmp_path, BatchOptions(run=True, offline=True))
    assert "--no-run" not in plain and "--ref" not in plain and "--offline" in plain
    assert "--base-venv" not in plain
    based = BatchOptions(run=True, base_venv=tmp_path / "base-venv")
    with_base = clone_command(BatchItem("o/n", "o__n"), tmp_path, based)
    assert with_base[with_base.index("--base-venv") + 1] == str(tmp_path / "base-venv")


def test_every_repo_is_a_row_and_one_failure_stops_nothing(
    items: tuple[BatchItem, ...], tmp_path: Path
) -> None:
    fake = FakeClone(ANSWERS)
    steps: list[Step] = []
    rows = batch(items, tmp_path / "out", BatchOptions(jobs=2), steps.append, runner=fake)
    assert [r.slug for r in rows] == ["o__locked", "o__blocked", "o__failed-stage", "o__missing"]
    locked, blocked, failed, missing = rows
    assert (locked.outcome, locked.framework, locked.changes, locked.relaxed) == (
        "locked",
        "pytorch",
        2,
        1,
    )
    assert locked.recipes == ("np-float",) and locked.blocker is None and locked.report is None
    assert (blocked.outcome, blocked.framework, blocked.rounds) == ("blocked", "tensorflow", 2)
    assert blocked.failure_class == "needs-gpu"
    assert blocked.recipes == ("torch-load-map-location",)
    assert blocked.report == f"{REPOS}/o__blocked/{REPORT_FILE}"
    assert blocked.blocker is not None and TOKEN not in blocked.blocker  # redacted
    assert (failed.outcome, failed.blocker) == ("failed", "lock: cannot reach the package index")
    assert missing.outcome == "failed" and missing.framework == "other"
    assert missing.blocker is not None and missing.blocker.startswith("no repository at ~/")
    # Progress: a start and an end per repo, the count of ended ones growing to the total.
    assert sum(s.row is None for s in steps) == 4
    assert [s.done for s in steps if s.row is not None] == [1, 2, 3, 4]
    # Each repo's own folder, row and log; the summaries of the whole batch.
    out = tmp_path / "out"
    assert read_rows(out / "summary.json") == rows
    assert (out / "summary.md").is_file() and (out / "summary.html").is_file()
    for row in rows:
        assert read_rows(out / REPOS / f"{row.slug}.row.json") == (row,)
        assert (out / LOGS / f"{row.slug}.log").is_file()
    log = (out / LOGS / "o__missing.log").read_text()
    assert "exit status: 2" in log and "jane.doe" not in log and "~/" in log
    assert TOKEN not in (out / LOGS / "o__blocked.log").read_text()
    call = fake.calls[fake.sources().index("o/blocked")]
    assert call[call.index("--notebook") + 1] == "nb/demo.ipynb"


def test_a_child_that_cannot_start_is_a_failed_row(tmp_path: Path) -> None:
    items = parse_list("o/crash\no/locked\n")
    rows = batch(items, tmp_path, runner=FakeClone(ANSWERS))
    assert [(r.outcome, r.blocker) for r in rows] == [
        ("failed", "python vanished"),
        ("locked", None),
    ]


def test_a_second_batch_skips_what_is_done_unless_forced(
    items: tuple[BatchItem, ...], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = FakeClone(ANSWERS)
    rows = batch(items, out, runner=first)
    assert len(first.calls) == 4
    again = FakeClone(ANSWERS)
    steps: list[Step] = []
    assert batch(items, out, None, steps.append, runner=again) == rows
    assert again.calls == [] and all(s.skipped for s in steps)
    # A new repo in the list is the only one processed.
    more = parse_list("o/locked\no/blocked nb/demo.ipynb\no/failed-stage\no/missing\no/new\n")
    newer = FakeClone({**ANSWERS, "o/new": ANSWERS["o/locked"]})
    assert len(batch(more, out, runner=newer)) == 5 and newer.sources() == ["o/new"]
    # Other settings for a repo (here: running it) make it not done.
    runs = FakeClone(ANSWERS)
    batch(items[:1], out, BatchOptions(run=True), runner=runs)
    assert runs.sources() == ["o/locked"]
    forced = FakeClone(ANSWERS)
    batch(items, out, BatchOptions(force=True), runner=forced)
    assert sorted(forced.sources()) == sorted(i.source for i in items)


def test_an_interrupted_attempt_is_started_afresh(tmp_path: Path) -> None:
    out = tmp_path / "out"
    leftover = out / REPOS / "o__locked"
    leftover.mkdir(parents=True)
    (leftover / "half-cloned").write_text("")
    (row,) = batch(parse_list("o/locked\n"), out, runner=FakeClone(ANSWERS))
    assert row.outcome == "locked" and not (leftover / "half-cloned").exists()


def test_jobs_run_at_once(tmp_path: Path) -> None:
    items = parse_list("".join(f"o/r{i}\n" for i in range(6)))
    fake = FakeClone({i.source: ANSWERS["o/locked"] for i in items}, delay=0.3)
    rows = batch(items, tmp_path, BatchOptions(jobs=3), runner=fake)
    assert [r.slug for r in rows] == [i.slug for i in items]
    assert fake.most == 3


def test_the_repo_timeout_stops_a_repo(tmp_path: Path) -> None:
    # The real runner and a real `envfix clone`, with a limit it cannot meet.
    paper = make_git_repo(tmp_path / "paper", {"a.py": "import numpy\n"})
    out = tmp_path / "out"
    options = BatchOptions(repo_timeout=0.05)
    (row,) = batch(parse_list(f"{paper}\n"), out, options)
    assert row.outcome == "timeout" and row.blocker == "did not finish within 0.05 s"
    assert "did not finish" in (out / LOGS / "paper.log").read_text()
    assert read_rows(out / REPOS / "paper.row.json") == (row,)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (BatchOptions(jobs=0), "--jobs"),
        (BatchOptions(repo_timeout=0), "--repo-timeout"),
        (BatchOptions(run=True, target="colab"), "share one"),
        (BatchOptions(target="colab-1999"), "unknown target"),
    ],
)
def test_options_a_batch_cannot_start_with(
    options: BatchOptions, words: str, items: tuple[BatchItem, ...], tmp_path: Path
) -> None:
    with pytest.raises(BadInputError, match=words):
        batch(items, tmp_path / "out", options, runner=FakeClone(ANSWERS))
    assert not (tmp_path / "out").exists()


def test_running_in_colab_is_refused(
    items: tuple[BatchItem, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20260701")
    with pytest.raises(BadInputError, match="one Colab runtime"):
        batch(items, tmp_path, BatchOptions(run=True), runner=FakeClone(ANSWERS))


# --- the command ----------------------------------------------------------------------------


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def index() -> Iterator[FakeIndex]:
    with serve(WORLD) as served:
        yield served


def test_batch_command_end_to_end(tmp_path: Path, index: FakeIndex) -> None:
    """Real `envfix clone` children, offline: two repos and a path that does not exist."""
    make_git_repo(tmp_path / "paper", {"requirements.txt": "tqdm\n", "a.py": "import tqdm\n"})
    other = make_git_repo(tmp_path / "Other", {"b.py": "import numpy as np\nx = np.float\n"})
    repos = tmp_path / "repos.txt"
    repos.write_text(f"# week 3\npaper\n{other.as_uri()}\n./gone\n")
    freeze = str(write_freeze(tmp_path / "freeze.txt", PREINSTALLED))
    out = tmp_path / "out"
    args = ["batch", str(repos), "--out", str(out), "--jobs", "3", "--target", freeze]
    result = invoke(*args, "--index-url", index.url, "--json")
    assert result.exit_code == EXIT_OK, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and doc["command"] == "batch"
    rows = {r["slug"]: r for r in doc["rows"]}
    assert [r["slug"] for r in doc["rows"]] == ["paper", "other", "gone"]
    assert rows["paper"]["outcome"] == "locked" and rows["other"]["outcome"] == "locked"
    assert rows["other"]["framework"] == "numpy" and rows["other"]["recipes"]
    assert rows["gone"]["outcome"] == "failed" and "gone" in rows["gone"]["blocker"]
    assert (out / REPOS / "paper" / "requirements.envfix.txt").is_file()
    # Again: everything is done, nothing is cloned; a line per repo on stderr.
    again = invoke(*args, "--index-url", "http://127.0.0.1:9/simple")
    assert again.exit_code == EXIT_OK
    assert again.stderr.count("(done before)") == 3
    assert "paper" in again.stdout and "Summaries in" in again.stdout


def test_batch_command_shards_and_merges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    repos = tmp_path / "repos.txt"
    repos.write_text("".join(f"{tmp_path / f'gone{i}'}\n" for i in range(8)))
    slugs = set()
    for k in (1, 2):
        # A limit no repo can meet keeps this fast: every row is a timeout.
        result = invoke(
            "batch", str(repos), "--shard", f"{k}/2", "--json", "--repo-timeout", "0.01"
        )
        assert result.exit_code == EXIT_OK, result.stderr
        doc = json.loads(result.stdout)
        assert doc["out"] == f"envfix-batch-{k}-of-2"
        slugs |= {r["slug"] for r in doc["rows"]}
    assert len(slugs) == 8
    merged = invoke("batch", "--merge", "envfix-batch-1-of-2", "envfix-batch-2-of-2/summary.json")
    assert merged.exit_code == EXIT_OK, merged.stderr
    rows = read_rows(tmp_path / "envfix-batch" / "summary.json")
    assert {r.slug for r in rows} == slugs and all(r.outcome == "timeout" for r in rows)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["missing.txt"], "no repo list"),
        (["bad.txt"], "bad.txt, line 2"),
        (["ok.txt", "--shard", "3/2"], "shard"),
        (["ok.txt", "other.txt"], "one repo list"),
        (["ok.txt", "--run", "--target", "colab"], "share one"),
        (["--merge", "nowhere"], "cannot read"),
    ],
)
def test_batch_command_bad_input(
    args: list[str], words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.txt").write_text("o/n\no/n a.ipynb b.ipynb\n")
    (tmp_path / "ok.txt").write_text("o/n\n")
    result = invoke("batch", *args)
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stderr.startswith("envfix: error: ") and words in result.stderr
    assert not (tmp_path / "envfix-batch").exists()
