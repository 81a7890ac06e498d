"""Benchmark envfix's run stage against plain nbclient on generated notebooks, and time the
classification of a failure.

Run it from the project root with envfix's own interpreter (no network needed)::

    .venv/bin/python benchmarks/bench_run.py                   # 10/50/200 cells + a failing one
    .venv/bin/python benchmarks/bench_run.py --quick           # smaller, under a minute
    .venv/bin/python benchmarks/bench_run.py --repeats 9 --json

What it does, in one run:

1. Writes notebooks of trivial code cells (`value_i = i * 2` and a print or a bare value, so
   that every cell has an output) in a temporary folder: 10, 50 and 200 cells (`--sizes`),
   and one of 50 cells whose cell 25 fails (`--fail`) the way old code fails on today's
   Python: `isinstance(d, collections.Mapping)` called from `json.loads(...,
   object_hook=...)`, an AttributeError raised through stdlib frames, which envfix must
   classify as `removed-api` with the recipe `python-collections-abc`.
2. Runs each notebook with three measurements, each in its own worker subprocess (this
   script with `--worker`), so that each has its own peak RSS; all three start the same
   kernel: `python -m ipykernel_launcher` of the interpreter running the benchmark
   (`sys.executable`), through the kernelspec envfix writes (`kernel_spec_dir`):
   * plain nbclient: `nbformat.read` + `NotebookClient(nb, kernel_name=...,
     timeout=600).execute()` (the kernelspec found through `JUPYTER_PATH`);
   * envfix `run_notebook(root, entry, python, state_dir, limits, progress)`: the same plus
     envfix's own kernel manager class, per-cell hooks (`on_cell_start`/`on_cell_executed`),
     the kernel's output sent to a log, the time limits, the executed notebook saved under
     `.envfix/executed/`, and the failure turned into a `RawFailure`;
   * envfix round: `repair_loop(RepairSteps(...), max_rounds=1)` over the pipeline's own
     `_RepairSession` (its `install`, `execute`, `diagnose`...): one whole round as `envfix
     run` does it, with nothing to install (the session's lock is already installed), so:
     the install check, `run_notebook`, and for a failure the diagnosis (`classify` with
     every recipe's error pattern) into a `Failure`. With one round, nothing is repaired.
   Each worker does one untimed warm-up run (byte-code, lazy imports, the OS cache), then
   `--repeats` timed runs (median and best reported; the time is taken around the call only,
   after the imports), interleaved with the other two workers' runs in a rotating order, so
   that a busy moment of the machine falls on all three alike; then it reads its peak RSS
   (`ru_maxrss`) and does one more run under `tracemalloc`, for the peak of Python memory
   allocated during one call. The kernel's peak
   RSS (`RUSAGE_CHILDREN`) is shown too: it is the same kernel for all three.
   Every run is checked: a passing notebook must have all its cells run without error; the
   failing one must stop at its cell 25 with an AttributeError after 24 passed cells, and
   the envfix round must classify it `removed-api` with the recipe. A measurement whose
   check fails is reported as failed, never as fast.
3. Times `envfix.execute.classify.classify` in-process on long, realistic IPython 8
   tracebacks (ANSI colours, 5 lines of context per frame, 25-60 frames through the repo's
   modules and site-packages: torch, pandas, TensorFlow): a recipe match, a missing module,
   a GPU need, a repo bug, and the real traceback the failing notebook produced. Each call is
   timed two ways: with the recipe patterns compiled once, and the way
   `_RepairSession.diagnose` calls it (`_recipe_errors()` built on each call).

The kernels run with `JUPYTER_RUNTIME_DIR` and `IPYTHONDIR` in the temporary folder, so that
nothing is written to the user's Jupyter or IPython folders.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _shared import log, render

WORKERS = ("nbclient", "run_notebook", "round")
LABELS = {
    "nbclient": "plain nbclient execute()",
    "run_notebook": "envfix run_notebook",
    "round": "envfix round (repair_loop)",
}
KERNEL_NAME = "envfix-target"
"""envfix.execute.notebook.KERNEL_NAME (checked in main): the plain worker does not import
envfix, so that its memory is nbclient's alone."""
CELL_LIMIT_S = 600
EXPECTED_ENAME = "AttributeError"
EXPECTED_KIND = "removed-api"
EXPECTED_RECIPE = "python-collections-abc"

# --- notebooks -----------------------------------------------------------------------------

FAILING_CELL = """\
import collections
import json


def to_config(d):
    if isinstance(d, collections.Mapping):
        return dict(d)
    return d


config = json.loads('{"lr": 0.1, "layers": [64, 64], "optim": {"name": "sgd"}}',
                    object_hook=to_config)
config"""


@dataclass(frozen=True)
class Case:
    """One generated notebook: `cells` code cells, the `fail_at`-th (from 1) failing."""

    cells: int
    fail_at: int | None = None

    @property
    def name(self) -> str:
        if self.fail_at is None:
            return f"{self.cells} cells"
        return f"{self.cells} cells, fails at {self.fail_at}"

    @property
    def file_name(self) -> str:
        suffix = f"-fail{self.fail_at}" if self.fail_at is not None else ""
        return f"cells{self.cells}{suffix}.ipynb"

    @property
    def expected_passed(self) -> int:
        return self.cells if self.fail_at is None else self.fail_at - 1


def cell_source(index: int) -> str:
    if index % 2:
        return f"value_{index} = {index} * 2\nprint('cell', {index}, value_{index})"
    return f"value_{index} = {index} * 2\nvalue_{index}"


def write_notebook(case: Case, folder: Path) -> Path:
    import nbformat

    cells = [
        nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
            FAILING_CELL if number == case.fail_at else cell_source(number)
        )
        for number in range(1, case.cells + 1)
    ]
    nb = nbformat.v4.new_notebook(cells=cells)  # type: ignore[no-untyped-call]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / case.file_name
    nbformat.write(nb, path)  # type: ignore[no-untyped-call]
    return path


# --- the worker: one measurement, in its own process ---------------------------------------


@dataclass
class Observed:
    """What one run did, as the measured code reports it."""

    passed: int
    failed_cell: int | None = None
    ename: str | None = None
    kind: str | None = None
    recipe: str | None = None
    traceback: str = ""


def observe_plain(notebook: Path) -> Observed:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
    ename = None
    traceback = ""
    try:
        NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=CELL_LIMIT_S).execute()
    except CellExecutionError as exc:
        ename, traceback = exc.ename, exc.traceback
    passed = 0
    failed_cell = None
    for number, cell in enumerate(nb.cells, 1):
        if any(out.get("output_type") == "error" for out in cell.get("outputs", ())):
            failed_cell = failed_cell or number
        elif cell.get("execution_count") is not None:
            passed += 1
    return Observed(passed, failed_cell, ename, traceback=traceback)


def envfix_runner(kind: str, notebook: Path, state: Path) -> Callable[[], Observed]:
    """A call that runs `notebook` the way envfix does: `run_notebook` alone, or one round of
    the repair loop over the pipeline's own session."""
    from envfix.execute.notebook import Limits, run_notebook
    from envfix.model import Entry

    root = notebook.parent
    entry = Entry("notebook", notebook.name, "benchmark")
    limits = Limits(cell=CELL_LIMIT_S, total=3600)
    messages: list[str] = []
    if kind == "run_notebook":

        def run() -> Observed:
            raw = run_notebook(root, entry, sys.executable, state, limits, messages.append)
            failure = raw.failure
            return Observed(
                raw.execution.cells_passed,
                failure.location.cell if failure and failure.location else None,
                failure.ename if failure else None,
                traceback=failure.traceback if failure else "",
            )

        return run

    from envfix.model import Inventory, Lock, Runtime
    from envfix.pipeline import LockOptions, RunOptions, _RepairSession
    from envfix.repair import RepairSteps, repair_loop
    from envfix.runner import default_runner
    from envfix.workspace import Workspace

    python_version = platform.python_version()
    runtime = Runtime(
        name="bench",
        python_version=python_version,
        platforms=(),
        distributions=(),
        interpreter=sys.executable,
    )
    inventory = Inventory(
        root=str(root),
        target="bench",
        python_version=python_version,
        files_scanned=1,
        imports=(),
        requirements=(),
        mappings=(),
        local_modules=(),
        python2_files=(),
        findings=(),
    )
    lock = Lock("bench", "uv", python_version, (), (), (), (), ())
    workspace = Workspace(root=root, path=root, source=str(root))
    assert workspace.state_dir == state, (workspace.state_dir, state)
    session = _RepairSession(
        workspace,
        runtime,
        inventory,
        lock,
        entry,
        RunOptions(limits=limits, max_rounds=1),
        LockOptions(offline=True),
        messages.append,
        default_runner,
        installed="",  # no requirements file: nothing to install, as after round 1
    )
    steps = RepairSteps(
        session.install,
        session.execute,
        session.diagnose,
        session.add_requirement,
        session.apply_recipe,
        session.relax_pin,
    )

    def round_() -> Observed:
        (only,) = repair_loop(steps, 1, messages.append)
        failure = only.execution.failure
        return Observed(
            only.execution.cells_passed,
            failure.location.cell if failure and failure.location else None,
            failure.ename if failure else None,
            failure.kind if failure else None,
            failure.recipe if failure else None,
            failure.traceback if failure else "",
        )

    return round_


def rss_mb(who: int) -> float:
    """Peak resident set size of this process (or its largest reaped child), in MB."""
    peak = resource.getrusage(who).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def worker(kind: str, notebook: Path, state: Path) -> int:
    """One measurement, driven by the main process through stdin: an untimed warm-up run
    when started, a timed run for each `run` line, the memory figures on `finish`. Replies
    are JSON lines on the original stdout; anything else written to stdout (the kernel's
    output, inherited by plain nbclient's kernel) goes to stderr."""
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)

    def reply(doc: dict[str, Any]) -> None:
        replies.write(json.dumps(doc) + "\n")
        replies.flush()

    run: Callable[[], Observed]
    if kind == "nbclient":
        import nbclient  # noqa: F401  (imported before the timed runs, like envfix)

        run = functools.partial(observe_plain, notebook)
    else:
        run = envfix_runner(kind, notebook, state)
    rss_start = rss_mb(resource.RUSAGE_SELF)
    reply({"observed": asdict(run())})  # the warm-up
    for line in sys.stdin:
        if line.strip() == "run":
            begin = time.perf_counter()
            observed = run()
            reply({"seconds": time.perf_counter() - begin, "observed": asdict(observed)})
            continue
        rss_peak = rss_mb(resource.RUSAGE_SELF)
        tracemalloc.start()
        tracemalloc.reset_peak()
        traced = run()
        traced_peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        reply(
            {
                "observed": asdict(traced),
                "rss_start_mb": rss_start,
                "rss_peak_mb": rss_peak,
                "traced_peak_mb": traced_peak,
                "kernel_rss_mb": rss_mb(resource.RUSAGE_CHILDREN),
            }
        )
        break
    return 0


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Result:
    """One measurement of one notebook."""

    case: Case
    kind: str
    seconds: list[float] = field(default_factory=list)
    rss_start_mb: float = 0.0
    rss_peak_mb: float = 0.0
    traced_peak_mb: float = 0.0
    kernel_rss_mb: float = 0.0
    problems: list[str] = field(default_factory=list)
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    def as_json(self) -> dict[str, Any]:
        return {
            "notebook": self.case.name,
            "cells": self.case.cells,
            "fail_at": self.case.fail_at,
            "measurement": LABELS[self.kind],
            "ok": self.ok,
            "median_s": self.median if self.seconds else None,
            "best_s": self.best if self.seconds else None,
            "seconds": self.seconds,
            "rss_start_mb": self.rss_start_mb,
            "rss_peak_mb": self.rss_peak_mb,
            "traced_peak_mb": self.traced_peak_mb,
            "kernel_rss_mb": self.kernel_rss_mb,
            "problems": self.problems,
        }


def check(case: Case, kind: str, seen: dict[str, Any]) -> list[str]:
    """What is wrong with one run, compared with what the notebook must do."""
    o = Observed(**seen)
    problems = []
    if o.passed != case.expected_passed:
        problems.append(f"{o.passed} cells passed, expected {case.expected_passed}")
    if o.failed_cell != case.fail_at:
        problems.append(f"failed at cell {o.failed_cell}, expected {case.fail_at}")
    if case.fail_at is not None:
        if o.ename != EXPECTED_ENAME:
            problems.append(f"error {o.ename}, expected {EXPECTED_ENAME}")
        if kind == "round" and (o.kind, o.recipe) != (EXPECTED_KIND, EXPECTED_RECIPE):
            problems.append(
                f"classified {o.kind} (recipe {o.recipe}),"
                f" expected {EXPECTED_KIND} (recipe {EXPECTED_RECIPE})"
            )
    elif o.ename is not None:
        problems.append(f"unexpected error {o.ename}")
    return problems


class Worker:
    """A worker process of one measurement, and its result so far."""

    def __init__(self, case: Case, kind: str, workdir: Path) -> None:
        from envfix.execute.notebook import kernel_spec_dir

        self.result = Result(case, kind)
        # A folder per measurement: run_notebook writes `.envfix/` beside the notebook.
        folder = workdir / f"{kind}-{Path(case.file_name).stem}"
        notebook = write_notebook(case, folder)
        env = {
            **os.environ,
            "JUPYTER_RUNTIME_DIR": str(workdir / "jupyter-runtime"),
            "IPYTHONDIR": str(workdir / "ipython"),
        }
        if kind == "nbclient":
            # The kernelspec envfix writes, found the ordinary way: JUPYTER_PATH/kernels.
            spec_root = kernel_spec_dir(workdir / "plain-kernelspec", sys.executable)
            env["JUPYTER_PATH"] = str(spec_root.parent)
        self.stderr = (workdir / f"{folder.name}.stderr").open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).absolute()),
                "--worker",
                kind,
                "--worker-notebook",
                str(notebook),
                "--worker-state",
                str(folder / ".envfix"),
            ],
            cwd=folder,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self.stderr_path = workdir / f"{folder.name}.stderr"

    def read(self) -> dict[str, Any] | None:
        """The worker's next reply, checked; None once it has failed."""
        if self.result.problems or self.proc.stdout is None:
            return None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            lines = self.stderr_path.read_text(encoding="utf-8", errors="replace").splitlines()
            last = lines[-1] if lines else "no output"
            self.result.problems.append(f"worker exit {self.proc.returncode}: {last[:200]}")
            return None
        doc: dict[str, Any] = json.loads(line)
        problems = check(self.result.case, self.result.kind, doc["observed"])
        self.result.problems += problems
        self.result.traceback = self.result.traceback or doc["observed"]["traceback"]
        return None if problems else doc

    def send(self, command: str) -> dict[str, Any] | None:
        if self.result.problems or self.proc.stdin is None:
            return None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.stderr.close()


def measure(case: Case, workdir: Path, repeats: int) -> list[Result]:
    """The three measurements of one notebook, their timed runs interleaved (in a rotating
    order), so that a slow moment of the machine falls on all of them alike."""
    workers = [Worker(case, kind, workdir) for kind in WORKERS]
    try:
        for w in workers:
            w.read()  # the warm-up runs (at the same time: they are not timed)
        for number in range(repeats):
            turn = number % len(workers)
            for w in workers[turn:] + workers[:turn]:
                doc = w.send("run")
                if doc is not None:
                    w.result.seconds.append(doc["seconds"])
        for w in workers:
            doc = w.send("finish")
            if doc is not None:
                w.result.rss_start_mb = doc["rss_start_mb"]
                w.result.rss_peak_mb = doc["rss_peak_mb"]
                w.result.traced_peak_mb = doc["traced_peak_mb"]
                w.result.kernel_rss_mb = doc["kernel_rss_mb"]
    finally:
        for w in workers:
            w.close()
    return [w.result for w in workers]


# --- classifying ---------------------------------------------------------------------------

_RED, _GREEN, _BGREEN, _CYAN, _BLUE, _RESET = (
    "\x1b[0;31m",
    "\x1b[0;32m",
    "\x1b[1;32m",
    "\x1b[0;36m",
    "\x1b[0;34m",
    "\x1b[0m",
)
SITE = "/usr/local/lib/python3.12/dist-packages"
REPO = "/content/paper-repo"


@dataclass(frozen=True)
class Frame:
    file: str
    line: int
    function: str
    code: str
    """The failing line; four lines of context are made up around it."""


def ipython_traceback(ename: str, evalue: str, cell: str, frames: Sequence[Frame]) -> str:
    """An IPython 8 traceback as nbclient gets it from a kernel: ANSI colours, the cell
    first, then each frame with two lines of context either side of the arrow."""
    parts = [
        f"{_RED}{'-' * 75}{_RESET}",
        f"{_RED}{ename}{_RESET}{' ' * 28}Traceback (most recent call last)",
        f"Cell {_GREEN}In[12], line 4{_RESET}",
        f"{_BGREEN}      2{_RESET} model = build_model(cfg)",
        f"{_BGREEN}      3{_RESET} optimizer = make_optimizer(model, cfg)",
        f"{_GREEN}----> 4{_RESET} {cell}",
        f"{_BGREEN}      5{_RESET} evaluate(model, val_loader)",
        "",
    ]
    for frame in frames:
        parts.append(
            f"File {_GREEN}{frame.file}:{frame.line}{_RESET}, in {_CYAN}{frame.function}"
            f"{_BLUE}(self, *args, **kwargs){_RESET}"
        )
        for offset in (-2, -1):
            parts.append(f"{_BGREEN}{frame.line + offset:>7}{_RESET}     {_context(frame, offset)}")
        parts.append(f"{_GREEN}--> {frame.line:>3}{_RESET}     {frame.code}")
        for offset in (1, 2):
            parts.append(f"{_BGREEN}{frame.line + offset:>7}{_RESET}     {_context(frame, offset)}")
        parts.append("")
    parts.append(f"{_RED}{ename}{_RESET}: {evalue}")
    return "\n".join(parts)


def _context(frame: Frame, offset: int) -> str:
    words = ("result", "hidden", "batch", "output", "state", "inputs")
    word = words[(frame.line + offset) % len(words)]
    return f"{word} = self._{frame.function}_{abs(offset)}({word}, **kwargs)"


def torch_frames(depth: int) -> list[Frame]:
    """nn.Module calls nested `depth` deep: the usual bulk of a PyTorch traceback."""
    out: list[Frame] = []
    for level in range(depth):
        out.append(
            Frame(
                f"{SITE}/torch/nn/modules/module.py",
                1736,
                "_wrapped_call_impl",
                "return self._call_impl(*args, **kwargs)",
            )
        )
        out.append(
            Frame(
                f"{SITE}/torch/nn/modules/module.py",
                1747,
                "_call_impl",
                "return forward_call(*args, **kwargs)",
            )
        )
        out.append(
            Frame(
                f"{REPO}/models/blocks.py",
                40 + level,
                "forward",
                f"x = self.layer{level}(x)",
            )
        )
    return out


@dataclass(frozen=True)
class Sample:
    name: str
    ename: str
    evalue: str
    traceback: str
    expected: str
    local_modules: tuple[str, ...] = ("models", "data", "train", "utils")


def samples(real: str) -> list[Sample]:
    """Long tracebacks of the failures envfix meets most, as a Colab kernel prints them."""
    repo_top = [
        Frame(f"{REPO}/train.py", 88, "train_epoch", "loss = criterion(model(images), labels)"),
        *torch_frames(18),
    ]
    numpy_float = ipython_traceback(
        "AttributeError",
        "module 'numpy' has no attribute 'float'.\n`np.float` was a deprecated alias for"
        " the builtin `float`.",
        "train(model, train_loader, optimizer, epochs=cfg.epochs)",
        [
            *repo_top,
            Frame(f"{REPO}/models/anchors.py", 61, "generate", "scale = np.float(size) / 2"),
        ],
    )
    missing = ipython_traceback(
        "ModuleNotFoundError",
        "No module named 'tensorflow.contrib'",
        "from models.detector import Detector",
        [
            Frame(f"{REPO}/models/detector.py", 9, "<module>", "from models import layers"),
            Frame(f"{REPO}/models/layers.py", 14, "<module>", "from utils import tf_ops"),
            *[
                Frame(
                    f"{SITE}/tensorflow/python/util/lazy_loader.py",
                    58 + i,
                    "_load",
                    "module = importlib.import_module(self.__name__)",
                )
                for i in range(20)
            ],
            Frame(f"{REPO}/utils/tf_ops.py", 3, "<module>", "import tensorflow.contrib.slim"),
        ],
    )
    gpu = ipython_traceback(
        "AssertionError",
        "Torch not compiled with CUDA enabled",
        "model = model.cuda()",
        [
            *torch_frames(15),
            Frame(f"{SITE}/torch/nn/modules/module.py", 916, "cuda", "return self._apply(fn)"),
            Frame(f"{SITE}/torch/cuda/__init__.py", 310, "_lazy_init", "raise AssertionError"),
        ],
    )
    repo_bug = ipython_traceback(
        "KeyError",
        "'label'",
        "dataset = CsvDataset(cfg.data.csv)",
        [
            Frame(f"{REPO}/data/csv_dataset.py", 33, "__init__", "self.y = df['label'].values"),
            *[
                Frame(
                    f"{SITE}/pandas/core/{where}.py",
                    4100 + i,
                    "__getitem__",
                    "indexer = self.columns.get_loc(key)",
                )
                for i, where in enumerate(["frame", "indexes/base", "generic"] * 8)
            ],
            Frame(
                f"{SITE}/pandas/core/indexes/base.py",
                3812,
                "get_loc",
                "raise KeyError(key) from err",
            ),
        ],
    )
    found = [
        Sample(
            "removed-api, recipe (np.float)",
            "AttributeError",
            "module 'numpy' has no attribute 'float'",
            numpy_float,
            "removed-api",
        ),
        Sample(
            "missing module (tensorflow.contrib)",
            "ModuleNotFoundError",
            "No module named 'tensorflow.contrib'",
            missing,
            "missing-module",
        ),
        Sample(
            "needs GPU (torch .cuda())",
            "AssertionError",
            "Torch not compiled with CUDA enabled",
            gpu,
            "needs-gpu",
        ),
        Sample("repo bug (KeyError in pandas)", "KeyError", "'label'", repo_bug, "repo-bug"),
    ]
    if real:
        found.append(
            Sample(
                "the failing notebook's own",
                "AttributeError",
                "module 'collections' has no attribute 'Mapping'",
                real,
                EXPECTED_KIND,
                (),
            )
        )
    return found


@dataclass
class Timing:
    sample: Sample
    kind: str
    recipe: str | None
    per_call_us: float
    per_call_diagnose_us: float
    problems: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "traceback": self.sample.name,
            "chars": len(self.sample.traceback),
            "lines": self.sample.traceback.count("\n") + 1,
            "class": self.kind,
            "recipe": self.recipe,
            "classify_us": self.per_call_us,
            "classify_with_recipe_errors_us": self.per_call_diagnose_us,
            "problems": self.problems,
        }


def per_call(call: Callable[[], object], seconds: float, repeats: int) -> float:
    """Microseconds per call: the median over `repeats` batches of about `seconds` each."""
    call()
    begin = time.perf_counter()
    n = 0
    while time.perf_counter() - begin < seconds / 10 or n < 3:
        call()
        n += 1
    batch = max(1, int(n * 10 * seconds / max(time.perf_counter() - begin, 1e-9) / 10))
    results = []
    for _ in range(repeats):
        begin = time.perf_counter()
        for _ in range(batch):
            call()
        results.append((time.perf_counter() - begin) / batch * 1e6)
    return statistics.median(results)


def time_classify(real: str, seconds: float, repeats: int) -> list[Timing]:
    from envfix.execute.classify import classify
    from envfix.pipeline import _recipe_errors

    patterns = _recipe_errors()
    out = []
    for s in samples(real):

        def once(s: Sample = s) -> object:
            return classify(
                s.ename,
                s.evalue,
                s.traceback,
                local_modules=s.local_modules,
                recipe_errors=patterns,
            )

        def as_diagnose(s: Sample = s) -> object:
            return classify(
                s.ename,
                s.evalue,
                s.traceback,
                local_modules=s.local_modules,
                recipe_errors=_recipe_errors(),
            )

        found = classify(
            s.ename, s.evalue, s.traceback, local_modules=s.local_modules, recipe_errors=patterns
        )
        problems = [] if found.kind == s.expected else [f"classified {found.kind}"]
        out.append(
            Timing(
                s,
                found.kind,
                found.recipe,
                per_call(once, seconds, repeats),
                per_call(as_diagnose, seconds, repeats),
                problems,
            )
        )
    return out


# --- reporting -----------------------------------------------------------------------------


def run_table(results: Sequence[Result]) -> str:
    head = (
        "notebook",
        "measurement",
        "median s",
        "best s",
        "vs nbclient",
        "RSS start",
        "peak RSS",
        "traced peak",
        "kernel RSS",
    )
    plain = {r.case: r for r in results if r.kind == "nbclient" and r.ok}
    rows = []
    for r in results:
        base = plain.get(r.case)
        if not r.ok:
            rows.append((r.case.name, LABELS[r.kind], "failed", *["-"] * 6))
            continue
        if r.kind == "nbclient" or base is None:
            versus = "-"
        else:
            extra = r.median - base.median
            versus = f"{extra:+.3f} s ({extra / base.median:+.0%})"
        rows.append(
            (
                r.case.name,
                LABELS[r.kind],
                f"{r.median:.3f}",
                f"{r.best:.3f}",
                versus,
                f"{r.rss_start_mb:.0f} MB",
                f"{r.rss_peak_mb:.0f} MB",
                f"{r.traced_peak_mb:.1f} MB",
                f"{r.kernel_rss_mb:.0f} MB",
            )
        )
    return render(head, rows, left=2)


def per_cell(results: Sequence[Result]) -> list[str]:
    """Fixed cost and cost per cell of each measurement: a least-squares line through its
    medians on the passing notebooks."""
    out = []
    for kind in WORKERS:
        passing = [r for r in results if r.kind == kind and r.ok and r.case.fail_at is None]
        if len({r.case.cells for r in passing}) < 2:
            continue
        slope, intercept = statistics.linear_regression(
            [float(r.case.cells) for r in passing], [r.median for r in passing]
        )
        out.append(f"  {LABELS[kind]:<28} {intercept:.3f} s {slope * 1000:+.2f} ms per cell")
    if out:
        out.insert(0, "fixed cost + cost per cell (least squares over the passing notebooks):")
    return out


def classify_table(timings: Sequence[Timing]) -> str:
    head = (
        "traceback",
        "chars",
        "lines",
        "class (recipe)",
        "classify",
        "calls/s",
        "as diagnose does it",
    )
    rows = [
        (
            t.sample.name,
            f"{len(t.sample.traceback):,}",
            f"{t.sample.traceback.count(chr(10)) + 1:,}",
            f"{t.kind} ({t.recipe})" if t.recipe else t.kind,
            f"{t.per_call_us:,.0f} µs",
            f"{1e6 / t.per_call_us:,.0f}",
            f"{t.per_call_diagnose_us:,.0f} µs",
        )
        for t in timings
    ]
    return render(head, rows, left=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed runs per measurement (default 5, quick 2)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="10 and 50 cells, a 20-cell failing one; < 1 min"
    )
    parser.add_argument(
        "--sizes", help="comma-separated cell counts of the passing notebooks (default 10,50,200)"
    )
    parser.add_argument(
        "--fail",
        help="CELLS:AT, the failing notebook: CELLS cells, cell AT fails (default 50:25)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON results only")
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    parser.add_argument("--worker-notebook", help=argparse.SUPPRESS)
    parser.add_argument("--worker-state", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else 2 if args.quick else 5
    if args.worker:
        return worker(args.worker, Path(args.worker_notebook), Path(args.worker_state))
    sizes_text = args.sizes or ("10,50" if args.quick else "10,50,200")
    fail_text = args.fail or ("20:10" if args.quick else "50:25")
    try:
        sizes = [int(n) for n in sizes_text.split(",") if n.strip()]
        fail_cells, fail_at = (int(n) for n in fail_text.split(":"))
    except ValueError:
        parser.error("--sizes takes numbers like 10,50,200 and --fail one like 50:25")
    if repeats < 1 or any(n < 1 for n in sizes) or not 1 <= fail_at <= fail_cells:
        parser.error("need --repeats >= 1, sizes >= 1 and 1 <= AT <= CELLS")
    cases = [*(Case(n) for n in sizes), Case(fail_cells, fail_at)]

    from importlib.metadata import version

    import envfix
    from envfix.execute import notebook as envfix_notebook

    if envfix_notebook.KERNEL_NAME != KERNEL_NAME:
        log(f"bench_run: envfix's kernel is now {envfix_notebook.KERNEL_NAME!r}: update")
        return 1
    versions = {
        "envfix": envfix.__version__,
        "nbclient": version("nbclient"),
        "ipykernel": version("ipykernel"),
        "jupyter_client": version("jupyter_client"),
        "python": platform.python_version(),
    }
    started = time.perf_counter()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="envfix-bench-run-") as tmp:
        workdir = Path(tmp)
        for case in cases:
            for result in measure(case, workdir, repeats):
                log(
                    f"{case.name:<24} {LABELS[result.kind]:<28}"
                    + (
                        f" median {result.median:.3f} s, peak RSS {result.rss_peak_mb:.0f} MB"
                        if result.ok
                        else f" FAILED: {'; '.join(result.problems[:3])}"
                    )
                )
                results.append(result)
    run_elapsed = time.perf_counter() - started
    real = next((r.traceback for r in results if r.kind == "round" and r.traceback), "")
    batch_s = 0.05 if args.quick else 0.2
    timings = time_classify(real, batch_s, max(repeats, 3))
    elapsed = time.perf_counter() - started
    failed = [r for r in results if not r.ok] + [t for t in timings if t.problems]

    if args.json:
        doc = {
            "settings": {
                "repeats": repeats,
                "quick": args.quick,
                "sizes": sizes,
                "fail": [fail_cells, fail_at],
            },
            "versions": versions,
            "target": sys.executable,
            "run": [r.as_json() for r in results],
            "classify": [t.as_json() for t in timings],
            "elapsed_s": elapsed,
            "ok": not failed,
        }
        print(json.dumps(doc, indent=2))
        return 1 if failed else 0

    print(
        f"run stage vs plain nbclient: kernel {sys.executable} -m ipykernel_launcher;"
        f" median of {repeats} runs after 1 warm-up, each measurement in its own worker,"
        " runs interleaved;"
        + "".join(f" {k} {v};" for k, v in versions.items())
        + f" {platform.machine()}, {os.cpu_count()} CPUs; {elapsed:.0f} s in all"
    )
    print(run_table(results))
    print()
    print(
        "s: wall time of one run (read, start the kernel, run every cell, stop it), inside the"
        " worker, around the call only."
    )
    print(
        "RSS start: the worker's RSS after its imports; peak RSS: its ru_maxrss after all runs;"
        " traced peak: Python memory allocated during one run (tracemalloc); kernel RSS: the"
        " kernel's peak."
    )
    for line in per_cell(results):
        print(line)
    print()
    print(
        f"classify() per call, median of {max(repeats, 3)} batches of ~{batch_s:.2f} s"
        " (as diagnose does it: the recipe error patterns rebuilt on each call):"
    )
    print(classify_table(timings))
    print()
    print(
        f"checks: every run of every measurement stopped where expected (passing notebooks:"
        f" all cells; the failing one: {EXPECTED_ENAME} at its cell {fail_at}, envfix round:"
        f" {EXPECTED_KIND} with recipe {EXPECTED_RECIPE}); every traceback in its class: "
        + ("ok" if not failed else "FAILED")
    )
    for r in results:
        for problem in r.problems[:5]:
            print(f"  {r.case.name}, {LABELS[r.kind]}: {problem}")
    for t in timings:
        for problem in t.problems:
            print(f"  classify {t.sample.name}: {problem}, expected {t.sample.expected}")
    log(f"run stage measurements: {run_elapsed:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
