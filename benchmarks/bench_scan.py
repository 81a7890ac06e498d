"""Benchmark `envfix scan` against pipreqs and fawltydeps on one large synthetic repo.

Run it from the project root with envfix's own interpreter::

    .venv/bin/python benchmarks/bench_scan.py                  # ~3,000 .py + 300 notebooks
    .venv/bin/python benchmarks/bench_scan.py --files 500 --notebooks 50 --repeat 5
    .venv/bin/python benchmarks/bench_scan.py --json           # machine-readable, on stdout

What it does, in one run:

1. Generates a deterministic (seeded) fake ML-paper repo in a temporary folder, or in
   `--tree DIR` (reused when it already holds a tree made with the same settings): nested
   packages of 50-400 line modules importing stdlib, third-party and local modules, some
   `try/except ImportError` guards, a few Python 2 files, notebooks of 10-40 cells with
   markdown, magics, `!pip install` lines and outputs (some with large base64 images), and a
   requirements.txt, setup.py and environment.yml.
2. Installs pipreqs and fawltydeps into their own virtualenv under `--cache-dir`
   (default `~/.cache/envfix-bench/venv`), never into envfix's environment, and reuses it.
3. Times, on the same tree, each tool `--repeat` times (median and best reported):
   * `python -m envfix scan TREE --target colab --json` as a subprocess: the fair figure,
     since the other tools are subprocesses too (interpreter start-up and JSON output included);
   * `envfix.scan(TREE, target="colab")` in-process, for reference (imports already warm);
   * `pipreqs --print --mode no-pin --scan-notebooks --use-local --debug TREE` (`--use-local`
     keeps PyPI look-ups, i.e. network time, out of the figure; the imports it found are read
     from its `--debug` log);
   * `fawltydeps --list-imports --json TREE` (imports only) and `fawltydeps --check --json TREE`
     (imports, declared dependencies and their mapping: the job closest to `envfix scan`).
   Every run's exit code and output are checked and the third-party imports each tool found
   are counted; a tool that crashes or finds nothing is reported as failed, never as fast.
   pipreqs stops at the first file `ast` cannot parse (Python 2 code): when it fails, it is
   timed again, with envfix, on a copy of the tree without the Python 2 files and notebooks.

Peak memory is each subprocess's own maximum RSS (from `os.wait4`). The OS file cache is
warmed by reading the whole tree once before anything is timed, and each tool does one
untimed run on a tiny tree first (byte-code compilation, a check that it works at all).
`--profile` adds a cProfile of the in-process envfix scan (top functions, on stderr).
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _shared import Run, log, run_timed

GENERATOR_VERSION = 2
MANIFEST = ".envfix-bench.json"
BENCH_PACKAGES = ("pipreqs", "fawltydeps")

# --- what the synthetic code imports ----------------------------------------------------

# top-level module -> (import statements, distribution name for the declaration files, weight)
THIRD_PARTY: dict[str, tuple[tuple[str, ...], str, int]] = {
    "numpy": (
        ("import numpy as np", "import numpy", "from numpy import linalg as LA"),
        "numpy",
        30,
    ),
    "torch": (
        (
            "import torch",
            "import torch.nn as nn",
            "import torch.nn.functional as F",
            "from torch.utils.data import DataLoader, Dataset",
            "import torch.optim as optim",
        ),
        "torch",
        25,
    ),
    "torchvision": (
        ("import torchvision", "from torchvision import transforms, datasets"),
        "torchvision",
        8,
    ),
    "sklearn": (
        (
            "from sklearn.metrics import accuracy_score, f1_score",
            "from sklearn.model_selection import train_test_split",
            "from sklearn.decomposition import PCA",
        ),
        "scikit-learn",
        8,
    ),
    "cv2": (("import cv2",), "opencv-python", 8),
    "PIL": (("from PIL import Image", "from PIL import Image, ImageDraw, ImageFont"), "Pillow", 8),
    "yaml": (("import yaml",), "PyYAML", 5),
    "pandas": (("import pandas as pd",), "pandas", 6),
    "tensorflow": (
        (
            "import tensorflow as tf",
            "from tensorflow.keras import layers",
            "import tensorflow.contrib.slim as slim",
        ),
        "tensorflow",
        7,
    ),
    "scipy": (
        (
            "import scipy.io as sio",
            "from scipy import ndimage",
            "from scipy.spatial import distance",
        ),
        "scipy",
        6,
    ),
    "matplotlib": (("import matplotlib.pyplot as plt", "import matplotlib"), "matplotlib", 8),
    "tqdm": (("from tqdm import tqdm", "import tqdm"), "tqdm", 6),
    "h5py": (("import h5py",), "h5py", 3),
    "skimage": (("from skimage import io, transform", "import skimage.measure"), "scikit-image", 3),
    "keras": (
        ("from keras.models import Sequential, Model", "import keras.backend as K"),
        "keras",
        3,
    ),
    "transformers": (("from transformers import AutoModel, AutoTokenizer",), "transformers", 2),
    "einops": (("from einops import rearrange, repeat",), "einops", 2),
    "tensorboardX": (("from tensorboardX import SummaryWriter",), "tensorboardX", 3),
    "wandb": (("import wandb",), "wandb", 1),
    "networkx": (("import networkx as nx",), "networkx", 1),
    "requests": (("import requests",), "requests", 1),
    "easydict": (("from easydict import EasyDict as edict",), "easydict", 2),
    "termcolor": (("from termcolor import colored",), "termcolor", 1),
    "absl": (("from absl import app, flags",), "absl-py", 1),
    "gym": (("import gym",), "gym", 1),
    "seaborn": (("import seaborn as sns",), "seaborn", 1),
    "imageio": (("import imageio",), "imageio", 1),
    "lmdb": (("import lmdb",), "lmdb", 1),
    "pycocotools": (
        ("from pycocotools.coco import COCO", "import pycocotools.mask"),
        "pycocotools",
        1,
    ),
    "timm": (("import timm",), "timm", 1),
    "jax": (("import jax", "import jax.numpy as jnp"), "jax", 1),
    "nltk": (("import nltk",), "nltk", 1),
    "librosa": (("import librosa",), "librosa", 1),
    "numba": (("from numba import jit",), "numba", 1),
    "hydra": (("import hydra",), "hydra-core", 1),
    "omegaconf": (("from omegaconf import OmegaConf",), "omegaconf", 1),
    "mmcv": (("import mmcv",), "mmcv", 1),
    "torch_geometric": (("from torch_geometric.data import Data",), "torch-geometric", 1),
}
STDLIB = (
    "os", "sys", "re", "json", "math", "random", "time", "argparse", "logging", "collections",
    "itertools", "functools", "pathlib", "typing", "subprocess", "shutil", "copy", "pickle",
    "glob", "datetime", "warnings", "csv", "hashlib", "threading", "multiprocessing", "io",
    "tempfile", "contextlib", "dataclasses", "abc", "struct", "zipfile", "uuid", "string",
)  # fmt: skip
# Optional imports: (third-party top-level module or "", guarded statement, fallback).
GUARDED = (
    ("ujson", "import ujson as json", "import json"),
    ("apex", "from apex import amp", "amp = None"),
    ("horovod", "import horovod.torch as hvd", "hvd = None"),
    ("tensorboardX", "from tensorboardX import SummaryWriter", "import torch.utils.tensorboard"),
    ("", "import cPickle as pickle", "import pickle"),
    ("yaml", "from yaml import CLoader as Loader", "from yaml import Loader"),
)  # fmt: skip
PY2_IMPORTS = ("import cPickle", "import urllib2", "import Queue", "import ConfigParser")
TOP_PACKAGES = (
    "core", "models", "data", "engine", "modules", "lib", "ops", "tools", "experiments",
    "baselines", "third_party", "evaluation", "tests",
)  # fmt: skip
SUBPACKAGES = (
    "backbones", "heads", "necks", "losses", "layers", "utils", "datasets", "transforms",
    "samplers", "detectors", "segmentors", "attention", "blocks", "configs", "io", "vis",
    "metrics", "optim", "legacy", "contrib", "nets", "cells", "graph", "rl", "nlp", "audio",
)  # fmt: skip
MODULE_WORDS = (
    "model", "resnet", "vgg", "unet", "loss", "train", "trainer", "evaluate", "metrics",
    "dataset", "loader", "augment", "config", "helpers", "attention", "encoder", "decoder",
    "scheduler", "logger", "visualize", "inference", "preprocess", "postprocess", "sampler",
    "backbone", "head", "anchor", "nms", "box_ops", "io_utils", "misc", "registry", "builder",
    "hooks", "checkpoint", "distributed", "demo", "transformer", "gan", "vae", "policy",
)  # fmt: skip
WORDS = (
    "the", "model", "loss", "batch", "feature", "weight", "layer", "input", "output", "train",
    "image", "label", "score", "mask", "anchor", "epoch", "step", "value", "result", "network",
    "sample", "gradient", "update", "state", "buffer", "config", "path", "file", "data", "mean",
)  # fmt: skip


def _ident(rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}_{rng.choice(WORDS)}"


def _simple_statement(rng: random.Random, py2: bool, comment: bool = True) -> str:
    a, b, n = _ident(rng), _ident(rng), rng.randint(1, 512)
    choices = [
        f"{a} = {b} * {n} + {rng.random():.4f}",
        f"{a} = compute_{rng.choice(WORDS)}({b}, axis={rng.randint(0, 3)})",
        f"{a} = [v * {n} for v in {b} if v is not None]",
        f'{a} = {{"{rng.choice(WORDS)}": {n}, "name": "{b}"}}',
        f"# {' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 10)))}",
        f'logger.info("{a} %d: %.4f", {n}, {b})',
        f"{a}.append({b}[{n} % len({b})])",
        f"{a}, {b} = {b}, {a}",
        f"assert {a} is not None, 'missing {b}'",
        f'{a} = os.path.join({b}, "{rng.choice(WORDS)}_{n}.pth")',
    ]
    if not comment:
        del choices[4]
    if py2:
        choices += [f'print "{a}", {b}', f"print {a}", f"for i in xrange({n}): {a} += i"]
    return rng.choice(choices)


def _block(rng: random.Random, indent: int, size: int, py2: bool) -> list[str]:
    """`size` lines or so of valid statements at `indent` spaces (compound ones nest once)."""
    pad, inner = " " * indent, " " * (indent + 4)
    out: list[str] = []

    def body(count: int) -> list[str]:
        return [inner + _simple_statement(rng, py2, comment=False) for _ in range(count)]

    while len(out) < size:
        kind = rng.random()
        if kind < 0.62:
            out.append(pad + _simple_statement(rng, py2))
        elif kind < 0.74:
            out.append(f"{pad}for i, {_ident(rng)} in enumerate({_ident(rng)}):")
            out += body(rng.randint(1, 3))
        elif kind < 0.86:
            out.append(f"{pad}if {_ident(rng)} > {rng.randint(0, 9)}:")
            out += body(rng.randint(1, 3))
            if rng.random() < 0.4:
                out += [f"{pad}else:", *body(1)]
        elif kind < 0.93:
            out.append(f'{pad}with open({_ident(rng)}, "r") as f:')
            out.append(f"{inner}lines = [line.strip() for line in f]")
        else:
            out += [f"{pad}try:", *body(1)]
            if py2 and rng.random() < 0.5:
                out += [f"{pad}except IOError, e:", f"{inner}print 'failed', e"]
            else:
                out += [f"{pad}except (IOError, ValueError) as e:", f"{inner}raise"]
    return out


@dataclass
class Imports:
    """The import lines of one module or notebook, and the third-party tops they use."""

    lines: list[str] = field(default_factory=list)
    third_party: set[str] = field(default_factory=set)


def _pick_third_party(rng: random.Random, count: int) -> list[str]:
    names = list(THIRD_PARTY)
    weights = [THIRD_PARTY[n][2] for n in names]
    return list(dict.fromkeys(rng.choices(names, weights, k=count)))


def _imports(
    rng: random.Random, modules: Sequence[str], package: str, siblings: Sequence[str], py2: bool
) -> Imports:
    result = Imports()
    for name in sorted(rng.sample(STDLIB, rng.randint(2, 8))):
        result.lines.append(f"import {name}")
    result.lines.append("")
    for top in _pick_third_party(rng, rng.randint(1, 7)):
        result.lines.append(rng.choice(THIRD_PARTY[top][0]))
        result.third_party.add(top)
    if py2:
        result.lines += rng.sample(PY2_IMPORTS, rng.randint(1, 2))
    result.lines.append("")
    for _ in range(rng.randint(0, 4)):
        roll = rng.random()
        if roll < 0.45 and modules:
            target = rng.choice(modules)
            head, _, tail = target.rpartition(".")
            line = f"from {head} import {tail}" if head else f"import {tail}"
        elif roll < 0.8 and siblings:
            line = f"from .{rng.choice(siblings)} import *"
        elif package.count(".") >= 1:
            line = f"from .. import {rng.choice(SUBPACKAGES)}"
        else:
            continue
        result.lines.append(line)
    return result


def python_module(
    rng: random.Random, modules: Sequence[str], package: str, siblings: Sequence[str], py2: bool
) -> tuple[str, set[str]]:
    """Source of one 50-400 line module, and the third-party top-level modules it imports."""
    target = rng.randint(50, 400)
    out: list[str] = []
    if rng.random() < 0.3:
        out.append("#!/usr/bin/env python")
    if rng.random() < 0.25:
        out += ["# -*- coding: utf-8 -*-", "# 作者: 张三  (模型定义 / model definitions)"]
    out.append(f'"""{" ".join(rng.choice(WORDS) for _ in range(8)).capitalize()}."""')
    if rng.random() < 0.3 and not py2:
        out.append("from __future__ import absolute_import, division, print_function")
    imports = _imports(rng, modules, package, siblings, py2)
    out += imports.lines
    if rng.random() < 0.15:
        top, guarded, fallback = rng.choice(GUARDED)
        out += ["try:", f"    {guarded}", "except ImportError:", f"    {fallback}", ""]
        imports.third_party |= {top} - {""}
    out += ["", "logger = logging.getLogger(__name__)", f"SEED = {rng.randint(0, 9999)}", ""]
    if py2:
        out += ['print "loading module", __name__', ""]
    while len(out) < target:
        if rng.random() < 0.6:
            name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{len(out)}"
            out.append(f"def {name}({_ident(rng)}, {_ident(rng)}=None):")
            out.append(f'    """{" ".join(rng.choice(WORDS) for _ in range(6))}."""')
            if rng.random() < 0.08:  # a lazy import inside a function
                top = _pick_third_party(rng, 1)[0]
                out.append("    " + THIRD_PARTY[top][0][0])
                imports.third_party.add(top)
            out += _block(rng, 4, rng.randint(4, 25), py2)
            out += [f"    return {_ident(rng)}", "", ""]
        else:
            base = rng.choice(("object", "nn.Module", "Dataset", "tf.keras.Model"))
            out.append(
                f"class {rng.choice(WORDS).title()}{rng.choice(WORDS).title()}{len(out)}({base}):"
            )
            out.append(f'    """{" ".join(rng.choice(WORDS) for _ in range(6))}."""')
            out.append("")
            for method in ("__init__", "forward", "reset", "extra_repr")[: rng.randint(1, 4)]:
                out.append(f"    def {method}(self, {_ident(rng)}, {_ident(rng)}=None):")
                out += _block(rng, 8, rng.randint(3, 15), py2)
                out += [f"        return self.{_ident(rng)}", ""]
            out.append("")
    if rng.random() < 0.3:
        out += ['if __name__ == "__main__":', "    main()"]
    return "\n".join(out) + "\n", imports.third_party


# --- notebooks ----------------------------------------------------------------------------


class Base64Pool:
    """A few MB of random base64 text (fake PNG data) to cut notebook image outputs from."""

    def __init__(self, rng: random.Random, size: int = 3_000_000) -> None:
        self.text = base64.b64encode(rng.randbytes(size * 3 // 4)).decode("ascii")

    def image(self, rng: random.Random, size: int) -> str:
        size = min(size, len(self.text) - 16)
        start = rng.randint(0, len(self.text) - size)
        return "iVBORw0KGgoAAAANSUhEUgAA" + self.text[start : start + size] + "\n"


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + [parts[-1]]


def notebook(
    rng: random.Random, pool: Base64Pool, modules: Sequence[str], big: bool, py2: bool
) -> tuple[str, set[str]]:
    """nbformat-4 JSON of a 10-40 cell notebook, and the third-party tops its cells import."""
    cells: list[dict[str, Any]] = []
    found: set[str] = set()
    count = [0]

    def code(source: str, outputs: list[dict[str, Any]] | None = None) -> None:
        count[0] += 1
        cells.append(
            {
                "cell_type": "code",
                "execution_count": count[0],
                "metadata": {},
                "outputs": outputs or [],
                "source": _lines(source),
            }
        )

    def markdown(source: str) -> None:
        cells.append({"cell_type": "markdown", "metadata": {}, "source": _lines(source)})

    markdown(f"# {' '.join(rng.choice(WORDS) for _ in range(5)).title()}\n\nReproduces Table 2.")
    setup: list[str] = []
    if rng.random() < 0.6:
        setup.append("%matplotlib inline")
        found.add("matplotlib")
    if rng.random() < 0.4:
        pins = [
            f"{THIRD_PARTY[t][1]}=={rng.randint(0, 4)}.{rng.randint(0, 12)}"
            for t in _pick_third_party(rng, rng.randint(1, 3))
        ]
        setup.append(f"!pip install -q {' '.join(pins)}")
    if rng.random() < 0.3:
        setup += ["%load_ext autoreload", "%autoreload 2"]
    if rng.random() < 0.15:
        setup.append("%tensorflow_version 1.x")
    if setup:
        code("\n".join(setup), [{"name": "stdout", "output_type": "stream", "text": ["ok\n"]}])
    imports = _imports(rng, modules, "", (), py2)
    found |= imports.third_party
    code("\n".join(line for line in imports.lines if line))
    target = rng.randint(10, 40)
    while len(cells) < target:
        roll = rng.random()
        if roll < 0.3:
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 60)))
            markdown(f"## {rng.choice(WORDS).title()}\n\n{text}.")
            continue
        body = _block(rng, 0, rng.randint(2, 14), py2)
        if roll < 0.35:
            body.append("!nvidia-smi" if rng.random() < 0.5 else "!ls -la data/")
        elif roll < 0.38:
            body.append(f"{_ident(rng)}?")
        elif roll < 0.42 and not py2:
            top = _pick_third_party(rng, 1)[0]
            body.insert(0, THIRD_PARTY[top][0][0])
            found.add(top)
        outputs: list[dict[str, Any]] = []
        if rng.random() < 0.5:
            log_lines = [f"Epoch {i}/{target}: loss {rng.random():.4f}\n" for i in range(30)]
            stream = log_lines[: rng.randint(1, 30)]
            outputs.append({"name": "stdout", "output_type": "stream", "text": stream})
        if rng.random() < 0.08:
            size = rng.randint(100_000, 800_000) if big else rng.randint(5_000, 60_000)
            outputs.append(
                {
                    "data": {"image/png": pool.image(rng, size), "text/plain": ["<Figure>"]},
                    "metadata": {},
                    "output_type": "display_data",
                }
            )
        code("\n".join(body), outputs)
    kernel = "python2" if py2 else "python3"
    doc = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": kernel.title(), "language": "python", "name": kernel},
            "language_info": {"name": "python", "version": "2.7.15" if py2 else "3.7.10"},
        },
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n", found


# --- the tree -----------------------------------------------------------------------------


@dataclass
class TreeInfo:
    """What was generated: counts, and the ground truth the tools should find."""

    root: Path
    py_files: int
    notebooks: int
    bytes: int
    third_party: list[str]
    python2_paths: list[str]

    @property
    def files(self) -> int:
        return self.py_files + self.notebooks


def _declarations(rng: random.Random, used: set[str]) -> dict[str, str]:
    tops = sorted(used)
    declared = [t for t in tops if rng.random() < 0.75] + ["protobuf", "cython"]
    req = [
        "# Requirements for the paper code",
        "-f https://download.pytorch.org/whl/torch_stable.html",
    ]
    for top in declared:
        dist = THIRD_PARTY[top][1] if top in THIRD_PARTY else top
        spec = rng.choice(
            (
                "",
                f"=={rng.randint(0, 2)}.{rng.randint(0, 20)}.{rng.randint(0, 5)}",
                f">={rng.randint(0, 2)}.{rng.randint(0, 9)}",
            )
        )
        req.append(f"{dist}{spec}")
    req.append("git+https://github.com/cocodataset/cocoapi.git#subdirectory=PythonAPI")
    setup_reqs = ", ".join(f'"{THIRD_PARTY[t][1]}"' for t in declared[:8] if t in THIRD_PARTY)
    setup_py = (
        "from setuptools import find_packages, setup\n\n"
        f'setup(\n    name="paper-code",\n    version="0.1",\n    packages=find_packages(),\n'
        f"    install_requires=[{setup_reqs}],\n)\n"
    )
    conda = [t for t in declared if t in ("numpy", "scipy", "pandas", "matplotlib", "h5py")]
    pip = [THIRD_PARTY[t][1] for t in declared[:6] if t in THIRD_PARTY and t not in conda]
    env = [
        "name: paper",
        "channels:",
        "  - pytorch",
        "  - defaults",
        "dependencies:",
        "  - python=3.6",
        "  - pytorch=1.4.0",
        "  - cudatoolkit=10.1",
    ]
    env += [f"  - {t}" for t in conda] + ["  - pip", "  - pip:"] + [f"    - {p}" for p in pip]
    return {
        "requirements.txt": "\n".join(req) + "\n",
        "setup.py": setup_py,
        "environment.yml": "\n".join(env) + "\n",
        "README.md": "# Paper code\n\n```\npip install -r requirements.txt\npython train.py\n```\n",
    }


def generate_tree(root: Path, files: int, notebooks: int, seed: int) -> TreeInfo:
    """Write the synthetic repo into `root` (which must be empty or absent)."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    # Packages: the top-level ones, then random nesting down to depth 4.
    dirs = list(TOP_PACKAGES)
    while len(dirs) < max(len(TOP_PACKAGES), files // 15):
        parent = rng.choice(dirs)
        if parent.count("/") < 3:
            dirs.append(f"{parent}/{rng.choice(SUBPACKAGES)}_{len(dirs)}")
    # Module paths: an __init__.py per package, a few root scripts, the rest spread around.
    paths = [f"{d}/__init__.py" for d in dirs]
    paths += ["train.py", "test.py", "main.py", "demo.py", "utils.py", "config.py"]
    while len(paths) < files:
        folder = rng.choice(dirs)
        word = rng.choice(MODULE_WORDS)
        name = (
            f"test_{word}_{len(paths)}.py"
            if folder.startswith("tests")
            else f"{word}_{len(paths)}.py"
        )
        paths.append(f"{folder}/{name}")
    paths = paths[:files]
    # Python 2 files: ~1.5% of the plain modules; nothing imports them (so removing them for
    # the pipreqs variant leaves no dangling local import).
    python2 = sorted(p for p in paths if not p.endswith("__init__.py") and rng.random() < 0.015)
    py2_set = set(python2)
    modules = [
        p.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for p in paths
        if p not in py2_set
    ]
    siblings: dict[str, list[str]] = {}
    for path in paths:
        folder, _, name = path.rpartition("/")
        if name != "__init__.py" and path not in py2_set:
            siblings.setdefault(folder, []).append(name.removesuffix(".py"))
    used: set[str] = set()
    total = 0
    for path in paths:
        folder, _, name = path.rpartition("/")
        tops: set[str] = set()
        if name == "__init__.py" and rng.random() < 0.7:
            text = ""
        else:
            package = folder.replace("/", ".")
            text, tops = python_module(
                rng, modules, package, siblings.get(folder, ()), path in py2_set
            )
        used |= tops
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        total += target.write_bytes(text.encode("utf-8"))
    pool = Base64Pool(rng)
    nb_dirs = ["notebooks", "notebooks/exploration", "", *rng.sample(dirs, min(5, len(dirs)))]
    for index in range(notebooks):
        folder = rng.choice(nb_dirs)
        py2 = rng.random() < 0.01
        text, tops = notebook(rng, pool, modules, big=rng.random() < 0.1, py2=py2)
        path = f"{folder}/{rng.choice(WORDS)}_{index:04d}.ipynb".lstrip("/")
        if py2:
            python2.append(path)
        used |= tops
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        total += (root / path).write_bytes(text.encode("utf-8"))
    for name, text in _declarations(rng, used).items():
        total += (root / name).write_bytes(text.encode("utf-8"))
    (root / "docs").mkdir(exist_ok=True)
    total += (root / "docs" / "requirements.txt").write_bytes(b"sphinx\nsphinx_rtd_theme\n")
    return TreeInfo(root, files + 1, notebooks, total, sorted(used), sorted(python2))


def tree_for(args: argparse.Namespace, workdir: Path) -> TreeInfo:
    """The tree to benchmark: reused from `--tree` if made with the same settings, else new."""
    settings = {
        "version": GENERATOR_VERSION,
        "files": args.files,
        "notebooks": args.notebooks,
        "seed": args.seed,
    }
    root = Path(args.tree) if args.tree else workdir / "tree"
    manifest = root / MANIFEST
    if manifest.is_file():
        saved = json.loads(manifest.read_text())
        if saved.get("settings") == settings:
            info = saved["info"]
            return TreeInfo(
                root,
                info["py_files"],
                info["notebooks"],
                info["bytes"],
                info["third_party"],
                info["python2_paths"],
            )
        shutil.rmtree(root)
    elif root.exists() and any(root.iterdir()):
        sys.exit(f"bench_scan: {root} is not empty and was not made by this script")
    log(f"generating {args.files} .py files and {args.notebooks} notebooks in {root}")
    info = generate_tree(root, args.files, args.notebooks, args.seed)
    body = {
        "py_files": info.py_files,
        "notebooks": info.notebooks,
        "bytes": info.bytes,
        "third_party": info.third_party,
        "python2_paths": info.python2_paths,
    }
    manifest.write_text(json.dumps({"settings": settings, "info": body}))
    return info


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copy2(src, dst)


def variant_without(info: TreeInfo, dest: Path) -> TreeInfo:
    """A hard-linked copy of the tree without its Python 2 files and notebooks."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(info.root, dest, copy_function=_link_or_copy)
    removed = 0
    for rel in info.python2_paths:
        removed += (dest / rel).stat().st_size
        (dest / rel).unlink()
    py2_nb = sum(rel.endswith(".ipynb") for rel in info.python2_paths)
    return TreeInfo(
        dest,
        info.py_files - (len(info.python2_paths) - py2_nb),
        info.notebooks - py2_nb,
        info.bytes - removed,
        info.third_party,
        [],
    )


def warm_cache(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                while f.read(1 << 20):
                    pass


# --- running the tools --------------------------------------------------------------------


@dataclass
class Outcome:
    """What a run found, read from its output: None means the output made no sense."""

    imports: int | None
    requirements: int | None = None
    error: str | None = None
    names: list[str] = field(default_factory=list)
    remark: str | None = None


@dataclass
class Tool:
    name: str
    version: str
    command: Callable[[Path], list[str]]
    parse: Callable[[Run], Outcome]
    ok_codes: tuple[int, ...] = (0,)
    note: str = ""


def _short_error(run: Run) -> str:
    lines = [line.strip() for line in run.stderr.splitlines() if line.strip()]
    failed = [line for line in lines if "Failed on file" in line]
    last = lines[-1] if lines else "(no stderr)"
    text = f"{failed[0]}; {last}" if failed else last
    return text if len(text) <= 140 else text[:137] + "..."


def parse_envfix(run: Run) -> Outcome:
    doc = json.loads(run.stdout)
    tops = {use["module"].partition(".")[0] for use in doc["imports"]}
    names = {req["name"] for req in doc["requirements"] if req["name"]}
    py2 = len(doc.get("python2_files") or [])
    remark = f"{doc['files_scanned']} files scanned, {py2} read as Python 2"
    return Outcome(len(tops), len(names), names=sorted(tops), remark=remark)


def parse_pipreqs(run: Run) -> Outcome:
    for line in run.stderr.splitlines():
        if line.startswith("DEBUG: Found imports:"):
            names = [n.strip() for n in line.partition(":")[2].partition(":")[2].split(",")]
            found = {n for n in names if n}
            return Outcome(len(found), names=sorted(found))
    return Outcome(None, error="no 'Found imports' line in its --debug log")


def parse_fawltydeps(run: Run) -> Outcome:
    doc = json.loads(run.stdout)
    tops = {imp["name"] for imp in doc.get("imports") or []}
    deps = doc.get("declared_deps")
    declared = None if deps is None else len({d["name"] for d in deps})
    skipped = {line for line in run.stderr.splitlines() if "Could not parse code from" in line}
    remark = f"skipped {len(skipped)} files/cells it could not parse" if skipped else None
    return Outcome(len(tops), declared, names=sorted(tops), remark=remark)


def ensure_bench_venv(cache: Path) -> Path:
    """The virtualenv holding pipreqs and fawltydeps, created (once) under `cache`."""
    venv = cache / "venv"
    bindir = venv / "bin"
    if all((bindir / tool).exists() for tool in BENCH_PACKAGES):
        return bindir
    log(f"creating {venv} and installing {', '.join(BENCH_PACKAGES)} (once)")
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(bindir / "python"), "-m", "pip", "install", "-qq", "--disable-pip-version-check"]
    subprocess.run([*pip, *BENCH_PACKAGES], check=True)
    return bindir


def dist_version(python: str, name: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({name!r}))"
    result = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return result.stdout.strip() or "?"


def make_tools(bindir: Path | None) -> list[Tool]:
    py = sys.executable
    tools = [
        Tool(
            "envfix scan (CLI)",
            dist_version(py, "envfix"),
            lambda tree: [py, "-m", "envfix", "scan", str(tree), "--target", "colab", "--json"],
            parse_envfix,
            note="subprocess: the fair figure",
        )
    ]
    if bindir is None:
        return tools
    bench_py = str(bindir / "python")
    pipreqs = [str(bindir / "pipreqs"), "--print", "--mode", "no-pin", "--scan-notebooks"]
    fawlty = str(bindir / "fawltydeps")
    tools += [
        Tool(
            "pipreqs",
            dist_version(bench_py, "pipreqs"),
            lambda tree: [*pipreqs, "--use-local", "--debug", str(tree)],
            parse_pipreqs,
            note="--use-local: no PyPI look-ups",
        ),
        Tool(
            "fawltydeps --list-imports",
            dist_version(bench_py, "fawltydeps"),
            lambda tree: [fawlty, "--list-imports", "--json", str(tree)],
            parse_fawltydeps,
            note="imports only",
        ),
        Tool(
            "fawltydeps --check",
            dist_version(bench_py, "fawltydeps"),
            lambda tree: [fawlty, "--check", "--json", str(tree)],
            parse_fawltydeps,
            ok_codes=(0, 3),
            note="imports + declared deps",
        ),
    ]
    return tools


@dataclass
class Result:
    """All runs of one tool on one tree, summarised."""

    tool: str
    version: str
    tree: str
    files: int
    runs: list[float]
    ok: bool
    imports: int | None
    requirements: int | None
    max_rss_mb: float | None
    cpu: float | None
    notes: list[str]
    names: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def best(self) -> float:
        return min(self.runs)

    def as_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "version": self.version,
            "tree": self.tree,
            "files": self.files,
            "ok": self.ok,
            "wall_median_s": self.median,
            "wall_best_s": self.best,
            "runs_s": self.runs,
            "files_per_s": self.files / self.median if self.ok else None,
            "ms_per_1000_files": 1e6 * self.median / self.files if self.ok else None,
            "imports_found": self.imports,
            "requirements_found": self.requirements,
            "max_rss_mb": self.max_rss_mb,
            "cpu_s": self.cpu,
            "notes": self.notes,
            "import_names": self.names,
        }


def bench_tool(tool: Tool, tree: TreeInfo, label: str, repeat: int) -> Result:
    """Time `tool` on `tree` `repeat` times; stop at the first failure and report it."""
    times: list[float] = []
    rss: list[float] = []
    cpu: list[float] = []
    outcome = Outcome(None)
    notes = [tool.note] if tool.note else []
    for attempt in range(repeat):
        log(f"  {tool.name} on {label} tree, run {attempt + 1}/{repeat}")
        run = run_timed(tool.command(tree.root))
        times.append(run.wall)
        if run.max_rss_mb is not None:
            rss.append(run.max_rss_mb)
        if run.cpu is not None:
            cpu.append(run.cpu)
        if run.returncode not in tool.ok_codes:
            notes.append(
                f"FAILED after {run.wall:.1f} s, exit {run.returncode}: {_short_error(run)}"
            )
            return Result(
                tool.name,
                tool.version,
                label,
                tree.files,
                times,
                False,
                None,
                None,
                max(rss, default=None),
                None,
                notes,
            )
        try:
            outcome = tool.parse(run)
        except (ValueError, KeyError, TypeError) as exc:
            outcome = Outcome(None, error=f"unreadable output ({type(exc).__name__}: {exc})")
        if outcome.imports is None or outcome.imports == 0:
            notes.append(f"FAILED: {outcome.error or 'found no imports'} (exit {run.returncode})")
            return Result(
                tool.name,
                tool.version,
                label,
                tree.files,
                times,
                False,
                outcome.imports,
                outcome.requirements,
                max(rss, default=None),
                None,
                notes,
            )
    cpu_s = statistics.median(cpu) if cpu else None
    if outcome.remark:
        notes.append(outcome.remark)
    return Result(
        tool.name,
        tool.version,
        label,
        tree.files,
        times,
        True,
        outcome.imports,
        outcome.requirements,
        max(rss, default=None),
        cpu_s,
        notes,
        outcome.names,
    )


def bench_in_process(tree: TreeInfo, label: str, repeat: int, profile: bool) -> Result:
    """Time the library call `envfix.scan(tree, target="colab")` with envfix already imported."""
    import envfix

    times: list[float] = []
    inventory = None
    for attempt in range(repeat):
        log(f"  envfix.scan() in-process on {label} tree, run {attempt + 1}/{repeat}")
        start = time.perf_counter()
        inventory = envfix.scan(tree.root, target="colab")
        times.append(time.perf_counter() - start)
    assert inventory is not None
    tops = {use.module.partition(".")[0] for use in inventory.imports}
    reqs = {req.name for req in inventory.requirements if req.name}
    notes = ["in-process, imports warm; not comparable"]
    if inventory.files_scanned != tree.files:
        notes.append(f"scanned {inventory.files_scanned} code files, tree has {tree.files}")
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        envfix.scan(tree.root, target="colab")
        profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).sort_stats("tottime")
        stats.print_stats(20)
        log(text.getvalue())
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        log(text.getvalue())
    return Result(
        "envfix.scan() (library)",
        envfix.__version__,
        label,
        tree.files,
        times,
        bool(tops),
        len(tops),
        len(reqs),
        None,
        None,
        notes,
        sorted(tops),
    )


# --- reporting ----------------------------------------------------------------------------


def table(results: Sequence[Result]) -> str:
    head = (
        "tool",
        "version",
        "tree",
        "wall s",
        "best s",
        "files/s",
        "ms/1k files",
        "imports",
        "reqs",
        "peak RSS",
        "notes",
    )
    rows = [head]
    for r in results:
        rows.append(
            (
                r.tool,
                r.version,
                r.tree,
                f"{r.median:.2f}" if r.ok else "failed",
                f"{r.best:.2f}" if r.ok else "-",
                f"{r.files / r.median:,.0f}" if r.ok else "-",
                f"{1000 * r.median / r.files * 1000:,.0f}" if r.ok else "-",
                "-" if r.imports is None else str(r.imports),
                "-" if r.requirements is None else str(r.requirements),
                "-" if r.max_rss_mb is None else f"{r.max_rss_mb:.0f} MB",
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


def comparisons(results: Sequence[Result]) -> list[str]:
    """'envfix vs X: n times faster' lines, each on the tree both tools succeeded on."""
    out: list[str] = []
    by_key = {(r.tool, r.tree): r for r in results}
    for other in results:
        if other.tool.startswith("envfix"):
            continue
        mine = by_key.get(("envfix scan (CLI)", other.tree))
        if mine is None or not mine.ok:
            continue
        if not other.ok:
            out.append(f"envfix vs {other.tool} ({other.tree} tree): {other.tool} failed")
            continue
        ratio = other.median / mine.median
        word = "faster" if ratio >= 1 else "SLOWER"
        factor = ratio if ratio >= 1 else 1 / ratio
        out.append(
            f"envfix vs {other.tool} ({other.tree} tree): {factor:.1f} times {word}"
            f" ({mine.median:.2f} s vs {other.median:.2f} s, both subprocesses)"
        )
    for r in results:
        if r.tool == "envfix scan (CLI)" and r.ok:
            per_k = 1000 * r.median / r.files
            verdict = "met" if per_k < 1 else "NOT met"
            out.append(
                f"envfix CLI per 1,000 files ({r.tree} tree): {per_k:.2f} s"
                f" (target < 1 s: {verdict})"
            )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=3000, help=".py files (default 3000)")
    parser.add_argument("--notebooks", type=int, default=300, help=".ipynb files (default 300)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (median reported)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the tree")
    parser.add_argument("--tree", help="generate (or reuse) the tree here instead of a temp dir")
    parser.add_argument(
        "--cache-dir",
        default=str(Path.home() / ".cache" / "envfix-bench"),
        help="where the pipreqs/fawltydeps virtualenv lives (default ~/.cache/envfix-bench)",
    )
    parser.add_argument("--envfix-only", action="store_true", help="skip pipreqs and fawltydeps")
    parser.add_argument("--profile", action="store_true", help="cProfile envfix (on stderr)")
    parser.add_argument("--json", action="store_true", help="print JSON results only")
    args = parser.parse_args(argv)
    if args.files < 10 or args.notebooks < 0 or args.repeat < 1:
        parser.error("need --files >= 10, --notebooks >= 0, --repeat >= 1")

    bindir = None if args.envfix_only else ensure_bench_venv(Path(args.cache_dir).expanduser())
    tools = make_tools(bindir)
    with tempfile.TemporaryDirectory(prefix="envfix-bench-") as tmp:
        workdir = Path(tmp)
        info = tree_for(args, workdir)
        log(
            f"tree: {info.root} ({info.py_files} .py, {info.notebooks} .ipynb, "
            f"{info.bytes / 1e6:.0f} MB, {len(info.third_party)} third-party modules imported, "
            f"{len(info.python2_paths)} Python 2 files)"
        )
        # Untimed: each tool once on a tiny tree (byte-code, a check that it runs at all).
        tiny = generate_tree(workdir / "tiny", 20, 2, args.seed + 1)
        for tool in tools:
            run = run_timed(tool.command(tiny.root))
            log(f"warm-up {tool.name}: exit {run.returncode}, {run.wall:.2f} s")
        warm_cache(info.root)

        results: list[Result] = []
        for tool in tools:
            results.append(bench_tool(tool, info, "full", args.repeat))
        results.insert(1, bench_in_process(info, "full", args.repeat, args.profile))
        pipreqs = next((r for r in results if r.tool == "pipreqs"), None)
        if pipreqs is not None and not pipreqs.ok and info.python2_paths:
            log("pipreqs failed: timing it and envfix again on a copy without Python 2 code")
            variant = variant_without(info, workdir / "no-py2")
            warm_cache(variant.root)
            label = "no-py2"
            for tool in tools:
                if tool.name in ("pipreqs", "envfix scan (CLI)"):
                    result = bench_tool(tool, variant, label, args.repeat)
                    if tool.name == "pipreqs":
                        result.notes.append(f"without the {len(info.python2_paths)} Python 2 files")
                    results.append(result)

    expected = len(info.third_party)
    if args.json:
        doc = {
            "settings": {
                "files": args.files,
                "notebooks": args.notebooks,
                "repeat": args.repeat,
                "seed": args.seed,
            },
            "tree": {
                "py_files": info.py_files,
                "notebooks": info.notebooks,
                "bytes": info.bytes,
                "python2_files": len(info.python2_paths),
                "third_party_imported": info.third_party,
            },
            "python": sys.version.split()[0],
            "results": [r.as_json() for r in results],
            "comparisons": comparisons(results),
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(
        f"tree: {info.py_files} .py + {info.notebooks} .ipynb = {info.files} code files,"
        f" {info.bytes / 1e6:.0f} MB, {len(info.python2_paths)} of them Python 2;"
        f" {expected} third-party top-level modules imported (ground truth);"
        f" median of {args.repeat} runs; Python {sys.version.split()[0]}"
    )
    print(table(results))
    print()
    for line in comparisons(results):
        print(line)
    print(
        "'imports' = distinct third-party top-level names each tool reported (pipreqs: after its"
        " import->package mapping); 'reqs' = declared requirement names found."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
