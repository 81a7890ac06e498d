"""Benchmark `envfix lock` on old ML-paper requirements: cold and warm lock times with the
pip-tools and uv backends, and how many preinstalled packages envfix changes compared with a
plain `pip install -r requirements.txt` resolution for the same target.

Run it from the project root with envfix's own interpreter (it needs PyPI)::

    .venv/bin/python benchmarks/bench_lock.py                  # all 12 cases, one run each
    .venv/bin/python benchmarks/bench_lock.py --cases 4 --repeat 3
    .venv/bin/python benchmarks/bench_lock.py --json           # machine-readable, on stdout
    .venv/bin/python benchmarks/bench_lock.py --keep /tmp/lockbench   # keep repos and caches

What it does, in one run:

1. Writes 12 small, deterministic repos modelled on real 2017-2024 paper repos (TF1/Keras,
   PyTorch 1.x, scikit-learn/pandas, gym RL, early transformers, unpinned lists, ranges,
   TF2, timm-era vision, early JAX, a tensorflow-gpu/`sklearn` one, a mostly modern one):
   each a git repository whose one commit carries the paper's date (envfix reads it for
   unpinned packages), with a `requirements.txt` and a `.py` file importing the packages.
2. Creates (once, under `--cache-dir`, default `~/.cache/envfix-bench`) a Python virtualenv
   of the running Python with a small "preinstalled" set (numpy, pandas, scikit-learn,
   matplotlib, tqdm, protobuf at the newest Colab's versions) and pip-tools, since
   pip-compile runs inside the target interpreter.
3. For each case, three configurations: pip-tools on that venv (`--target VENV`, the only
   kind of target pip-compile can resolve for), uv on the bundled `colab` profile (Python
   3.13) and uv on the same venv (both backends on the same target). Each measurement is a
   subprocess, `python -m envfix lock REPO --json --target T --backend B`, timed on the wall
   clock, three times in a row on one fresh copy of the repo:
   * cold: envfix's index cache, uv's cache and pip's cache all empty (`XDG_CACHE_HOME`,
     `UV_CACHE_DIR` and `PIP_CACHE_DIR` point at a fresh folder; pip-compile's `--cache-dir`
     is under the repo's `.envfix/`, so a fresh copy is cold for it too);
   * warm (stored lock): the same command again; envfix reuses the lock stored in
     `.envfix/lock.json` when its inputs are unchanged (the run must say `reused`);
   * warm (resolver): `.envfix/lock.json` deleted first, so the resolver really runs, on
     warm caches (the run must not say `reused`).
   `--repeat R` does that R times, each on a fresh copy with fresh caches (medians shown).
4. The plain path for the same target: `uv pip compile requirements.txt` with
   `--python-version/--python-platform` of the colab profile, or `--python VENV/bin/python`,
   and no preferences. A package counts as changed when it is installed in the target and
   the resolution picks another public version (`+cpu` labels stripped); uv exiting non-zero
   (old pins without wheels for the target's Python) counts as a failure of the plain path.
   envfix's count is the `upgrade`/`downgrade` changes of its lock; adds are shown apart.

A run that takes longer than `--timeout` (default 900 s) is killed with everything it
started, and reported as failed. The envfix measured is the one `python -m envfix` imports:
to pin a snapshot while envfix is being changed, extract it (`git archive HEAD envfix | tar
-x -C /tmp/envfix-SHA`) and run with `PYTHONPATH=/tmp/envfix-SHA`; the header says which.

The subprocesses run without the machine's pip configuration (`PIP_CONFIG_FILE=/dev/null`,
no `PIP_FIND_LINKS`/`PIP_INDEX_URL`/`PIP_EXTRA_INDEX_URL`), so every resolver reads PyPI only.
Figures depend on the network and on PyPI's state on the day; the cases do not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from _shared import log
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

BENCH_VERSION = 1
WARM_AIM_S = 2.0
DEFAULT_TIMEOUT_S = 900
PREINSTALLED = (
    "numpy==2.1.3",
    "pandas==2.2.3",
    "scikit-learn==1.6.1",
    "matplotlib==3.10.0",
    "tqdm==4.67.3",
    "protobuf==5.29.6",
)
"""The venv target's own packages: the newest Colab profile's versions of each."""
VENV_TOOLS = ("pip-tools",)
"""Installed into the venv too: pip-compile runs inside the target interpreter."""
PIP_CONFIG_VARIABLES = (
    "PIP_FIND_LINKS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONSTRAINT",
    "PIP_REQUIRE_VIRTUALENV",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_INDEX",
    "UV_FIND_LINKS",
    "UV_CACHE_DIR",
    "XDG_CACHE_HOME",
    "PIP_CACHE_DIR",
)

# --- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One old repo: when its last commit was made, what it pins and what its code imports."""

    name: str
    date: str
    requirements: tuple[str, ...]
    imports: tuple[str, ...]
    about: str


CASES: tuple[Case, ...] = (
    Case(
        "tf1-keras",
        "2019-07-15",
        (
            "tensorflow==1.15",
            "numpy==1.16.4",
            "scipy==1.2.1",
            "keras==2.2.4",
            "h5py==2.10.0",
            "Pillow==6.1.0",
        ),
        (
            "import tensorflow as tf",
            "import numpy as np",
            "import scipy.io as sio",
            "from keras.models import Model",
            "import h5py",
            "from PIL import Image",
        ),
        "TF1 + standalone Keras",
    ),
    Case(
        "torch-1.4",
        "2020-03-02",
        (
            "torch==1.4.0",
            "torchvision==0.5.0",
            "numpy==1.18.1",
            "tqdm==4.41.1",
            "tensorboardX==2.0",
        ),
        (
            "import torch",
            "import torch.nn as nn",
            "import torchvision",
            "import numpy as np",
            "from tqdm import tqdm",
            "from tensorboardX import SummaryWriter",
        ),
        "PyTorch 1.4 training code",
    ),
    Case(
        "sklearn-pandas",
        "2019-12-20",
        (
            "scikit-learn==0.22.1",
            "pandas==0.25.3",
            "matplotlib==3.1.2",
            "seaborn==0.9.0",
            "numpy==1.17.4",
            "scipy==1.4.1",
        ),
        (
            "from sklearn.linear_model import LogisticRegression",
            "import pandas as pd",
            "import matplotlib.pyplot as plt",
            "import seaborn as sns",
            "import numpy as np",
            "from scipy import stats",
        ),
        "tabular ML, fully pinned",
    ),
    Case(
        "gym-rl",
        "2020-06-10",
        (
            "gym==0.17.2",
            "atari-py==0.2.6",
            "opencv-python==4.2.0.32",
            "numpy==1.18.5",
            "torch==1.5.1",
            "matplotlib==3.2.1",
        ),
        (
            "import gym",
            "import atari_py",
            "import cv2",
            "import numpy as np",
            "import torch",
            "import matplotlib.pyplot as plt",
        ),
        "Atari RL with gym",
    ),
    Case(
        "nlp-transformers",
        "2020-04-20",
        (
            "transformers==2.8.0",
            "sentencepiece==0.1.85",
            "nltk==3.4.5",
            "torch==1.4.0",
            "numpy==1.18.2",
            "tqdm==4.43.0",
        ),
        (
            "from transformers import BertTokenizer, BertModel",
            "import sentencepiece as spm",
            "import nltk",
            "import torch",
            "import numpy as np",
            "from tqdm import tqdm",
        ),
        "early transformers",
    ),
    Case(
        "unpinned",
        "2018-09-01",
        ("numpy", "torch", "pillow", "scipy", "matplotlib", "tqdm"),
        (
            "import numpy as np",
            "import torch",
            "from PIL import Image",
            "import scipy",
            "import matplotlib.pyplot as plt",
            "from tqdm import tqdm",
        ),
        "no versions at all",
    ),
    Case(
        "ranges",
        "2018-05-01",
        (
            "numpy>=1.14,<1.17",
            "scipy>=1.0",
            "pandas>=0.22,<0.24",
            "scikit-learn>=0.19",
            "matplotlib>=2.1",
        ),
        (
            "import numpy as np",
            "import scipy.sparse as sp",
            "import pandas as pd",
            "from sklearn.svm import SVC",
            "import matplotlib.pyplot as plt",
        ),
        "version ranges, old upper bounds",
    ),
    Case(
        "tf2-early",
        "2020-09-15",
        (
            "tensorflow==2.3.0",
            "tensorflow-addons==0.11.2",
            "numpy==1.18.5",
            "pandas==1.1.2",
            "scikit-learn==0.23.2",
        ),
        (
            "import tensorflow as tf",
            "import tensorflow_addons as tfa",
            "import numpy as np",
            "import pandas as pd",
            "from sklearn.metrics import f1_score",
        ),
        "TF 2.3 + addons",
    ),
    Case(
        "vision-2021",
        "2021-05-10",
        (
            "torch==1.8.1",
            "torchvision==0.9.1",
            "timm==0.4.9",
            "opencv-python==4.5.1.48",
            "albumentations==0.5.2",
            "PyYAML==5.4.1",
            "einops==0.3.0",
        ),
        (
            "import torch",
            "import torchvision.transforms as T",
            "import timm",
            "import cv2",
            "import albumentations as A",
            "import yaml",
            "from einops import rearrange",
        ),
        "timm-era vision",
    ),
    Case(
        "jax-2021",
        "2021-03-01",
        (
            "jax==0.2.10",
            "jaxlib==0.1.62",
            "flax==0.3.2",
            "optax==0.0.5",
            "numpy==1.19.5",
            "tensorflow-datasets==4.2.0",
        ),
        (
            "import jax",
            "import jax.numpy as jnp",
            "import flax.linen as nn",
            "import optax",
            "import numpy as np",
            "import tensorflow_datasets as tfds",
        ),
        "early JAX/Flax",
    ),
    Case(
        "tf-gpu-2018",
        "2018-11-20",
        (
            "tensorflow-gpu==1.12.0",
            "sklearn",
            "opencv-python==3.4.2.17",
            "scikit-image==0.14.0",
            "imageio==2.4.1",
            "numpy==1.15.4",
        ),
        (
            "import tensorflow as tf",
            "from sklearn.cluster import KMeans",
            "import cv2",
            "from skimage import io",
            "import imageio",
            "import numpy as np",
        ),
        "renamed distributions (tensorflow-gpu, sklearn)",
    ),
    Case(
        "modern-ok",
        "2024-10-01",
        (
            "numpy>=1.26",
            "pandas>=2.0",
            "scikit-learn>=1.3",
            "torch>=2.1",
            "tqdm",
            "matplotlib",
        ),
        (
            "import numpy as np",
            "import pandas as pd",
            "from sklearn.model_selection import KFold",
            "import torch",
            "from tqdm.auto import tqdm",
            "import matplotlib.pyplot as plt",
        ),
        "mostly fine on today's runtime",
    ),
)


def write_repo(case: Case, dest: Path) -> Path:
    """The case as a git repo whose one commit carries the paper's date."""
    dest.mkdir(parents=True)
    (dest / "requirements.txt").write_text("\n".join(case.requirements) + "\n")
    body = "\n".join(case.imports)
    (dest / "train.py").write_text(
        f'"""{case.about}."""\n\n{body}\n\n\ndef main():\n    print("training")\n\n\n'
        'if __name__ == "__main__":\n    main()\n'
    )
    stamp = f"{case.date}T12:00:00+00:00"
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
        "GIT_AUTHOR_NAME": "paper",
        "GIT_AUTHOR_EMAIL": "paper@example.org",
        "GIT_COMMITTER_NAME": "paper",
        "GIT_COMMITTER_EMAIL": "paper@example.org",
    }
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", case.name]):
        subprocess.run(["git", *cmd], cwd=dest, env=env, check=True, capture_output=True)
    return dest


# --- running things ----------------------------------------------------------------------


def clean_env(cache_home: Path | None = None) -> dict[str, str]:
    """The environment of every measured subprocess: PyPI only, and the given caches."""
    env = {k: v for k, v in os.environ.items() if k not in PIP_CONFIG_VARIABLES}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    if cache_home is not None:
        # Temporary files too: a killed pip leaves its unpacked downloads (gigabytes) behind.
        (cache_home / "tmp").mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(cache_home / "tmp")
        env["XDG_CACHE_HOME"] = str(cache_home)
        env["UV_CACHE_DIR"] = str(cache_home / "uv")
        env["PIP_CACHE_DIR"] = str(cache_home / "pip")
    return env


@dataclass
class Run:
    """One finished subprocess."""

    wall: float
    returncode: int
    stdout: str
    stderr: str


def run_timed(
    cmd: Sequence[str],
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Run:
    """Run `cmd` in its own process group; past `timeout`, kill the whole group (envfix's
    resolver subprocesses included) and report exit code -1."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Run(time.perf_counter() - start, -1, "", f"timed out after {timeout:.0f} s")
    return Run(time.perf_counter() - start, proc.returncode, stdout, stderr)


def short_error(text: str, limit: int = 110) -> str:
    """The line of a program's stderr that says the most, shortened."""
    lines = [line.strip(" ╰─▶×│").removeprefix("cause: ") for line in text.splitlines()]
    lines = [line for line in lines if line and not line.lower().startswith("hint:")]
    wanted = [
        line
        for prefix in ("envfix: ", "Because", "And because")
        for line in lines
        if line.startswith(prefix)
    ]
    chosen = (wanted or lines or ["(no stderr)"])[0].removeprefix("envfix: ")
    return chosen if len(chosen) <= limit else chosen[: limit - 3] + "..."


def uv_binary() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def ensure_target_venv(cache: Path) -> Path:
    """The virtualenv used as the `--target VENV`, created once under `cache` and reused."""
    venv = cache / f"lock-target-py{sys.version_info[0]}{sys.version_info[1]}"
    python = venv / "bin" / "python"
    marker = venv / ".envfix-bench.json"
    wanted = {"bench": BENCH_VERSION, "packages": [*PREINSTALLED, *VENV_TOOLS]}
    if python.exists() and marker.exists() and json.loads(marker.read_text()) == wanted:
        return venv
    log(f"creating {venv} with {' '.join(PREINSTALLED)} and {' '.join(VENV_TOOLS)} (once)")
    cache.mkdir(parents=True, exist_ok=True)
    env = clean_env()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, env=env)
    pip = [str(python), "-m", "pip", "install", "-qq"]
    subprocess.run([*pip, *PREINSTALLED, *VENV_TOOLS], check=True, env=env)
    marker.write_text(json.dumps(wanted))
    return venv


def installed_versions(python: Path) -> dict[str, str]:
    """name -> version of what an interpreter has installed."""
    code = (
        "import json, importlib.metadata as m; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    found: dict[str, str] = json.loads(result.stdout)
    return {canonicalize_name(name): version for name, version in found.items() if name}


def public(version: str | None) -> Version | None:
    if not version:
        return None
    try:
        return Version(Version(version).public)
    except InvalidVersion:
        return None


# --- targets and configurations ----------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A runtime both envfix and the plain resolution are pointed at."""

    label: str
    envfix_arg: str
    uv_args: tuple[str, ...]
    installed: Mapping[str, str]
    describe: str


@dataclass(frozen=True)
class Config:
    backend: str
    target: Target


def colab_target() -> Target:
    from envfix.runtime import load_profile

    profile = load_profile("colab")
    platform = next(p for p in profile.platforms if p.startswith("manylinux_"))
    machine = "aarch64" if platform.endswith("aarch64") else "x86_64"
    glibc = "_".join(platform.split("_")[1:3])
    installed = {name: d.version for name, d in profile.installed.items() if d.version}
    return Target(
        "colab",
        "colab",
        (
            "--python-version",
            profile.python_version,
            "--python-platform",
            f"{machine}-manylinux_{glibc}",
        ),
        installed,
        f"bundled profile 'colab' (Colab of {profile.released}, Python"
        f" {profile.python_version}, {len(installed)} packages)",
    )


def venv_target(venv: Path) -> Target:
    python = venv / "bin" / "python"
    installed = installed_versions(python)
    version = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Target(
        f"venv-py{'.'.join(version.split('.')[:2])}",
        str(venv),
        ("--python", str(python)),
        installed,
        f"virtualenv {venv} (Python {version}, {len(installed)} packages:"
        f" {' '.join(PREINSTALLED)} + {' '.join(VENV_TOOLS)} and their dependencies)",
    )


# --- the plain path ----------------------------------------------------------------------


@dataclass
class Plain:
    """`uv pip compile requirements.txt` for a target, compared with what it has."""

    ok: bool
    wall: float
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    error: str | None = None


def parse_pins(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name.split("[")[0].strip())] = version.split(";")[0].strip()
    return pins


def plain_resolution(repo: Path, target: Target, cache_home: Path, workdir: Path) -> Plain:
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / f"plain-{target.label}.txt"
    cmd = [
        uv_binary(),
        "pip",
        "compile",
        str(repo / "requirements.txt"),
        "--output-file",
        str(output),
        "--no-header",
        "--annotation-style",
        "line",
        "--quiet",
        *target.uv_args,
    ]
    run = run_timed(cmd, clean_env(cache_home), cwd=workdir)
    if run.returncode != 0:
        return Plain(False, run.wall, error=short_error(run.stderr))
    changed, added = [], []
    for name, version in sorted(parse_pins(output.read_text()).items()):
        old = target.installed.get(name)
        if old is None:
            added.append(name)
        elif public(old) != public(version):
            changed.append(f"{name} {old}->{version}")
    return Plain(True, run.wall, changed, added)


# --- envfix ------------------------------------------------------------------------------


@dataclass
class LockRun:
    """One `envfix lock --json` run, read."""

    wall: float
    ok: bool
    reused: bool = False
    upgrades: list[str] = field(default_factory=list)
    downgrades: list[str] = field(default_factory=list)
    adds: list[str] = field(default_factory=list)
    adds_with_versions: list[str] = field(default_factory=list)
    relaxed: int = 0
    suggestion: str | None = None
    findings: list[str] = field(default_factory=list)
    error: str | None = None

    def outcome(self) -> tuple[Any, ...]:
        return (sorted(self.upgrades), sorted(self.downgrades), sorted(self.adds))


def envfix_lock(repo: Path, config: Config, cache_home: Path, timeout: float) -> LockRun:
    cmd = [sys.executable, "-m", "envfix", "lock", str(repo), "--json"]
    cmd += ["--target", config.target.envfix_arg, "--backend", config.backend]
    run = run_timed(cmd, clean_env(cache_home), timeout=timeout)
    if run.returncode != 0:
        return LockRun(run.wall, False, error=f"exit {run.returncode}: {short_error(run.stderr)}")
    try:
        doc = json.loads(run.stdout)
        by_kind: dict[str, list[str]] = {"upgrade": [], "downgrade": [], "add": []}
        for change in doc["changes"]:
            if change["kind"] in by_kind:
                by_kind[change["kind"]].append(
                    f"{change['name']} {change['old'] or ''}->{change['new']}"
                )
        return LockRun(
            run.wall,
            True,
            reused=bool(doc["reused"]),
            upgrades=by_kind["upgrade"],
            downgrades=by_kind["downgrade"],
            adds=[a.split(" ", 1)[0] for a in by_kind["add"]],
            adds_with_versions=[a.replace(" ->", " ") for a in by_kind["add"]],
            relaxed=len(doc["relaxed"]),
            suggestion=doc["suggestion"],
            findings=[f"{f['code']}: {f['message']}" for f in doc["findings"]],
        )
    except (ValueError, KeyError, TypeError) as exc:
        return LockRun(run.wall, False, error=f"unreadable JSON ({type(exc).__name__}: {exc})")


@dataclass
class Result:
    """Every measurement of one case with one backend on one target."""

    case: str
    backend: str
    target: str
    cold: list[float] = field(default_factory=list)
    warm_stored: list[float] = field(default_factory=list)
    warm_resolver: list[float] = field(default_factory=list)
    lock: LockRun | None = None
    plain: Plain | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lock is not None and self.lock.ok

    @property
    def envfix_changes(self) -> int | None:
        if self.lock is None or not self.lock.ok:
            return None
        return len(self.lock.upgrades) + len(self.lock.downgrades)

    @property
    def plain_changes(self) -> int | None:
        if self.plain is None or not self.plain.ok:
            return None
        return len(self.plain.changed)

    def verdict(self) -> str | None:
        """fewer / equal / more preinstalled packages changed than plain pip; None if unknown."""
        mine = self.envfix_changes
        if mine is None or self.plain is None:
            return None
        if not self.plain.ok:
            return "plain-failed"
        theirs = len(self.plain.changed)
        return "fewer" if mine < theirs else "equal" if mine == theirs else "more"

    def as_json(self) -> dict[str, Any]:
        lock = self.lock
        return {
            "case": self.case,
            "backend": self.backend,
            "target": self.target,
            "ok": self.ok,
            "cold_s": self.cold,
            "warm_stored_s": self.warm_stored,
            "warm_resolver_s": self.warm_resolver,
            "cold_median_s": median(self.cold),
            "warm_stored_median_s": median(self.warm_stored),
            "warm_resolver_median_s": median(self.warm_resolver),
            "envfix": None
            if lock is None
            else {
                "ok": lock.ok,
                "error": lock.error,
                "upgrades": lock.upgrades,
                "downgrades": lock.downgrades,
                "adds": lock.adds,
                "relaxed_pins": lock.relaxed,
                "suggestion": lock.suggestion,
                "findings": lock.findings,
            },
            "plain": None
            if self.plain is None
            else {
                "ok": self.plain.ok,
                "wall_s": self.plain.wall,
                "error": self.plain.error,
                "changed": self.plain.changed,
                "added": self.plain.added,
            },
            "verdict": self.verdict(),
            "notes": self.notes,
        }


def is_pre(change: str) -> bool:
    """Whether a `name old->new` (or `name new`) change installs a pre- or dev release."""
    version = public(change.rpartition(" ")[2].rpartition(">")[2])
    return version is not None and (version.is_prerelease or version.is_devrelease)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def bench_config(
    case: Case, config: Config, workdir: Path, repeat: int, plain: Plain | None, timeout: float
) -> Result:
    """Cold, warm (stored lock) and warm (resolver) locks of `case`, `repeat` times."""
    result = Result(case.name, config.backend, config.target.label, plain=plain)
    tag = f"{case.name}/{config.backend}/{config.target.label}"
    for attempt in range(repeat):
        base = workdir / f"{case.name}-{config.backend}-{config.target.label}-{attempt + 1}"
        if base.exists():
            shutil.rmtree(base)
        repo = write_repo(case, base / "repo")
        caches = base / "cache"
        caches.mkdir()
        log(f"  {tag} run {attempt + 1}/{repeat}: cold")
        cold = envfix_lock(repo, config, caches, timeout)
        result.cold.append(cold.wall)
        if not cold.ok:
            result.lock = cold
            result.notes.append(f"FAILED cold after {cold.wall:.1f} s: {cold.error}")
            shutil.rmtree(caches / "tmp", ignore_errors=True)
            return result
        if result.lock is None:
            result.lock = cold
        elif cold.outcome() != result.lock.outcome():
            result.notes.append(f"run {attempt + 1}: cold lock differs from run 1")
        log(f"  {tag} run {attempt + 1}/{repeat}: warm, stored lock")
        stored = envfix_lock(repo, config, caches, timeout)
        result.warm_stored.append(stored.wall)
        if not stored.ok:
            result.notes.append(f"FAILED warm (stored): {stored.error}")
        elif not stored.reused:
            result.notes.append("stored lock NOT reused")
        elif stored.outcome() != cold.outcome():
            result.notes.append("stored lock differs from the cold one")
        log(f"  {tag} run {attempt + 1}/{repeat}: warm, resolver")
        (repo / ".envfix" / "lock.json").unlink(missing_ok=True)
        again = envfix_lock(repo, config, caches, timeout)
        result.warm_resolver.append(again.wall)
        if not again.ok:
            result.notes.append(f"FAILED warm (resolver): {again.error}")
        elif again.reused:
            result.notes.append("warm (resolver) run said reused")
        elif again.outcome() != cold.outcome():
            result.notes.append("warm (resolver) lock differs from the cold one")
        shutil.rmtree(caches / "tmp", ignore_errors=True)
    lock = result.lock
    assert lock is not None
    if lock.relaxed:
        result.notes.append(f"{lock.relaxed} pins relaxed")
    if lock.suggestion:
        result.notes.append("suggests another runtime")
    pre = [c for c in lock.upgrades + lock.downgrades + lock.adds_with_versions if is_pre(c)]
    if pre:
        result.notes.append("PRE-RELEASE in lock: " + ", ".join(pre))
    codes = sorted({f.split(":", 1)[0] for f in lock.findings})
    if codes:
        result.notes.append("findings: " + ",".join(codes))
    if plain is not None and not plain.ok:
        result.notes.append(f"plain: {plain.error}")
    return result


# --- reporting ---------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(results: Sequence[Result]) -> str:
    head = (
        "case",
        "backend",
        "target",
        "cold s",
        "warm s (stored)",
        "warm s (resolver)",
        "envfix u+d / adds",
        "plain u+d / adds",
        "notes",
    )
    rows = [head]
    for r in results:
        lock, plain = r.lock, r.plain
        mine = (
            f"{len(lock.upgrades)}+{len(lock.downgrades)} / {len(lock.adds)}"
            if lock is not None and lock.ok
            else "failed"
        )
        theirs = (
            "-"
            if plain is None
            else f"{len(plain.changed)} / {len(plain.added)}"
            if plain.ok
            else "fails"
        )
        rows.append(
            (
                r.case,
                r.backend,
                r.target,
                fmt(median(r.cold)),
                fmt(median(r.warm_stored)),
                fmt(median(r.warm_resolver)),
                mine,
                theirs,
                "; ".join(r.notes),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(w) if i < 3 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*cells, row[-1]]))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths) + "  -----")
    return "\n".join(lines)


def summary(results: Sequence[Result]) -> list[str]:
    out: list[str] = []
    for backend, target in sorted({(r.backend, r.target) for r in results}):
        rows = [r for r in results if r.backend == backend and r.target == target and r.ok]
        if not rows:
            out.append(f"{backend} on {target}: every lock failed")
            continue
        parts = []
        for label, values in (
            ("cold", [median(r.cold) for r in rows]),
            ("warm (stored lock)", [median(r.warm_stored) for r in rows]),
            ("warm (resolver)", [median(r.warm_resolver) for r in rows]),
        ):
            times = [v for v in values if v is not None]
            if not times:
                continue
            mid = statistics.median(times)
            aim = "" if label == "cold" else f" [{'met' if mid < WARM_AIM_S else 'NOT met'}]"
            parts.append(f"{label} {mid:.2f} s (max {max(times):.2f}){aim}")
        out.append(f"median over {len(rows)} cases, {backend} on {target}: " + ", ".join(parts))
    out.append(f"aim: a warm lock under {WARM_AIM_S:.0f} s")
    verdicts = [(r, r.verdict()) for r in results]
    known = [(r, v) for r, v in verdicts if v is not None]
    count = {k: sum(1 for _, v in known if v == k) for k in ("fewer", "equal", "more")}
    compared = count["fewer"] + count["equal"] + count["more"]
    plain_failed = [r for r in results if r.plain is not None and not r.plain.ok]
    rescued = sum(1 for r in plain_failed if r.ok)
    out.append(
        "envfix changed fewer/equal/more preinstalled packages than plain pip in"
        f" {count['fewer']}/{count['equal']}/{count['more']} of {compared} rows"
        " (case x backend x target) where both resolve; plain pip fails outright in"
        f" {len(plain_failed)} rows, of which envfix locked {rescued}"
    )
    worse = [f"{r.case}/{r.backend}/{r.target}" for r, v in known if v == "more"]
    out.append(
        "aim 'never more changes than plain': "
        + ("met" if not worse else f"NOT met ({', '.join(worse)})")
    )
    broken = [f"{r.case}/{r.backend}/{r.target}" for r in results if not r.ok]
    if broken:
        out.append(f"envfix lock failed in {len(broken)} rows: {', '.join(broken)}")
    return out


def index_facts() -> str:
    """What the package index reached from here offers pip: PEP 658 metadata files (else
    pip-compile downloads whole wheels to read their dependencies) and HTTP cache headers
    (else pip's cache stores nothing and a warm pip-compile downloads them again)."""
    import urllib.request

    url = "https://pypi.org/simple/six/"
    try:
        request = urllib.request.Request(
            url, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            doc = json.loads(response.read())
            cache = response.headers.get("Cache-Control") or response.headers.get("ETag")
    except (OSError, ValueError) as exc:
        return f"index check failed ({exc})"
    files = doc.get("files", [])
    metadata = any("core-metadata" in f or "data-dist-info-metadata" in f for f in files)
    return (
        f"index {url.rsplit('/', 3)[0]}: PEP 658 metadata {'served' if metadata else 'NOT served'},"
        f" HTTP cache headers {'sent' if cache else 'NOT sent'}"
    )


def tool_versions(venv: Path) -> dict[str, str]:
    import envfix

    uv = subprocess.run([uv_binary(), "--version"], capture_output=True, text=True).stdout
    pip_tools = installed_versions(venv / "bin" / "python").get("pip-tools", "?")
    source = Path(envfix.__file__).parent.parent
    commit = subprocess.run(
        ["git", "-C", str(source), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "envfix": f"{envfix.__version__} ({commit or 'no git'} at {source})",
        "python": sys.version.split()[0],
        "uv": uv.strip().removeprefix("uv "),
        "pip-tools (in the venv)": pip_tools,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--cases", type=int, default=len(CASES), help=f"first N cases (default {len(CASES)})"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="fresh cold+warm rounds per row (median shown)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds one envfix run may take before it is killed (default {DEFAULT_TIMEOUT_S})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON results only")
    parser.add_argument("--keep", help="write repos and caches here and keep them")
    parser.add_argument(
        "--cache-dir",
        default=str(Path.home() / ".cache" / "envfix-bench"),
        help="where the target virtualenv lives (default ~/.cache/envfix-bench)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.cases <= len(CASES) or args.repeat < 1:
        parser.error(f"need 1 <= --cases <= {len(CASES)} and --repeat >= 1")

    venv = ensure_target_venv(Path(args.cache_dir).expanduser())
    targets = {"colab": colab_target(), "venv": venv_target(venv)}
    configs = [
        Config("pip-tools", targets["venv"]),
        Config("uv", targets["colab"]),
        Config("uv", targets["venv"]),
    ]
    cases = CASES[: args.cases]
    versions = tool_versions(venv)
    index = index_facts()
    log(index)
    if args.keep:
        keep = Path(args.keep).expanduser().absolute()
        keep.mkdir(parents=True, exist_ok=True)
        holder: Any = None
        workdir = keep
    else:
        holder = tempfile.TemporaryDirectory(prefix="envfix-bench-lock-")
        workdir = Path(holder.name)
    started = datetime.now()
    results: list[Result] = []
    try:
        # Untimed: byte-code for envfix and its imports, a check that it runs at all.
        warmup = run_timed([sys.executable, "-m", "envfix", "--version"], clean_env())
        log(f"warm-up: envfix --version exit {warmup.returncode}, {warmup.wall:.2f} s")
        plain_cache = workdir / "plain-cache"
        for case in cases:
            log(f"case {case.name} ({case.date}): {' '.join(case.requirements)}")
            source = workdir / f"{case.name}-plain" / "repo"
            if source.parent.exists():
                shutil.rmtree(source.parent)
            write_repo(case, source)
            plains = {
                key: plain_resolution(source, target, plain_cache, source.parent)
                for key, target in targets.items()
            }
            for config in configs:
                key = "colab" if config.target is targets["colab"] else "venv"
                results.append(
                    bench_config(case, config, workdir, args.repeat, plains[key], args.timeout)
                )
    finally:
        if holder is not None:
            holder.cleanup()
    elapsed = (datetime.now() - started).total_seconds()

    if args.json:
        doc = {
            "settings": {"cases": args.cases, "repeat": args.repeat},
            "versions": versions,
            "index": index,
            "targets": {key: t.describe for key, t in targets.items()},
            "venv_packages": dict(sorted(targets["venv"].installed.items())),
            "cases": [
                {"name": c.name, "date": c.date, "about": c.about, "requirements": c.requirements}
                for c in cases
            ],
            "elapsed_s": elapsed,
            "results": [r.as_json() for r in results],
            "summary": summary(results),
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(
        "envfix lock, cold and warm, beside a plain `pip install -r requirements.txt`"
        f" resolution; {len(cases)} cases, median of {args.repeat} run(s);"
        + "".join(f" {k} {v};" for k, v in versions.items())
        + f" {elapsed / 60:.1f} min in all"
    )
    print(index)
    for target in targets.values():
        print(f"target {target.label}: {target.describe}")
    for case in cases:
        print(f"case {case.name} ({case.date}, {case.about}): {' '.join(case.requirements)}")
    print()
    print(table(results))
    print()
    for line in summary(results):
        print(line)
    print(
        "'u+d / adds' = preinstalled packages upgraded + downgraded / packages added;"
        " plain = `uv pip compile requirements.txt` for the same target, no preferences."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
