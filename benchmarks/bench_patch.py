"""Benchmark `envfix patch` against LibCST's own codemod CLI on one large synthetic repo.

Run it from the project root with envfix's own interpreter::

    .venv/bin/python benchmarks/bench_patch.py                 # 50 .py + 5 notebooks, ~3 min
    .venv/bin/python benchmarks/bench_patch.py --files 300 --notebooks 30 --repeat 1
    .venv/bin/python benchmarks/bench_patch.py --json          # machine-readable, on stdout

envfix looks at each file cheaply before any recipe parses it with LibCST: the words of the
text and, read with Python's own `ast`, the dotted names the code reaches through its
imports (`tf.log` after `import tensorflow as tf` is `tensorflow.log`; `np.log` is not). A
recipe runs only where those show it could change something; the file's LibCST parse and
name resolution are then shared by every recipe until one changes the file. So most of the
time goes to the files that do change: about 5 files/s on 2 cores on the default tree, and
about 4 files/s on 300 .py files and 30 notebooks, where more files change (it was 1.3-1.4
files/s when every recipe with a trigger word ran its full LibCST pass). A default run (50
.py files, 5 notebooks, three runs per tool) takes about 3 minutes in all, most of it LibCST's
own codemod CLI; 300 .py files and 30 notebooks with `--repeat 1` take about 12 minutes, of
which envfix's two runs are about 3 (LibCST's `--jobs=2` run alone took over 6).

What it does, in one run:

1. Generates a deterministic (seeded) fake ML-paper repo in a temporary folder, or in
   `--tree DIR` (reused when it already holds a tree made with the same settings), and makes
   it a git repository with one commit: nested packages of 50-300 line modules of ordinary
   code (which also calls numpy, pandas, torch, TensorFlow... the way today's versions
   allow); about a third of the modules get 1-4 snippets of old APIs that today's Colab
   broke (`np.float(x)`, `df.iteritems()`, `df.append(row, ignore_index=True)`,
   `yaml.load(f)`, `collections.Mapping`, `Image.ANTIALIAS`, `plt.style.use('seaborn-*')`,
   `tf.Session()`/`tf.placeholder`, `from sklearn.externals import joblib`, `loss.data[0]`,
   `scipy.misc.imread`, `transforms.Scale`), each with the import it needs; a few get
   look-alikes that must be left alone (`def scale(np): return np.float`, where `np` is a
   parameter). Notebooks have 10-30 cells: markdown, `%matplotlib inline`, `!pip install`
   lines, outputs (some small images), cell ids, and old APIs in some code cells.
   Before anything is timed, every snippet is checked on its own: the recipe named for it
   (one that applies to the newest bundled Colab profile) must rewrite it completely, and
   every look-alike must come out unchanged.
2. Times, on the same tree, each measurement `--repeat` times (median and best reported),
   each run on a fresh copy of the tree (patching changes files; copying is not timed):
   * envfix, patch stage with git: the recipes that apply to the newest bundled Colab profile
     (`catalogue()` + `applicable()` with the profile's versions and Python), then
     `envfix.patch.patch_workspace(workspace, recipes, installs=None)` on the copy (a git
     repository): .py files and notebooks, one commit per recipe on `envfix/patched`;
   * envfix, pure rewrite: the same recipes applied to every file in memory, exactly as the
     patch stage does it (`envfix.patch.rewrite_files` with `envfix.patch.recipe_step`, i.e.
     `apply_to_source` for .py and `apply_to_notebook` for notebook cells), without writing
     files or git;
   * LibCST's codemod CLI doing one generic rename over the same tree,
     `python -m libcst.tool codemod rename.RenameCommand --old_name numpy.float
     --new_name builtins.float --no-format --jobs=1 --hide-progress TREE` (cwd: the tree),
     and again with `--jobs=2`. It handles .py files only, so its files/s counts .py files.
   The envfix measurements run in a worker subprocess (this script with `--worker`) so that
   each has its own peak RSS; their time is taken inside the worker around the call only,
   with envfix imported and the recipes loaded (the worker's whole wall time, start-up
   included, is in the notes). LibCST's time is the subprocess's wall clock, start-up
   included. Peak RSS is the largest single process of each run's process tree (from
   `os.wait4`; for `--jobs=2` that is one LibCST worker, not the sum).
3. Checks every run, so that a failing tool is never reported as fast (any failure makes the
   exit status non-zero):
   * envfix with git: every .py file still parses (`ast.parse`); every notebook is still
     valid JSON with the same number of cells and the same cell ids; no old API the
     generator inserted is left (occurrences counted with regexes) except the look-alikes,
     of which exactly as many as were inserted remain; exactly the files with snippets
     changed; `envfix/patched` has one commit per recipe that changed something, each
     recipe expected from the snippets, and the work tree is clean;
   * envfix pure rewrite: the same file texts (SHA-256 over all of them) as the git run;
   * LibCST: exit code 0, no file failed, as many files transformed as hold a real
     `np.float`, none of those left but the look-alikes, every .py file still parses.

The OS file cache is warmed by reading the tree before anything is timed, and each
measurement does one untimed run on a tiny tree first (byte-code, a check that it runs).
"""

from __future__ import annotations

import argparse
import ast
import base64
import difflib
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _shared import Run, log, run_timed

GENERATOR_VERSION = 1
MANIFEST = ".envfix-bench-patch.json"
PROFILE = "colab"
BRANCH = "envfix/patched"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "paper",
    "GIT_AUTHOR_EMAIL": "paper@example.org",
    "GIT_COMMITTER_NAME": "paper",
    "GIT_COMMITTER_EMAIL": "paper@example.org",
    "GIT_AUTHOR_DATE": "2019-06-01T12:00:00+00:00",
    "GIT_COMMITTER_DATE": "2019-06-01T12:00:00+00:00",
    "GIT_CONFIG_NOSYSTEM": "1",
}

# --- what is inserted, and how to tell it is gone ------------------------------------------


@dataclass(frozen=True)
class Check:
    """An old API: how to count what is left of it in a file's code."""

    name: str
    pattern: str
    guard: str | None = None
    """If set, occurrences count only in code that also matches this (multiline) pattern."""

    def count(self, code: str) -> int:
        if self.guard is not None and not re.search(self.guard, code, re.MULTILINE):
            return 0
        return len(re.findall(self.pattern, code, re.MULTILINE))


CHECKS = {
    c.name: c
    for c in (
        Check("np.float/int/bool", r"\bnp\.(?:float|int|bool)\b"),
        Check(".iteritems()", r"\.iteritems\("),
        Check(".append(.., ignore_index)", r"\.append\([^()\n]*ignore_index=True\)"),
        Check("yaml.load(f)", r"\byaml\.load\(\w+\)"),
        Check("collections.<ABC>", r"\bcollections\.(?:Mapping|Iterable)\b"),
        Check("Image.ANTIALIAS", r"\bImage\.ANTIALIAS\b"),
        Check("seaborn-* style", r"[\"']seaborn-(?!v0_8)"),
        # `tf.Session(` stays once the file imports tensorflow.compat.v1 as tf.
        Check(
            "tf.Session/placeholder",
            r"\btf\.(?:Session|placeholder)\(",
            guard=r"^\s*import tensorflow as tf\s*$",
        ),
        Check("sklearn.externals", r"\bsklearn\.externals\b"),
        Check(".data[0]", r"\.data\[0\]"),
        Check("misc.imread", r"\bmisc\.imread\("),
        Check("transforms.Scale", r"\btransforms\.Scale\("),
    )
}
NP_FLOAT = re.compile(r"\bnp\.float\b")
"""What LibCST's rename (numpy.float -> builtins.float) must remove."""


@dataclass(frozen=True)
class Snippet:
    """Lines of code (placeholders {a} {b} {n} {style}) and the imports they need."""

    name: str
    check: str
    imports: tuple[str, ...]
    lines: tuple[str, ...]
    recipe: str | None = None
    """The recipe that must fix it; None for a look-alike, which must be left alone."""


BREAKAGES = (
    Snippet(
        "np.float(x)",
        "np.float/int/bool",
        ("import numpy as np",),
        ("{a} = np.float({b})",),
        "numpy-builtin-type-aliases",
    ),
    Snippet(
        "x.astype(np.int)",
        "np.float/int/bool",
        ("import numpy as np",),
        ("{a} = {b}.astype(np.int)",),
        "numpy-builtin-type-aliases",
    ),
    Snippet(
        "dtype=np.bool",
        "np.float/int/bool",
        ("import numpy as np",),
        ("{a} = np.zeros({n}, dtype=np.bool)",),
        "numpy-builtin-type-aliases",
    ),
    Snippet(
        "df.iteritems()",
        ".iteritems()",
        ("import pandas as pd",),
        ("for key, value in {a}.iteritems():", "    {b}[key] = value"),
        "pandas-iteritems",
    ),
    Snippet(
        "df.append(row, ignore_index=True)",
        ".append(.., ignore_index)",
        ("import pandas as pd",),
        ("{a} = {a}.append({b}, ignore_index=True)",),
        "pandas-dataframe-append",
    ),
    Snippet(
        "yaml.load(f)",
        "yaml.load(f)",
        ("import yaml",),
        ('with open({b}, "r") as f:', "    {a} = yaml.load(f)"),
        "pyyaml-load-loader",
    ),
    Snippet(
        "collections.Mapping",
        "collections.<ABC>",
        ("import collections",),
        ("if isinstance({a}, collections.Mapping):", "    {a} = dict({a})"),
        "python-collections-abc",
    ),
    Snippet(
        "collections.Iterable",
        "collections.<ABC>",
        ("import collections",),
        ("if not isinstance({a}, collections.Iterable):", "    {a} = [{a}]"),
        "python-collections-abc",
    ),
    Snippet(
        "Image.ANTIALIAS",
        "Image.ANTIALIAS",
        ("from PIL import Image",),
        ("{a} = {b}.resize(({n}, {n}), Image.ANTIALIAS)",),
        "pillow-antialias-constants",
    ),
    Snippet(
        "plt.style.use('seaborn-*')",
        "seaborn-* style",
        ("import matplotlib.pyplot as plt",),
        ('plt.style.use("seaborn-{style}")',),
        "matplotlib-seaborn-styles",
    ),
    Snippet(
        "tf.Session()/tf.placeholder",
        "tf.Session/placeholder",
        ("import tensorflow as tf",),
        (
            "{a} = tf.placeholder(tf.float32, [None, {n}])",
            "with tf.Session() as sess:",
            "    {b} = sess.run({a})",
        ),
        "tf1-session-compat-v1",
    ),
    Snippet(
        "from sklearn.externals import joblib",
        "sklearn.externals",
        ("from sklearn.externals import joblib",),
        ("{a} = joblib.load({b})",),
        "sklearn-externals-joblib",
    ),
    Snippet(
        "loss.data[0]",
        ".data[0]",
        ("import torch",),
        ("{a}.update({b}.data[0], {n})", "correct = ({a}.max(1)[1] == {b}).sum().data[0]"),
        "torch-0dim-tensor-data-index",
    ),
    Snippet(
        "scipy.misc.imread",
        "misc.imread",
        ("import scipy.misc",),
        ("{a} = scipy.misc.imread({b})",),
        "scipy-misc-imread-imsave",
    ),
    Snippet(
        "transforms.Scale",
        "transforms.Scale",
        ("from torchvision import transforms",),
        ("{a} = transforms.Scale({n})",),
        "torchvision-transforms-scale",
    ),
)
# Look-alikes: the same text, but the name is a parameter (or not a tensor): left alone.
LOOK_ALIKES = (
    Snippet(
        "def f(np): np.float",
        "np.float/int/bool",
        ("import numpy as np",),
        ("def scale_{k}(np):", "    return np.float"),
    ),
    Snippet(
        "def f(collections): collections.Mapping",
        "collections.<ABC>",
        ("import collections",),
        ("def lookup_{k}(collections):", "    return collections.Mapping"),
    ),
    Snippet(
        "def f(yaml, f): yaml.load(f)",
        "yaml.load(f)",
        ("import yaml",),
        ("def read_{k}(yaml, f):", "    return yaml.load(f)"),
    ),
    Snippet(
        "train_set.data[0]",
        ".data[0]",
        ("import torch",),
        ("def first_{k}(train_set):", "    return train_set.data[0]"),
    ),
)
SEABORN_STYLES = ("whitegrid", "darkgrid", "paper", "poster", "ticks", "white", "dark")

# --- ordinary code -------------------------------------------------------------------------

# import line -> statements that are fine on today's versions (recipes must not touch them)
LIBRARIES: dict[str, tuple[str, ...]] = {
    "import numpy as np": (
        "{a} = np.zeros(({n}, {n}), dtype=np.float32)",
        "{a} = np.asarray({b}, dtype=np.int64)",
        "{a} = np.mean({b}, axis=0) + np.std({b})",
    ),
    "import torch": (
        "{a} = torch.tensor({b}, dtype=torch.float32)",
        "{a} = {b}.detach().cpu().numpy()",
    ),
    "import torch.nn as nn": ("{a} = nn.Linear({n}, {n})",),
    "import pandas as pd": ("{a} = pd.read_csv({b})", "{a} = pd.concat([{a}, {b}])"),
    "import yaml": ("{a} = yaml.safe_load({b})",),
    "from PIL import Image": ('{a} = Image.open({b}).convert("RGB")',),
    "import tensorflow as tf": ("{a} = tf.constant({b}, dtype=tf.float32)",),
    "import matplotlib.pyplot as plt": ("plt.plot({a}, {b})", 'plt.savefig("{w}.png")'),
    "import scipy.io as sio": ("{a} = sio.loadmat({b})",),
    "import cv2": ("{a} = cv2.imread({b})",),
    "from tqdm import tqdm": ("{a} = [v for v in tqdm({b})]",),
    "from sklearn.metrics import accuracy_score": ("{a} = accuracy_score({a}, {b})",),
    "import collections": ("{a} = collections.OrderedDict()",),
}
STDLIB = (
    "os", "sys", "re", "json", "math", "random", "time", "argparse", "logging", "itertools",
    "functools", "pathlib", "typing", "copy", "pickle", "glob", "datetime", "csv", "hashlib",
)  # fmt: skip
TOP_PACKAGES = ("core", "models", "data", "engine", "modules", "lib", "ops", "tools", "utils")
SUBPACKAGES = (
    "backbones", "heads", "losses", "layers", "datasets", "transforms", "attention", "blocks",
    "metrics", "optim", "legacy", "contrib", "nets", "vis",
)  # fmt: skip
MODULE_WORDS = (
    "model", "resnet", "unet", "loss", "train", "trainer", "evaluate", "metrics", "dataset",
    "loader", "augment", "config", "helpers", "encoder", "decoder", "scheduler", "logger",
    "visualize", "inference", "preprocess", "sampler", "checkpoint", "demo", "policy",
)  # fmt: skip
WORDS = (
    "the", "model", "loss", "batch", "feature", "weight", "layer", "input", "output", "train",
    "image", "label", "score", "mask", "anchor", "epoch", "step", "value", "result", "network",
    "sample", "gradient", "update", "state", "buffer", "config", "path", "data", "mean",
)  # fmt: skip


def _ident(rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}_{rng.choice(WORDS)}"


def _fill(rng: random.Random, template: str) -> str:
    a, b = _ident(rng), _ident(rng)
    while b == a:
        b = _ident(rng)
    return template.format(
        a=a,
        b=b,
        n=rng.randint(1, 512),
        w=rng.choice(WORDS),
        style=rng.choice(SEABORN_STYLES),
    )


def _statement(rng: random.Random, libs: Sequence[str]) -> str:
    if libs and rng.random() < 0.25:
        return _fill(rng, rng.choice(LIBRARIES[rng.choice(libs)]))
    a, b, n = _ident(rng), _ident(rng), rng.randint(1, 512)
    return rng.choice(
        (
            f"{a} = {b} * {n} + {rng.random():.4f}",
            f"{a} = compute_{rng.choice(WORDS)}({b}, axis={rng.randint(0, 3)})",
            f"{a} = [v * {n} for v in {b} if v is not None]",
            f'{a} = {{"{rng.choice(WORDS)}": {n}, "name": "{b}"}}',
            f'logger.info("{a} %d: %.4f", {n}, {b})',
            f"{a}.append({b}[{n} % len({b})])",
            f"{a}, {b} = {b}, {a}",
            f'{a} = os.path.join({b}, "{rng.choice(WORDS)}_{n}.pth")',
        )
    )


def _block(rng: random.Random, indent: int, size: int, libs: Sequence[str]) -> list[str]:
    """About `size` lines of valid statements at `indent` spaces (compound ones nest once)."""
    pad, inner = " " * indent, " " * (indent + 4)
    out: list[str] = []
    while len(out) < size:
        roll = rng.random()
        if roll < 0.65:
            out.append(pad + _statement(rng, libs))
        elif roll < 0.72:
            out.append(f"{pad}# {' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))}")
        elif roll < 0.82:
            out.append(f"{pad}for i, {_ident(rng)} in enumerate({_ident(rng)}):")
            out += [inner + _statement(rng, libs) for _ in range(rng.randint(1, 3))]
        elif roll < 0.92:
            out.append(f"{pad}if {_ident(rng)} > {rng.randint(0, 9)}:")
            out += [inner + _statement(rng, libs) for _ in range(rng.randint(1, 3))]
        else:
            out += [f"{pad}try:", inner + _statement(rng, libs)]
            out += [f"{pad}except (IOError, ValueError):", f"{inner}raise"]
    return out


def _snippet_lines(rng: random.Random, snippet: Snippet, indent: int, k: int) -> list[str]:
    """The snippet's lines, placeholders filled in consistently, at `indent` spaces."""
    a, b = _ident(rng), _ident(rng)
    while b == a:
        b = _ident(rng)
    values = {
        "a": a,
        "b": b,
        "n": str(rng.randint(2, 512)),
        "k": str(k),
        "style": rng.choice(SEABORN_STYLES),
    }
    return [" " * indent + line.format(**values) for line in snippet.lines]


@dataclass
class Planted:
    """What went into one file: snippets that must be fixed and look-alikes that must stay."""

    breakages: list[str] = field(default_factory=list)
    look_alikes: list[str] = field(default_factory=list)


class Deck:
    """Draws snippets in shuffled rounds, so that every kind comes up even in a small tree."""

    def __init__(self, rng: random.Random, snippets: Sequence[Snippet]) -> None:
        self.rng = rng
        self.snippets = snippets
        self.left: list[Snippet] = []

    def draw(self, count: int) -> list[Snippet]:
        out = []
        for _ in range(count):
            if not self.left:
                self.left = list(self.snippets)
                self.rng.shuffle(self.left)
            out.append(self.left.pop())
        return out


def python_module(
    rng: random.Random, chosen: list[Snippet], alikes: list[Snippet], counter: list[int]
) -> tuple[str, Planted]:
    """Source of one 50-300 line module with `breakages` old-API snippets (each in a function
    of its own, among ordinary code) and `look_alikes` top-level look-alike functions."""
    planted = Planted()
    # A third of the modules are plain Python (helpers, configs): no third-party import.
    libs = rng.sample(sorted(LIBRARIES), rng.randint(1, 6)) if rng.random() < 0.67 else []
    needed = [line for s in (*chosen, *alikes) for line in s.imports]
    head: list[str] = []
    if rng.random() < 0.3:
        head.append("#!/usr/bin/env python")
    if rng.random() < 0.2:
        head += ["# -*- coding: utf-8 -*-", "# 作者: 张三  (model code)"]
    head.append(f'"""{" ".join(rng.choice(WORDS) for _ in range(8)).capitalize()}."""')
    stdlib = sorted({"logging", "os", *rng.sample(STDLIB, rng.randint(2, 6))})
    head += [f"import {name}" for name in stdlib]
    head += ["", *dict.fromkeys([*libs, *needed]), "", ""]
    head += ["logger = logging.getLogger(__name__)", f"SEED = {rng.randint(0, 9999)}", "", ""]
    target = rng.randint(50, 300)
    units: list[list[str]] = []
    size = len(head)
    while size < target:
        unit: list[str] = []
        if rng.random() < 0.65:
            unit.append(f"def {rng.choice(WORDS)}_{rng.choice(WORDS)}_{len(units)}(x, y=None):")
            unit.append(f'    """{" ".join(rng.choice(WORDS) for _ in range(6))}."""')
            unit += _block(rng, 4, rng.randint(4, 25), libs)
            unit += [f"    return {_ident(rng)}", "", ""]
        else:
            word, other = rng.choice(WORDS).title(), rng.choice(WORDS).title()
            unit.append(f"class {word}{other}{len(units)}({rng.choice(('object', 'dict'))}):")
            unit.append(f'    """{" ".join(rng.choice(WORDS) for _ in range(6))}."""')
            unit.append("")
            for method in ("__init__", "forward", "reset")[: rng.randint(1, 3)]:
                unit.append(f"    def {method}(self, {_ident(rng)}, {_ident(rng)}=None):")
                unit += _block(rng, 8, rng.randint(3, 12), libs)
                unit += [f"        return self.{_ident(rng)}", ""]
            unit.append("")
        units.append(unit)
        size += len(unit)
    for snippet in (*chosen, *alikes):
        counter[0] += 1
        if snippet.recipe is None:
            unit = [*_snippet_lines(rng, snippet, 0, counter[0]), "", ""]
            planted.look_alikes.append(snippet.name)
        else:
            name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{counter[0]}"
            unit = [f"def {name}({_ident(rng)}, {_ident(rng)}=None):"]
            unit.append(f'    """{" ".join(rng.choice(WORDS) for _ in range(6))}."""')
            unit += _block(rng, 4, rng.randint(1, 6), libs)
            unit += _snippet_lines(rng, snippet, 4, counter[0])
            unit += _block(rng, 4, rng.randint(1, 6), libs)
            unit += [f"    return {_ident(rng)}", "", ""]
            planted.breakages.append(snippet.name)
        units.insert(rng.randint(0, len(units)), unit)
    body = [line for unit in units for line in unit]
    if rng.random() < 0.3:
        body += ['if __name__ == "__main__":', "    main()"]
    return "\n".join([*head, *body]).rstrip("\n") + "\n", planted


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + [parts[-1]]


def notebook(
    rng: random.Random, chosen: list[Snippet], alikes: list[Snippet], counter: list[int]
) -> tuple[str, Planted]:
    """nbformat-4.5 JSON of a 10-30 cell notebook with old-API snippets in code cells."""
    planted = Planted()
    cells: list[dict[str, Any]] = []
    executed = [0]

    def cell_id() -> str:
        return f"{rng.getrandbits(64):016x}"

    def code(source: str, outputs: list[dict[str, Any]] | None = None) -> None:
        executed[0] += 1
        cells.append(
            {
                "cell_type": "code",
                "execution_count": executed[0],
                "id": cell_id(),
                "metadata": {},
                "outputs": outputs or [],
                "source": _lines(source),
            }
        )

    def markdown(source: str) -> None:
        cells.append(
            {"cell_type": "markdown", "id": cell_id(), "metadata": {}, "source": _lines(source)}
        )

    libs = rng.sample(sorted(LIBRARIES), rng.randint(2, 6))
    needed = [line for s in (*chosen, *alikes) for line in s.imports]
    markdown(f"# {' '.join(rng.choice(WORDS) for _ in range(5)).title()}\n\nReproduces Table 2.")
    setup = ["%matplotlib inline"]
    if rng.random() < 0.6:
        setup.append("!pip install -q numpy==1.16.4 pandas==0.25.3 torch==1.4.0")
    if rng.random() < 0.3:
        setup += ["%load_ext autoreload", "%autoreload 2"]
    code("\n".join(setup), [{"name": "stdout", "output_type": "stream", "text": ["ok\n"]}])
    stdlib = [f"import {name}" for name in sorted(rng.sample(STDLIB, rng.randint(2, 5)))]
    code("\n".join(["import logging", "import os", *stdlib, *dict.fromkeys([*libs, *needed])]))
    code("logger = logging.getLogger('notebook')")
    pending = [*chosen, *alikes]
    rng.shuffle(pending)
    target = rng.randint(10, 30)
    while len(cells) < target or pending:
        if rng.random() < 0.3:
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 50)))
            markdown(f"## {rng.choice(WORDS).title()}\n\n{text}.")
            continue
        body = _block(rng, 0, rng.randint(2, 10), libs)
        if pending and rng.random() < 0.5:
            snippet = pending.pop()
            counter[0] += 1
            # Between two top-level statements, never inside a compound one.
            starts = [i for i, line in enumerate(body) if not line.startswith((" ", "except"))]
            at = rng.choice([*starts, len(body)])
            body[at:at] = _snippet_lines(rng, snippet, 0, counter[0])
            (planted.look_alikes if snippet.recipe is None else planted.breakages).append(
                snippet.name
            )
        if rng.random() < 0.15:
            body.append("!nvidia-smi" if rng.random() < 0.5 else "!ls -la data/")
        outputs: list[dict[str, Any]] = []
        if rng.random() < 0.5:
            stream = [f"Epoch {i}: loss {rng.random():.4f}\n" for i in range(rng.randint(1, 20))]
            outputs.append({"name": "stdout", "output_type": "stream", "text": stream})
        if rng.random() < 0.05:
            png = base64.b64encode(rng.randbytes(rng.randint(3_000, 30_000))).decode("ascii")
            outputs.append(
                {
                    "data": {"image/png": png + "\n", "text/plain": ["<Figure>"]},
                    "metadata": {},
                    "output_type": "display_data",
                }
            )
        code("\n".join(body), outputs)
    doc = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": "3.7.10"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n", planted


# --- the tree ------------------------------------------------------------------------------


@dataclass
class TreeInfo:
    """What was generated, and the ground truth the checks compare with."""

    root: Path
    py_files: int
    notebooks: int
    bytes: int
    planted: dict[str, Planted]
    """Path -> what went into it, for every file that got a snippet or a look-alike."""
    cell_ids: dict[str, list[str]]
    """Notebook path -> its cells' ids, in order."""

    @property
    def files(self) -> int:
        return self.py_files + self.notebooks

    def broken_files(self) -> set[str]:
        return {rel for rel, p in self.planted.items() if p.breakages}

    def expected_left(self) -> Counter[str]:
        """Check name -> occurrences that must remain after patching (the look-alikes)."""
        by_name = {s.name: s.check for s in LOOK_ALIKES}
        return Counter(by_name[name] for p in self.planted.values() for name in p.look_alikes)

    def counts(self, kind: str) -> Counter[str]:
        key = {s.name: s for s in (*BREAKAGES, *LOOK_ALIKES)}
        return Counter(
            name
            for p in self.planted.values()
            for name in (p.breakages if kind == "breakages" else p.look_alikes)
            if name in key
        )

    def expected_recipes(self) -> set[str]:
        by_name = {s.name: s.recipe for s in BREAKAGES}
        return {r for p in self.planted.values() for n in p.breakages if (r := by_name[n])}

    def np_float_py_files(self) -> set[str]:
        """.py files holding a real `np.float` (what LibCST's rename must change)."""
        return {
            rel
            for rel, p in self.planted.items()
            if rel.endswith(".py") and "np.float(x)" in p.breakages
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "py_files": self.py_files,
            "notebooks": self.notebooks,
            "bytes": self.bytes,
            "planted": {
                rel: {"breakages": p.breakages, "look_alikes": p.look_alikes}
                for rel, p in sorted(self.planted.items())
            },
            "cell_ids": self.cell_ids,
        }

    @classmethod
    def from_json(cls, root: Path, doc: dict[str, Any]) -> TreeInfo:
        return cls(
            root,
            doc["py_files"],
            doc["notebooks"],
            doc["bytes"],
            {
                rel: Planted(list(p["breakages"]), list(p["look_alikes"]))
                for rel, p in doc["planted"].items()
            },
            {rel: list(ids) for rel, ids in doc["cell_ids"].items()},
        )


def generate_tree(root: Path, files: int, notebooks: int, seed: int) -> TreeInfo:
    """Write the synthetic repo into `root` (which must be empty or absent); no git yet."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    dirs = list(TOP_PACKAGES)
    while len(dirs) < max(len(TOP_PACKAGES), files // 12):
        parent = rng.choice(dirs)
        if parent.count("/") < 3:
            dirs.append(f"{parent}/{rng.choice(SUBPACKAGES)}_{len(dirs)}")
    paths = [f"{d}/__init__.py" for d in dirs]
    paths += ["train.py", "test.py", "main.py", "demo.py", "config.py"]
    while len(paths) < files:
        paths.append(f"{rng.choice(dirs)}/{rng.choice(MODULE_WORDS)}_{len(paths)}.py")
    paths = paths[:files]
    broken, alike = Deck(rng, BREAKAGES), Deck(rng, LOOK_ALIKES)
    # A third of the modules get 1-4 old-API snippets; 1 in 20 a look-alike, and at least one
    # module each look-alike.
    n_broken = [rng.randint(1, 4) if rng.random() < 1 / 3 else 0 for _ in range(files)]
    n_alike = [1 if rng.random() < 0.05 else 0 for _ in range(files)]
    for index in rng.sample(range(files), min(files, len(LOOK_ALIKES))):
        n_alike[index] = 1
    planted: dict[str, Planted] = {}
    counter = [0]
    total = 0
    for path, n_b, n_a in zip(paths, n_broken, n_alike, strict=True):
        if path.endswith("__init__.py") and not n_b and not n_a and rng.random() < 0.7:
            text = ""
        else:
            text, plant = python_module(rng, broken.draw(n_b), alike.draw(n_a), counter)
            if plant.breakages or plant.look_alikes:
                planted[path] = plant
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        total += target.write_bytes(text.encode("utf-8"))
    cell_ids: dict[str, list[str]] = {}
    nb_dirs = ["notebooks", "notebooks/exploration", "", *rng.sample(dirs, min(4, len(dirs)))]
    for index in range(notebooks):
        n_b = rng.randint(1, 4) if rng.random() < 0.5 else 0
        n_a = 1 if rng.random() < 0.1 else 0
        text, plant = notebook(rng, broken.draw(n_b), alike.draw(n_a), counter)
        path = f"{rng.choice(nb_dirs)}/{rng.choice(WORDS)}_{index:04d}.ipynb".lstrip("/")
        if plant.breakages or plant.look_alikes:
            planted[path] = plant
        cell_ids[path] = [c["id"] for c in json.loads(text)["cells"]]
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        total += (root / path).write_bytes(text.encode("utf-8"))
    reqs = "numpy==1.16.4\npandas==0.25.3\ntorch==1.4.0\ntensorflow==1.15\nPyYAML==5.1\n"
    total += (root / "requirements.txt").write_bytes(reqs.encode())
    total += (root / "README.md").write_bytes(b"# Paper code\n\n    python train.py\n")
    return TreeInfo(root, files, notebooks, total, planted, cell_ids)


def git(root: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    result = subprocess.run(
        ["git", "-C", str(root), *args], env=env, check=True, capture_output=True, text=True
    )
    return result.stdout


def make_repo(root: Path) -> None:
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "paper code")


def tree_for(args: argparse.Namespace, workdir: Path) -> TreeInfo:
    """The tree to benchmark: reused from `--tree` if made with the same settings (and
    unchanged since), else generated (and committed) anew."""
    settings = {
        "version": GENERATOR_VERSION,
        "files": args.files,
        "notebooks": args.notebooks,
        "seed": args.seed,
    }
    root = (Path(args.tree) if args.tree else workdir / "tree").absolute()
    manifest = root / MANIFEST
    if manifest.is_file():
        saved = json.loads(manifest.read_text())
        clean = (root / ".git").is_dir() and not git(root, "status", "--porcelain").strip()
        if saved.get("settings") == settings and clean:
            return TreeInfo.from_json(root, saved["info"])
        shutil.rmtree(root)
    elif root.exists() and any(root.iterdir()):
        sys.exit(f"bench_patch: {root} is not empty and was not made by this script")
    log(f"generating {args.files} .py files and {args.notebooks} notebooks in {root}")
    info = generate_tree(root, args.files, args.notebooks, args.seed)
    manifest.write_text(json.dumps({"settings": settings, "info": info.as_json()}))
    make_repo(root)
    return info


def fresh_copy(source: Path, dest: Path) -> Path:
    """A copy of the tree (git repository included) whose index is up to date, so that the
    first `git status` in the timed run does not have to hash every file again."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, symlinks=True)
    git(dest, "update-index", "-q", "--refresh")
    return dest


def warm_cache(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                while f.read(1 << 20):
                    pass


def code_files(root: Path) -> list[str]:
    """The files envfix patches, as it finds them."""
    from envfix.scanner.inventory import walk_repo

    return [rel for rel in walk_repo(root) if rel.endswith((".py", ".ipynb"))]


def code_of(rel: str, text: str) -> str:
    """A file's Python: the text of a .py file, the code cells of a notebook."""
    if not rel.endswith(".ipynb"):
        return text
    cells = json.loads(text)["cells"]
    return "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in cells
        if c.get("cell_type") == "code"
    )


def digest(texts: dict[str, str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(texts):
        h.update(rel.encode() + b"\0" + texts[rel].encode("utf-8") + b"\0")
    return h.hexdigest()


def read_texts(root: Path) -> dict[str, str]:
    return {rel: (root / rel).read_text(encoding="utf-8") for rel in code_files(root)}


# --- the envfix side (run in a worker subprocess) -----------------------------------------


def load_recipes() -> tuple[list[Any], str]:
    """The recipes that apply to the newest bundled Colab profile, and a description."""
    from envfix.pipeline import load_runtime
    from envfix.recipes.engine import applicable, catalogue

    runtime = load_runtime(PROFILE)
    versions = {d.name: d.version for d in runtime.distributions if d.version}
    recipes = applicable(catalogue(), versions, runtime.python_version)
    return recipes, f"{runtime.name} of {runtime.released}, Python {runtime.python_version}"


def worker(mode: str, root: Path) -> int:
    """One timed envfix run on `root`, its outcome as JSON on stdout."""
    from envfix.patch import patch_workspace, recipe_step, rewrite_files
    from envfix.recipes.engine import catalogue
    from envfix.recipes.fixes import FIX_KINDS
    from envfix.workspace import open_folder

    start = time.perf_counter()
    recipes, runtime = load_recipes()
    setup = time.perf_counter() - start
    kinds = {fix.kind for r in recipes for fix in r.fixes}
    doc: dict[str, Any] = {
        "runtime": runtime,
        "recipes": len(recipes),
        "catalogue": len(catalogue()),
        "fix_kinds": len(kinds),
        "all_fix_kinds": len(FIX_KINDS),
        "setup_s": setup,
    }
    if mode == "envfix-git":
        workspace = open_folder(root)
        start = time.perf_counter()
        result = patch_workspace(workspace, recipes, installs=None)
        doc["seconds"] = time.perf_counter() - start
        doc["base"] = result.base
        doc["patches"] = [
            {"recipe": p.recipe, "files": list(p.files), "changes": p.changes, "commit": p.commit}
            for p in result.patches
        ]
    else:
        steps = [recipe_step(r) for r in recipes]
        start = time.perf_counter()
        # The patch stage's own loop (envfix.patch.rewrite_files), without git or writing.
        texts = {rel: (root / rel).read_text(encoding="utf-8") for rel in code_files(root)}
        after_step = rewrite_files(texts, steps)
        changed: dict[str, list[str]] = {}
        for index, step_texts in sorted(after_step.items()):
            changed[recipes[index].id] = list(step_texts)
            texts.update(step_texts)
        doc["seconds"] = time.perf_counter() - start
        doc["patches"] = [
            {"recipe": r, "files": files, "changes": len(files), "commit": None}
            for r, files in changed.items()
        ]
        doc["digest"] = digest(texts)
    print(json.dumps(doc))
    return 0


# --- running things ------------------------------------------------------------------------


def short_error(run: Run) -> str:
    lines = [line.strip() for line in run.stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else "(no stderr)"
    return last if len(last) <= 140 else last[:137] + "..."


@dataclass
class Outcome:
    """A checked run: its time, and what went wrong (nothing, if `problems` is empty)."""

    seconds: float
    process_s: float
    rss_mb: float
    changes: str
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Tool:
    name: str
    does: str
    files: int
    command: Callable[[Path], list[str]]
    check: Callable[[Run, Path], Outcome]
    cwd_is_tree: bool = False


def check_envfix_git(info: TreeInfo, run: Run, tree: Path) -> Outcome:
    """Everything the patch must have done, and nothing else."""
    doc = json.loads(run.stdout)
    out = Outcome(doc["seconds"], run.wall, run.max_rss_mb or 0.0, "", facts=doc)
    problems = out.problems
    texts = read_texts(tree)
    # Every .py file parses; every notebook is JSON with the same cells (count, ids), and
    # the same markdown and outputs.
    for rel, text in texts.items():
        if rel.endswith(".py"):
            try:
                ast.parse(text, rel)
            except SyntaxError as exc:
                problems.append(f"{rel} no longer parses: {exc}")
            continue
        try:
            cells = json.loads(text)["cells"]
        except (ValueError, KeyError) as exc:
            problems.append(f"{rel} is no longer a notebook: {exc}")
            continue
        ids = [c.get("id") for c in cells]
        if ids != info.cell_ids.get(rel):
            problems.append(f"{rel}: {len(ids)} cells, or other cell ids, than before")
            continue
        old = json.loads((info.root / rel).read_text(encoding="utf-8"))["cells"]
        for new_cell, old_cell in zip(cells, old, strict=True):
            if new_cell.get("outputs") != old_cell.get("outputs") or (
                old_cell["cell_type"] != "code" and new_cell != old_cell
            ):
                problems.append(f"{rel}: cell {old_cell['id']} lost its outputs or markdown")
                break
    # Old APIs left: only the look-alikes.
    left = residues(texts)
    expected = info.expected_left()
    for name in CHECKS:
        if left[name] != expected[name]:
            problems.append(f"{left[name]} x '{name}' left, expected {expected[name]}")
    # Exactly the files with snippets changed.
    base = doc["base"]
    changed = set(git(tree, "diff", "--name-only", base, "HEAD").split())
    wanted = info.broken_files()
    if changed != wanted:
        extra, missed = sorted(changed - wanted), sorted(wanted - changed)
        problems.append(
            f"changed files differ: {len(extra)} unexpected {extra[:3]},"
            f" {len(missed)} missed {missed[:3]}"
        )
    # The branch: one commit per recipe that changed something, each one expected.
    patches = doc["patches"]
    head = git(tree, "rev-parse", "--abbrev-ref", "HEAD").strip()
    commits = git(tree, "log", "--format=%H %s", f"{base}..HEAD").splitlines()
    subjects = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in commits}
    recipes = [p["recipe"] for p in patches]
    if head != BRANCH:
        problems.append(f"HEAD is {head}, not {BRANCH}")
    if len(commits) != len(patches) or len(set(recipes)) != len(recipes):
        problems.append(f"{len(commits)} commits for {len(patches)} patches")
    for p in patches:
        subject = subjects.get(p["commit"] or "", "")
        if not subject.startswith(f"envfix: {p['recipe']}: "):
            problems.append(f"no commit for {p['recipe']} (got {subject!r})")
            continue
        touched = git(tree, "diff-tree", "--no-commit-id", "--name-only", "-r", p["commit"])
        if sorted(touched.split()) != sorted(p["files"]):
            problems.append(f"the commit of {p['recipe']} does not hold exactly its files")
    unexpected = sorted(set(recipes) - info.expected_recipes())
    unused = sorted(info.expected_recipes() - set(recipes))
    if unexpected or unused:
        problems.append(f"recipes: unexpected {unexpected}, expected but unused {unused}")
    if git(tree, "status", "--porcelain").strip():
        problems.append("the work tree is dirty after the patch")
    out.facts["digest"] = digest(texts)
    out.facts["left"] = dict(left)
    edits = sum(p["changes"] for p in patches)
    out.changes = f"{len(changed)} files, {edits} file-recipe edits, {len(patches)} commits"
    return out


def check_envfix_rewrite(reference: dict[str, Any], run: Run, tree: Path) -> Outcome:
    doc = json.loads(run.stdout)
    out = Outcome(doc["seconds"], run.wall, run.max_rss_mb or 0.0, "", facts=doc)
    if reference.get("digest") and doc["digest"] != reference["digest"]:
        out.problems.append("its texts differ from what the patch stage wrote")
    mine = {p["recipe"]: sorted(p["files"]) for p in doc["patches"]}
    theirs = {p["recipe"]: sorted(p["files"]) for p in reference.get("patches", [])}
    if theirs and mine != theirs:
        out.problems.append("its recipe/file pairs differ from the patch stage's")
    files = len({f for p in doc["patches"] for f in p["files"]})
    edits = sum(p["changes"] for p in doc["patches"])
    out.changes = f"{files} files, {edits} file-recipe edits (in memory)"
    return out


LIBCST_SUMMARY = {
    key: re.compile(pattern)
    for key, pattern in (
        ("total", r"Finished codemodding (\d+) files"),
        ("transformed", r"Transformed (\d+) files"),
        ("skipped", r"Skipped (\d+) files"),
        ("failed", r"Failed to codemod (\d+) files"),
    )
}


def check_libcst(info: TreeInfo, run: Run, tree: Path) -> Outcome:
    """Its own summary (LibCST counts every file it processed without error as
    "transformed", changed or not), then what really changed, compared with the tree."""
    out = Outcome(run.wall, run.wall, run.max_rss_mb or 0.0, "")
    counts: dict[str, int] = {}
    for key, pattern in LIBCST_SUMMARY.items():
        m = pattern.search(run.stderr)
        if m is None:
            out.problems.append(f"no '{key}' count in its summary: {short_error(run)}")
            return out
        counts[key] = int(m[1])
    if counts["failed"]:
        out.problems.append(f"{counts['failed']} files failed")
    if counts["total"] != info.py_files:
        out.problems.append(f"it went through {counts['total']} files, not {info.py_files}")
    changed, left = set(), 0
    for rel in code_files(tree):
        if not rel.endswith(".py"):
            continue
        text = (tree / rel).read_text(encoding="utf-8")
        if text != (info.root / rel).read_text(encoding="utf-8"):
            changed.add(rel)
        left += len(NP_FLOAT.findall(text))
        try:
            ast.parse(text, rel)
        except SyntaxError as exc:
            out.problems.append(f"{rel} no longer parses: {exc}")
    wanted = info.np_float_py_files()
    if wanted - changed:
        missed = sorted(wanted - changed)
        out.problems.append(f"{len(missed)} files with np.float unchanged: {missed[:3]}")
    # The rename also rewrites `import numpy as np` in files without numpy.float (it adds
    # `, builtins`): allowed, but nothing else may change in those files.
    imports_only = changed - wanted
    for rel in sorted(imports_only):
        old = (info.root / rel).read_text(encoding="utf-8").splitlines()
        new = (tree / rel).read_text(encoding="utf-8").splitlines()
        differ = [line for line in difflib.ndiff(old, new) if line[:2] in ("- ", "+ ")]
        if not all(re.match(r"[-+] (?:import|from) ", line) for line in differ):
            out.problems.append(f"{rel} has no np.float, yet its code changed")
            break
    alikes = sum(
        name == "def f(np): np.float"
        for rel, p in info.planted.items()
        if rel.endswith(".py")
        for name in p.look_alikes
    )
    if left != alikes:
        out.problems.append(f"{left} x np.float left in .py files, expected {alikes}")
    out.facts = {**counts, "changed": len(changed), "imports_only": len(imports_only)}
    out.changes = f"{len(changed)} files ({len(imports_only)} only in import lines)"
    return out


def residues(texts: dict[str, str]) -> Counter[str]:
    found: Counter[str] = Counter()
    for rel, text in texts.items():
        code = code_of(rel, text)
        for name, check in CHECKS.items():
            found[name] += check.count(code)
    return found


def self_check() -> list[str]:
    """Each snippet on its own: fixed completely by its recipe (which applies to the newest
    Colab), look-alikes left alone. A catalogue change shows up here, before any timing."""
    from envfix.recipes.engine import apply_to_source

    recipes, _ = load_recipes()
    by_id = {r.id: r for r in recipes}
    problems = []
    rng = random.Random(0)
    for snippet in (*BREAKAGES, *LOOK_ALIKES):
        body = _snippet_lines(rng, snippet, 4 if snippet.recipe else 0, 1)
        if snippet.recipe:
            body = ["def f(x, y=None):", *body, "    return x"]
        source = "\n".join([*snippet.imports, "", "", *body]) + "\n"
        text, used = source, []
        for recipe in recipes:
            text, changes = apply_to_source(recipe, text)
            if changes:
                used.append(recipe.id)
        left = CHECKS[snippet.check].count(text)
        if snippet.recipe is None:
            if text != source:
                problems.append(f"look-alike {snippet.name!r} was changed by {used}")
        elif snippet.recipe not in by_id:
            problems.append(f"{snippet.name!r}: recipe {snippet.recipe} does not apply")
        elif snippet.recipe not in used or left:
            problems.append(f"{snippet.name!r}: not fixed ({left} left, recipes used: {used})")
    return problems


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Result:
    """All runs of one tool, summarised."""

    tool: str
    does: str
    files: int
    runs: list[float] = field(default_factory=list)
    process: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    changes: str = "-"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and not self.problems

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def best(self) -> float:
        return min(self.runs)

    def as_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "does": self.does,
            "files": self.files,
            "ok": self.ok,
            "median_s": self.median if self.runs else None,
            "best_s": self.best if self.runs else None,
            "runs_s": self.runs,
            "process_s": self.process,
            "files_per_s": self.files / self.median if self.ok else None,
            "max_rss_mb": max(self.rss, default=None),
            "changes": self.changes,
            "problems": self.problems,
            "notes": self.notes,
        }


tool_facts: dict[str, dict[str, Any]] = {}
"""The last good run's facts, per tool (the rewrite is compared with the git run's)."""


def bench(tool: Tool, info: TreeInfo, workdir: Path, repeat: int) -> Result:
    """`repeat` runs of `tool`, each on a fresh copy of the tree; stops at the first failure."""
    result = Result(tool.name, tool.does, tool.files)
    for attempt in range(repeat):
        tree = fresh_copy(info.root, workdir / "run")
        log(f"  {tool.name}, run {attempt + 1}/{repeat}")
        run = run_timed(tool.command(tree), cwd=tree if tool.cwd_is_tree else None)
        if run.returncode != 0:
            result.problems.append(
                f"exit {run.returncode} after {run.wall:.1f} s: {short_error(run)}"
            )
            result.runs.append(run.wall)
            return result
        try:
            outcome = tool.check(run, tree)
        except (ValueError, KeyError, TypeError, subprocess.CalledProcessError) as exc:
            result.problems.append(f"unreadable outcome ({type(exc).__name__}: {exc})")
            return result
        result.runs.append(outcome.seconds)
        result.process.append(outcome.process_s)
        result.rss.append(outcome.rss_mb)
        if result.changes not in ("-", outcome.changes):
            outcome.problems.append(f"run {attempt + 1} made other changes: {outcome.changes}")
        result.changes = outcome.changes
        if outcome.problems:
            result.problems += outcome.problems
            return result
        tool_facts[tool.name] = outcome.facts
    return result


def make_tools(info: TreeInfo, describe: dict[str, Any]) -> list[Tool]:
    me = [sys.executable, str(Path(__file__).absolute())]
    recipes = (
        f"{describe['recipes']} applicable recipes of {describe['catalogue']},"
        f" {describe['fix_kinds']}/{describe['all_fix_kinds']} fix kinds, .py + notebooks"
    )

    def libcst(jobs: int) -> Callable[[Path], list[str]]:
        return lambda tree: [
            sys.executable,
            "-m",
            "libcst.tool",
            "codemod",
            "rename.RenameCommand",
            "--old_name",
            "numpy.float",
            "--new_name",
            "builtins.float",
            "--no-format",
            f"--jobs={jobs}",
            "--hide-progress",
            str(tree),
        ]

    def libcst_check(run: Run, tree: Path) -> Outcome:
        return check_libcst(info, run, tree)

    return [
        Tool(
            "envfix patch_workspace",
            f"{recipes}, commits",
            info.files,
            lambda tree: [*me, "--worker", "envfix-git", "--worker-tree", str(tree)],
            lambda run, tree: check_envfix_git(info, run, tree),
        ),
        Tool(
            "envfix rewrite only",
            f"{recipes}, in memory, no git",
            info.files,
            lambda tree: [*me, "--worker", "envfix-rewrite", "--worker-tree", str(tree)],
            lambda run, tree: check_envfix_rewrite(
                tool_facts.get("envfix patch_workspace", {}), run, tree
            ),
        ),
        Tool(
            "libcst codemod --jobs=1",
            "1 rename (numpy.float -> float), .py only",
            info.py_files,
            libcst(1),
            libcst_check,
            cwd_is_tree=True,
        ),
        Tool(
            "libcst codemod --jobs=2",
            "1 rename (numpy.float -> float), .py only",
            info.py_files,
            libcst(2),
            libcst_check,
            cwd_is_tree=True,
        ),
    ]


def warm_up(tools: Sequence[Tool], workdir: Path, seed: int) -> None:
    """Each tool once on a tiny tree, untimed: byte-code compilation, and a check that it
    runs at all."""
    tiny = workdir / "tiny"
    generate_tree(tiny, 10, 1, seed + 1)
    make_repo(tiny)
    for tool in tools:
        tree = fresh_copy(tiny, workdir / "tiny-run")
        run = run_timed(tool.command(tree), cwd=tree if tool.cwd_is_tree else None)
        log(f"warm-up {tool.name}: exit {run.returncode}, {run.wall:.2f} s")
        if run.returncode != 0:
            log(f"  {short_error(run)}")
    shutil.rmtree(workdir / "tiny-run", ignore_errors=True)


# --- reporting -----------------------------------------------------------------------------


def table(results: Sequence[Result]) -> str:
    head = (
        "tool",
        "what it does",
        "files",
        "median s",
        "best s",
        "files/s",
        "peak RSS",
        "changes made",
    )
    rows = [head]
    for r in results:
        rss = max(r.rss, default=None)
        rows.append(
            (
                r.tool,
                r.does,
                f"{r.files:,}",
                f"{r.median:.2f}" if r.ok else "failed",
                f"{r.best:.2f}" if r.ok else "-",
                f"{r.files / r.median:,.1f}" if r.ok else "-",
                "-" if rss is None else f"{rss:.0f} MB",
                r.changes if r.ok else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*cells, row[-1]]))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * len(head[-1]))
    return "\n".join(lines)


def check_lines(info: TreeInfo, before: Counter[str], results: Sequence[Result]) -> list[str]:
    facts = tool_facts.get("envfix patch_workspace", {})
    left = facts.get("left", {})
    expected = info.expected_left()
    out = []
    for name in CHECKS:
        after = left.get(name)
        verdict = "-" if after is None else "ok" if after == expected[name] else "FAILED"
        out.append(
            f"  {name:<26} {before[name]:>5} before, {'-' if after is None else after:>3} after"
            f" (look-alikes kept: {expected[name]})  {verdict}"
        )
    for r in results:
        if r.ok:
            out.append(f"  {r.tool}: every run checked, ok")
        else:
            out += [f"  {r.tool}: FAILED: {problem}" for problem in r.problems[:10]]
    return out


def comparisons(results: Sequence[Result]) -> list[str]:
    """'envfix vs LibCST' lines: files/s, with what each does per file."""
    by_name = {r.tool: r for r in results}
    out = []
    for mine in ("envfix patch_workspace", "envfix rewrite only"):
        me = by_name.get(mine)
        if me is None or not me.ok:
            continue
        for other in results:
            if not other.tool.startswith("libcst") or not other.ok:
                continue
            ratio = (me.files / me.median) / (other.files / other.median)
            out.append(
                f"{mine} vs {other.tool}: {ratio:.2f} x its files/s"
                f" ({me.files / me.median:.1f} vs {other.files / other.median:.1f})"
            )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=50, help=".py files (default 50)")
    parser.add_argument("--notebooks", type=int, default=5, help=".ipynb files (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (median reported)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the tree")
    parser.add_argument("--tree", help="generate (or reuse) the tree here instead of a temp dir")
    parser.add_argument("--json", action="store_true", help="print JSON results only")
    parser.add_argument(
        "--worker", choices=("envfix-git", "envfix-rewrite"), help=argparse.SUPPRESS
    )
    parser.add_argument("--worker-tree", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, Path(args.worker_tree))
    if args.files < 10 or args.notebooks < 0 or args.repeat < 1:
        parser.error("need --files >= 10, --notebooks >= 0, --repeat >= 1")

    from importlib.metadata import version

    import envfix

    versions = {
        "envfix": envfix.__version__,
        "libcst": version("libcst"),
        "python": sys.version.split()[0],
    }
    problems = self_check()
    if problems:
        for problem in problems:
            log(f"bench_patch: snippet check failed: {problem}")
        return 1

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="envfix-bench-patch-") as tmp:
        workdir = Path(tmp)
        info = tree_for(args, workdir)
        before = residues(read_texts(info.root))
        breakages, alikes = info.counts("breakages"), info.counts("look_alikes")
        log(
            f"tree: {info.root} ({info.py_files} .py, {info.notebooks} .ipynb,"
            f" {info.bytes / 1e6:.1f} MB, {len(info.broken_files())} files with"
            f" {sum(breakages.values())} old-API snippets, {sum(alikes.values())} look-alikes)"
        )
        # The worker on an empty folder: what it targets, and a check that it runs at all.
        empty = workdir / "empty"
        empty.mkdir()
        me = [sys.executable, str(Path(__file__).absolute()), "--worker", "envfix-rewrite"]
        probe = run_timed([*me, "--worker-tree", str(empty)])
        if probe.returncode != 0:
            log(f"bench_patch: the envfix worker does not run: {short_error(probe)}")
            return 1
        describe = json.loads(probe.stdout)
        tools = make_tools(info, describe)
        warm_up(tools, workdir, args.seed)
        warm_cache(info.root)
        results = [bench(tool, info, workdir, args.repeat) for tool in tools]
    elapsed = time.perf_counter() - started

    git_facts = tool_facts.get("envfix patch_workspace", {})
    for r in results:
        if r.process and r.tool.startswith("envfix"):
            r.notes.append(
                f"worker process wall (start-up, imports, recipes) median"
                f" {statistics.median(r.process):.2f} s"
            )
        elif r.tool.startswith("libcst"):
            r.notes.append("subprocess wall clock, interpreter start-up included")
    failed = [r for r in results if not r.ok]
    if args.json:
        doc = {
            "settings": {
                "files": args.files,
                "notebooks": args.notebooks,
                "repeat": args.repeat,
                "seed": args.seed,
            },
            "versions": versions,
            "runtime": describe["runtime"],
            "tree": {
                "py_files": info.py_files,
                "notebooks": info.notebooks,
                "bytes": info.bytes,
                "files_with_snippets": len(info.broken_files()),
                "snippets": dict(breakages),
                "look_alikes": dict(alikes),
                "old_api_before": dict(before),
                "old_api_after": git_facts.get("left"),
                "look_alikes_expected_after": dict(info.expected_left()),
            },
            "results": [r.as_json() for r in results],
            "elapsed_s": elapsed,
            "ok": not failed,
        }
        print(json.dumps(doc, indent=2))
        return 1 if failed else 0
    print(
        f"tree: {info.py_files:,} .py + {info.notebooks:,} .ipynb, {info.bytes / 1e6:.1f} MB;"
        f" {len(info.broken_files())} files with {sum(breakages.values())} old-API snippets,"
        f" {sum(alikes.values())} look-alikes; recipes for {describe['runtime']};"
        f" median of {args.repeat} runs, each on a fresh copy;"
        + "".join(f" {k} {v};" for k, v in versions.items())
        + f" {elapsed / 60:.1f} min in all"
    )
    print(table(results))
    print()
    for r in results:
        if r.notes:
            print(f"{r.tool}: {'; '.join(r.notes)}")
    for line in comparisons(results):
        print(line)
    print()
    print(
        f"checks: each snippet alone: {len(BREAKAGES)} old APIs fixed by their recipe,"
        f" {len(LOOK_ALIKES)} look-alikes unchanged: ok"
    )
    print("old APIs in .py files and notebook code cells, before and after envfix's patch:")
    for line in check_lines(info, before, results):
        print(line)
    if failed:
        print(f"FAILED: {', '.join(r.tool for r in failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
