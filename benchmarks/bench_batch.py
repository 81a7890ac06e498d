"""Benchmark `envfix batch` on generated old-style paper repos: repos per minute with
`--jobs 1` and `--jobs 2`, side by side, so that the speed-up shows whether the repos really
are processed in parallel.

Run it from the project root with envfix's own interpreter (no network needed)::

    .venv/bin/python benchmarks/bench_batch.py                 # 12 repos, one run per --jobs
    .venv/bin/python benchmarks/bench_batch.py --quick         # 4 repos
    .venv/bin/python benchmarks/bench_batch.py --repos 20 --repeat 3 --jobs 1,2,4
    .venv/bin/python benchmarks/bench_batch.py --json          # machine-readable, on stdout

What it does, in one run:

1. Builds a tiny package index in a temporary folder and serves it on 127.0.0.1 (a
   `http.server` on a thread, the JSON simple API of PEP 691 with upload times): a few
   hundred bytes per wheel, for the releases old repos pin (`numpy==1.16.4`, a cp37 wheel
   only; `scikit-learn==0.22.1`; `PyYAML==5.1`; `pandas==0.25.3`...) and for the versions a
   Colab-like runtime has preinstalled (cp313 or pure wheels). The target is a `pip freeze`
   file of those preinstalled versions (`--target FREEZE`, Python 3.13 assumed by envfix).
2. Writes `--repos` N (default 12, `--quick` 4) small, deterministic (seeded by their number)
   paper repos, each a local git repository whose one commit is dated 2018-2020: a
   `requirements.txt` with a few old pins (some left unpinned), a `train.py` and a
   `demo.ipynb` using APIs that are gone today, varied per repo (`np.float`/`np.int`,
   `from sklearn.externals import joblib`, `yaml.load(f)` without a Loader,
   `df.append(...)`, `df.iteritems()`, `sklearn.cross_validation`,
   `plt.style.use('seaborn')`, `scipy.misc.imread`...), and a `repos.txt` listing them.
3. For each `--jobs` value (default 1 and 2), runs
   `python -m envfix batch repos.txt --jobs J --target FREEZE --index-url URL --out OUT --json`
   as a subprocess, timed on the wall clock: every repo is cloned, scanned, locked against
   the local index and patched by an `envfix clone --no-run` child of its own. Each run has
   a fresh `OUT` and fresh, empty caches (`XDG_CACHE_HOME` for envfix's index cache,
   `UV_CACHE_DIR`), so that no run profits from an earlier one. `--repeat R` does it R
   times, the order of the `--jobs` values reversed every other time (medians shown).
4. Checks every run: exit status 0, one row per repo, every row `locked` with its
   `requirements.envfix.txt` written and at least one recipe applied, and the same outcome,
   changes, relaxed pins and recipes for each repo whatever `--jobs` was. A run that fails
   its check is reported as failed, never as fast.

The envfix measured is the one `python -m envfix` imports: to pin a snapshot while envfix is
being changed, copy it (`cp -r envfix /tmp/envfix-snap/`) and run with
`PYTHONPATH=/tmp/envfix-snap`; the header says which.

"in flight" is the sum of the repos' own times (each row's `seconds`) over the run's wall
time: about 1 when repos run one after another, about J when J run at once all the time.
The speed-up depends on the machine's free CPUs: the header shows their number and the load
average before and after. Everything is written in temporary folders, nothing in the repo.
The subprocesses run without the machine's pip and uv configuration (`PIP_CONFIG_FILE` and
`UV_NO_CONFIG`; no `PIP_INDEX_URL`/`UV_INDEX_URL`...), so only the local index is read.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import io
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _shared import log, render

BENCH_VERSION = 1
DEFAULT_REPOS = 12
QUICK_REPOS = 4
DEFAULT_JOBS = (1, 2)
DEFAULT_TIMEOUT_S = 1800.0
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
CP313 = "cp313-cp313-manylinux_2_17_x86_64"
CP37 = "cp37-cp37m-manylinux1_x86_64"
PURE = "py3-none-any"
PY2_PY3 = "py2.py3-none-any"
CONFIG_VARIABLES = (
    "PIP_CONFIG_FILE",
    "PIP_FIND_LINKS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONSTRAINT",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_FIND_LINKS",
    "UV_CACHE_DIR",
    "XDG_CACHE_HOME",
    "PIP_CACHE_DIR",
    "UV_OFFLINE",
    "COLAB_RELEASE_TAG",
)
"""Taken out of the subprocesses' environment: only the local index, fresh caches."""

# --- the index -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wheel:
    """One tiny wheel of the local index."""

    name: str
    version: str
    tag: str = PURE
    uploaded: str = "2020-01-01T00:00:00Z"
    requires: tuple[str, ...] = ()

    @property
    def normalized(self) -> str:
        return self.name.replace("-", "_").lower()

    @property
    def filename(self) -> str:
        return f"{self.normalized}-{self.version}-{self.tag}.whl"

    def build(self) -> bytes:
        meta = [f"Metadata-Version: 2.1\nName: {self.name}\nVersion: {self.version}\n"]
        meta += [f"Requires-Dist: {r}\n" for r in self.requires]
        info = f"{self.normalized}-{self.version}.dist-info"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
            wheel.writestr(f"{self.normalized}/__init__.py", f"__version__ = {self.version!r}\n")
            wheel.writestr(f"{info}/METADATA", "".join(meta))
            wheel.writestr(
                f"{info}/WHEEL",
                "Wheel-Version: 1.0\nGenerator: envfix-bench\nRoot-Is-Purelib: true\n"
                f"Tag: {self.tag}\n",
            )
            wheel.writestr(f"{info}/RECORD", "")
        return buffer.getvalue()


def _old(name: str, version: str, date: str, *requires: str, tag: str = CP37) -> Wheel:
    return Wheel(name, version, tag, f"{date}T00:00:00Z", requires)


def _new(name: str, version: str, date: str, *requires: str, tag: str = CP313) -> Wheel:
    return Wheel(name, version, tag, f"{date}T00:00:00Z", requires)


WORLD: tuple[Wheel, ...] = (
    _old("numpy", "1.16.4", "2019-05-29"),
    _old("numpy", "1.18.5", "2020-06-04"),
    _new("numpy", "2.1.3", "2024-11-02"),
    _old("scipy", "1.2.1", "2019-02-09", "numpy>=1.8.2"),
    _old("scipy", "1.4.1", "2019-12-19", "numpy>=1.13.3"),
    _new("scipy", "1.14.1", "2024-08-22", "numpy>=1.23.5,<2.3"),
    _old("scikit-learn", "0.20.3", "2019-03-01", "numpy>=1.8.2", "scipy>=0.13.3"),
    _old("scikit-learn", "0.22.1", "2020-01-02", "numpy>=1.11.0", "scipy>=0.17.0", "joblib>=0.11"),
    _new("scikit-learn", "1.6.1", "2025-01-10", "numpy>=1.19.5", "scipy>=1.6.0", "joblib>=1.2.0"),
    _old("joblib", "0.13.2", "2019-02-13", tag=PY2_PY3),
    _old("joblib", "0.14.1", "2019-12-10", tag=PY2_PY3),
    _new("joblib", "1.4.2", "2024-05-02", tag=PURE),
    _old("pandas", "0.24.2", "2019-03-14", "numpy>=1.12.0", "python-dateutil>=2.5.0"),
    _old("pandas", "0.25.3", "2019-11-01", "numpy>=1.13.3", "python-dateutil>=2.6.1"),
    _new("pandas", "2.2.3", "2024-09-20", "numpy>=1.26.0", "python-dateutil>=2.8.2"),
    _old("python-dateutil", "2.8.0", "2019-02-05", "six>=1.5", tag=PY2_PY3),
    _new("python-dateutil", "2.9.0.post0", "2024-03-01", "six>=1.5", tag=PY2_PY3),
    _old("six", "1.12.0", "2018-12-10", tag=PY2_PY3),
    _new("six", "1.17.0", "2024-12-04", tag=PY2_PY3),
    _old("PyYAML", "3.13", "2018-07-05"),
    _old("PyYAML", "5.1", "2019-03-13"),
    _new("PyYAML", "6.0.2", "2024-08-06"),
    _old("matplotlib", "3.0.3", "2019-02-28", "numpy>=1.10.0"),
    _old("matplotlib", "3.1.2", "2019-11-21", "numpy>=1.11"),
    _new("matplotlib", "3.10.0", "2024-12-14", "numpy>=1.23"),
    _old("tqdm", "4.31.1", "2019-02-01", tag=PY2_PY3),
    _old("tqdm", "4.41.1", "2019-12-31", tag=PY2_PY3),
    _new("tqdm", "4.67.1", "2024-11-24", tag=PURE),
    _old("protobuf", "3.11.2", "2019-12-13", "six>=1.9", tag=PY2_PY3),
    _new("protobuf", "5.29.3", "2025-01-08", tag=PURE),
    _old("tensorboardX", "1.9", "2019-10-04", "numpy", "protobuf>=3.8.0", "six", tag=PY2_PY3),
    _new("tensorboardX", "2.6.2.2", "2023-08-20", "numpy", "protobuf>=3.20", tag=PURE),
    _old("easydict", "1.9", "2018-10-20", tag=PY2_PY3),
    _new("easydict", "1.13", "2024-03-04", tag=PURE),
)
"""Old releases that old repos pin and the versions of a Colab-like runtime."""

PREINSTALLED = {
    "numpy": "2.1.3",
    "scipy": "1.14.1",
    "scikit-learn": "1.6.1",
    "joblib": "1.4.2",
    "pandas": "2.2.3",
    "python-dateutil": "2.9.0.post0",
    "six": "1.17.0",
    "PyYAML": "6.0.2",
    "matplotlib": "3.10.0",
    "tqdm": "4.67.1",
    "protobuf": "5.29.3",
}
"""The target's `pip freeze`: what the runtime has preinstalled."""


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def write_index(root: Path, wheels: Sequence[Wheel]) -> None:
    """`root/files/*.whl` and a PEP 691 project page per name, `root/simple/NAME/index.html`
    (JSON, whatever the name says: the server sends it as JSON)."""
    (root / "files").mkdir(parents=True)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for wheel in wheels:
        blob = wheel.build()
        (root / "files" / wheel.filename).write_bytes(blob)
        by_name.setdefault(canonical(wheel.name), []).append(
            {
                "filename": wheel.filename,
                "url": f"../../files/{wheel.filename}",
                "hashes": {"sha256": hashlib.sha256(blob).hexdigest()},
                "requires-python": None,
                "upload-time": wheel.uploaded,
                "yanked": False,
                "size": len(blob),
            }
        )
    for name, files in by_name.items():
        page = root / "simple" / name / "index.html"
        page.parent.mkdir(parents=True)
        versions = sorted({f["filename"].split("-")[1] for f in files})
        doc = {"meta": {"api-version": "1.1"}, "name": name, "versions": versions, "files": files}
        page.write_text(json.dumps(doc), encoding="utf-8")
    projects = [{"name": name} for name in sorted(by_name)]
    root_page = root / "simple" / "index.html"
    root_page.write_text(json.dumps({"meta": {"api-version": "1.1"}, "projects": projects}))


class IndexHandler(http.server.SimpleHTTPRequestHandler):
    """Static files; the project pages under /simple/ go out as the JSON simple API."""

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        if Path(path).name == "index.html":
            return SIMPLE_JSON
        return super().guess_type(path)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve `root` on 127.0.0.1 until the block ends; yields the index URL."""
    handler = functools.partial(IndexHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()


# --- the repos -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    """An old API a paper's code uses: the package it needs (old pins to choose from), its
    imports, and code that breaks on today's versions."""

    package: str
    pins: tuple[str, ...]
    imports: tuple[str, ...]
    code: str


APIS: tuple[Api, ...] = (
    Api(
        "numpy",
        ("1.16.4", "1.18.5"),
        ("import numpy as np",),
        "weights = np.zeros(10, dtype=np.float)\nsteps = np.int(weights.sum()) + 1",
    ),
    Api(
        "scikit-learn",
        ("0.20.3", "0.22.1"),
        ("from sklearn.externals import joblib",),
        "def save(model, path):\n    joblib.dump(model, path)",
    ),
    Api(
        "PyYAML",
        ("3.13", "5.1"),
        ("import yaml",),
        "def read_config(path):\n    with open(path) as f:\n        return yaml.load(f)",
    ),
    Api(
        "pandas",
        ("0.24.2", "0.25.3"),
        ("import pandas as pd",),
        "log = pd.DataFrame()\nlog = log.append({'epoch': 0, 'loss': 1.0}, ignore_index=True)",
    ),
    Api(
        "pandas",
        ("0.24.2", "0.25.3"),
        ("import pandas as pd",),
        "frame = pd.DataFrame({'a': [1, 2]})\nfor name, column in frame.iteritems():\n"
        "    print(name, column.mean())",
    ),
    Api(
        "scikit-learn",
        ("0.20.3",),
        ("from sklearn.cross_validation import train_test_split",),
        "def split(x, y):\n    return train_test_split(x, y, test_size=0.2)",
    ),
    Api(
        "matplotlib",
        ("3.0.3", "3.1.2"),
        ("import matplotlib.pyplot as plt",),
        "plt.style.use('seaborn')",
    ),
    Api(
        "scipy",
        ("1.2.1",),
        ("from scipy.misc import imread",),
        "def load_image(path):\n    return imread(path)",
    ),
    Api(
        "numpy",
        ("1.16.4", "1.18.5"),
        ("import numpy as np",),
        "mask = np.ones(4, dtype=np.bool)\nlabels = np.asarray([1, 2], dtype=np.object)",
    ),
)
"""Each with a recipe in envfix's catalogue."""

EXTRAS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("tqdm", ("4.31.1", "4.41.1"), "from tqdm import tqdm"),
    ("tensorboardX", ("1.9",), "from tensorboardX import SummaryWriter"),
    ("easydict", ("1.9",), "from easydict import EasyDict"),
)
"""Packages without a broken API: a progress bar, a logger, a config dict."""


@dataclass(frozen=True)
class Repo:
    name: str
    date: str
    files: dict[str, str]


def notebook(*cells: str) -> str:
    doc = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": cell.splitlines(keepends=True),
            }
            for cell in cells
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 2,
    }
    return json.dumps(doc, indent=1) + "\n"


def make_repo(number: int) -> Repo:
    """Paper repo `number`: deterministic, and different from its neighbours."""
    rng = random.Random(f"envfix-bench-batch-{number}")
    in_script = rng.sample(APIS, rng.randint(2, 3))
    in_notebook = rng.sample([a for a in APIS if a not in in_script], rng.randint(1, 2))
    extras = rng.sample(EXTRAS, rng.randint(0, 2))
    pins: dict[str, str] = {}
    for api in [*in_script, *in_notebook]:
        pins.setdefault(api.package, rng.choice(api.pins))
    for package, versions, _ in extras:
        pins.setdefault(package, rng.choice(versions))
    unpinned = rng.choice([*pins, None, None])  # some lists leave a package unpinned
    requirements = "".join(
        f"{package}\n" if package == unpinned else f"{package}=={version}\n"
        for package, version in pins.items()
    )

    def header(apis: Sequence[Api], extra: Sequence[str]) -> list[str]:
        return list(dict.fromkeys([i for a in apis for i in a.imports] + list(extra)))

    script_imports = header(in_script, [line for _, _, line in extras])
    script = "\n".join(
        [
            f'"""Training code of paper {number}."""',
            *script_imports,
            "",
            *(a.code + "\n" for a in in_script),
            "if __name__ == '__main__':",
            "    print('training')",
            "",
        ]
    )
    cells = [
        "\n".join(header(in_notebook, [])),
        *(a.code for a in in_notebook),
        "import train\nprint('done')",
    ]
    if rng.random() < 0.5:
        cells.insert(0, f"!pip install -r requirements.txt  # paper {number}")
    year = rng.choice((2018, 2019, 2020))
    date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00"
    files = {
        "requirements.txt": requirements,
        "train.py": script,
        "demo.ipynb": notebook(*cells),
        "README.md": f"# Paper {number}\n\nRun `demo.ipynb`.\n",
    }
    return Repo(f"paper-{number:02d}", date, files)


def git_env(date: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Bench Author",
        "GIT_COMMITTER_EMAIL": "author@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if date is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    return env


def write_repo(root: Path, repo: Repo) -> Path:
    folder = root / repo.name
    for rel, text in repo.files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    env = git_env(repo.date)
    for args in (("init", "-q", "-b", "main"), ("add", "--all"), ("commit", "-q", "-m", "paper")):
        subprocess.run(["git", *args], cwd=folder, env=env, check=True, capture_output=True)
    return folder


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Run:
    """One `envfix batch` run."""

    jobs: int
    repeat: int
    wall_s: float
    returncode: int | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def busy_s(self) -> float:
        return sum(float(r.get("seconds", 0.0)) for r in self.rows)

    def outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[str(row.get("outcome"))] = counts.get(str(row.get("outcome")), 0) + 1
        return counts

    def as_json(self) -> dict[str, Any]:
        return {
            "jobs": self.jobs,
            "repeat": self.repeat,
            "wall_s": round(self.wall_s, 3),
            "repos_per_min": round(60 * len(self.rows) / self.wall_s, 2) if self.wall_s else None,
            "in_flight": round(self.busy_s / self.wall_s, 2) if self.wall_s else None,
            "returncode": self.returncode,
            "outcomes": self.outcomes(),
            "rows": self.rows,
            "ok": self.ok,
            "problems": self.problems,
        }


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux's /proc; none elsewhere)."""
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 1 and fields[1] == str(pid):
            found.add(int(stat.parent.name))
    return found


def kill_tree(root: int) -> None:
    """Stop `root` and everything it started, then kill them. envfix starts each clone, and
    each clone its tools, in a process group of its own, so killing `root`'s group is not
    enough: the tree is frozen first (no new children), then each process and its group go."""
    frozen: set[int] = set()
    pending = {root}
    while pending:
        for pid in pending:
            with suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
        frozen |= pending
        pending = {child for pid in pending for child in children(pid)} - frozen
    own = os.getpgrp()
    for pid in frozen:
        with suppress(OSError):
            group = os.getpgid(pid)
            if group != own:
                os.killpg(group, signal.SIGKILL)
        with suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def child_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "UV_NO_CONFIG": "1",
            "XDG_CACHE_HOME": str(cache / "xdg"),
            "UV_CACHE_DIR": str(cache / "uv"),
            "PIP_CACHE_DIR": str(cache / "pip"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def run_batch(
    jobs: int,
    repeat: int,
    work: Path,
    repos_txt: Path,
    freeze: Path,
    url: str,
    expected: int,
    timeout: float,
) -> Run:
    """`envfix batch` once, in a fresh folder with fresh caches, timed and checked."""
    place = work / f"run-j{jobs}-r{repeat}"
    out = place / "out"
    args = [
        sys.executable,
        "-m",
        "envfix",
        "batch",
        str(repos_txt),
        "--jobs",
        str(jobs),
        "--target",
        str(freeze),
        "--index-url",
        url,
        "--out",
        str(out),
        "--json",
    ]
    place.mkdir(parents=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        args,
        cwd=place,
        env=child_env(place / "cache"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own: a timeout stops every clone it started
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(process.pid)
        process.communicate()
        wall = time.perf_counter() - started
        return Run(jobs, repeat, wall, None, problems=[f"did not finish within {timeout:g} s"])
    wall = time.perf_counter() - started
    run = Run(jobs, repeat, wall, process.returncode)
    if process.returncode != 0:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        run.problems.append(f"exit status {process.returncode}: {last}")
    try:
        doc = json.loads(stdout)
        run.rows = [r for r in doc["rows"] if isinstance(r, dict)]
    except (ValueError, KeyError, TypeError):
        run.problems.append("no batch JSON on stdout")
        return run
    if len(run.rows) != expected:
        run.problems.append(f"{len(run.rows)} rows for {expected} repos")
    for row in run.rows:
        if row.get("outcome") != "locked":
            run.problems.append(f"{row.get('slug')}: {row.get('outcome')} ({row.get('blocker')})")
        elif not row.get("recipes"):
            run.problems.append(f"{row.get('slug')}: no recipe applied")
        elif not (out / "repos" / str(row.get("slug")) / "requirements.envfix.txt").is_file():
            run.problems.append(f"{row.get('slug')}: no requirements.envfix.txt")
    return run


def fingerprint(row: dict[str, Any]) -> tuple[Any, ...]:
    """What must not depend on --jobs."""
    return (row.get("outcome"), row.get("changes"), row.get("relaxed"), tuple(row["recipes"]))


def check_same(runs: Sequence[Run]) -> None:
    """Every run must say the same about each repo: else the later runs get a problem."""
    reference: dict[str, tuple[Any, ...]] = {}
    for run in runs:
        if not run.rows:
            continue
        for row in run.rows:
            slug = str(row.get("slug"))
            seen = fingerprint(row)
            first = reference.setdefault(slug, seen)
            if seen != first:
                run.problems.append(f"{slug}: {seen} with --jobs {run.jobs}, {first} before")


# --- reporting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """The runs of one --jobs value."""

    jobs: int
    repos: int
    wall_s: float | None
    """Median wall time of the passing runs; None when none passed."""
    in_flight: float | None
    outcomes: dict[str, int]
    failed: int

    @property
    def per_minute(self) -> float | None:
        return 60 * self.repos / self.wall_s if self.wall_s else None


def summarize(jobs: int, repos: int, runs: Sequence[Run]) -> Summary:
    mine = [r for r in runs if r.jobs == jobs]
    passing = [r for r in mine if r.ok]
    outcomes: dict[str, int] = {}
    for run in mine:
        for key, count in run.outcomes().items():
            outcomes[key] = outcomes.get(key, 0) + count
    return Summary(
        jobs,
        repos,
        statistics.median(r.wall_s for r in passing) if passing else None,
        statistics.median(r.busy_s / r.wall_s for r in passing) if passing else None,
        outcomes,
        len(mine) - len(passing),
    )


def table(summaries: Sequence[Summary], repeat: int) -> str:
    head = ("jobs", "repos", "wall s", "repos/min", "speed-up vs jobs 1", "in flight", "outcomes")
    base = next((s for s in summaries if s.jobs == 1 and s.wall_s), None)
    rows = []
    for s in summaries:
        outcomes = ", ".join(f"{n} {k}" for k, n in sorted(s.outcomes.items())) or "-"
        if repeat > 1:
            outcomes += f" (over {repeat} runs)"
        if s.wall_s is None or s.per_minute is None:
            rows.append((str(s.jobs), str(s.repos), "failed", "-", "-", "-", outcomes))
            continue
        speed_up = f"{base.wall_s / s.wall_s:.2f}x" if base is not None and base.wall_s else "-"
        rows.append(
            (
                str(s.jobs),
                str(s.repos),
                f"{s.wall_s:.1f}",
                f"{s.per_minute:.1f}",
                speed_up,
                f"{s.in_flight:.2f}" if s.in_flight is not None else "-",
                outcomes,
            )
        )
    return render(head, rows, left=0)


def loadavg() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def load_text(load: tuple[float, float, float] | None) -> str:
    return "n/a" if load is None else " ".join(f"{x:.2f}" for x in load)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--repos", type=int, default=None, help=f"repos to generate (default {DEFAULT_REPOS})"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_REPOS} repos (unless --repos)"
    )
    parser.add_argument(
        "--jobs",
        default=",".join(map(str, DEFAULT_JOBS)),
        help="comma-separated --jobs values to compare (default 1,2; 1 is the baseline)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="batch runs per --jobs value (median shown)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds one batch run may take (default {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON results only")
    args = parser.parse_args(argv)
    count = args.repos if args.repos is not None else QUICK_REPOS if args.quick else DEFAULT_REPOS
    try:
        jobs_values = list(dict.fromkeys(int(j) for j in args.jobs.split(",") if j.strip()))
    except ValueError:
        parser.error("--jobs takes numbers like 1,2,4")
    if count < 1 or args.repeat < 1 or not jobs_values or min(jobs_values) < 1:
        parser.error("need --repos >= 1, --repeat >= 1 and --jobs values >= 1")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")

    import envfix

    versions = {"envfix": envfix.__version__, "python": platform.python_version()}
    where = str(Path(envfix.__file__).resolve().parent.parent)
    load_before = loadavg()
    started = time.perf_counter()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(
        prefix="envfix-bench-batch-", ignore_cleanup_errors=True
    ) as tmp:
        work = Path(tmp)
        write_index(work / "index", WORLD)
        freeze = work / "freeze.txt"
        freeze.write_text("".join(f"{n}=={v}\n" for n, v in PREINSTALLED.items()))
        repos = [make_repo(n) for n in range(1, count + 1)]
        for repo in repos:
            write_repo(work / "repos", repo)
        repos_txt = work / "repos" / "repos.txt"
        repos_txt.write_text(
            "# generated old-style paper repos\n" + "".join(f"{r.name}\n" for r in repos)
        )
        with serve(work / "index") as url:
            for repeat in range(1, args.repeat + 1):
                order = jobs_values if repeat % 2 else list(reversed(jobs_values))
                for jobs in order:
                    run = run_batch(jobs, repeat, work, repos_txt, freeze, url, count, args.timeout)
                    runs.append(run)
                    log(
                        f"jobs {jobs}, run {repeat}: {run.wall_s:.1f} s,"
                        f" {60 * len(run.rows) / run.wall_s:.1f} repos/min"
                        + ("" if run.ok else f" FAILED: {'; '.join(run.problems[:3])}")
                    )
        check_same(runs)
    elapsed = time.perf_counter() - started
    load_after = loadavg()
    summaries = [summarize(j, count, runs) for j in jobs_values]
    failed = [r for r in runs if not r.ok]
    machine = {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": load_after,
    }

    if args.json:
        doc = {
            "bench_version": BENCH_VERSION,
            "settings": {
                "repos": count,
                "jobs": jobs_values,
                "repeat": args.repeat,
                "quick": args.quick,
                "timeout_s": args.timeout,
            },
            "versions": versions,
            "envfix_from": where,
            "machine": machine,
            "summary": [
                {
                    "jobs": s.jobs,
                    "repos": s.repos,
                    "wall_s": s.wall_s,
                    "repos_per_min": s.per_minute,
                    "in_flight": s.in_flight,
                    "outcomes": s.outcomes,
                    "failed_runs": s.failed,
                }
                for s in summaries
            ],
            "runs": [r.as_json() for r in runs],
            "elapsed_s": elapsed,
            "ok": not failed,
        }
        print(json.dumps(doc, indent=2))
        return 1 if failed else 0

    print(
        f"envfix batch on {count} generated paper repos (clone, scan, lock against a local"
        f" index, patch; --no-run), --target a pip-freeze file;"
        + f" envfix {versions['envfix']} from {where}; python {versions['python']};"
        + f" {machine['machine']}, {machine['cpus']} CPUs, load average"
        f" {load_text(load_before)} before, {load_text(load_after)} after;"
        f" {elapsed:.0f} s in all"
    )
    print(table(summaries, args.repeat))
    print()
    print(
        "wall s: the whole `python -m envfix batch` subprocess"
        + (f", median of {args.repeat} runs" if args.repeat > 1 else "")
        + ", fresh --out and empty caches each run; speed-up: jobs 1's wall time over this"
        " one's; in flight: the repos' own times summed over the wall time."
    )
    print(
        "checks: exit status 0, a row per repo, every row locked with a recipe applied and"
        " requirements.envfix.txt written, the same result per repo for every --jobs: "
        + ("ok" if not failed else "FAILED")
    )
    for run in failed:
        for problem in run.problems[:5]:
            print(f"  jobs {run.jobs}, run {run.repeat}: {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
