"""Run a notebook with nbclient in a fresh kernel of the target interpreter, or a script with
that interpreter, and say honestly how far it got. A failing cell, a dead kernel, a hang or
a cell past its limit is an outcome, never a crash of envfix."""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from traitlets import default

from envfix.errors import BadInputError, ProgramTimeoutError
from envfix.execute.classify import failing_line, strip_ansi
from envfix.model import Entry, Execution, Location
from envfix.runner import Runner

KERNEL_NAME = "envfix-target"


@dataclass(frozen=True)
class Limits:
    """Time limits of one run, in seconds."""

    cell: float = 600
    total: float = 3600
    smoke: bool = False
    """A cell still running when its limit ends, after every earlier cell passed, counts as
    "started" (a training loop that got going) rather than as a timeout."""


@dataclass(frozen=True)
class RawFailure:
    """An error as the run saw it, before it is classified."""

    ename: str
    evalue: str
    traceback: str
    location: Location | None
    kind: str = "error"
    """"error", "timeout" or "kernel-died"."""


@dataclass(frozen=True)
class RawRun:
    execution: Execution
    failure: RawFailure | None


def kernel_spec_dir(state_dir: Path, python: str) -> Path:
    """A kernelspec whose kernel is `python -m ipykernel_launcher`: the target's own
    interpreter, not whatever `python` comes first on PATH."""
    spec_root = state_dir / "kernels"
    spec = spec_root / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "envfix target",
                "language": "python",
                "env": {"PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"},
            }
        ),
        encoding="utf-8",
    )
    return spec_root


def run_notebook(
    root: Path,
    entry: Entry,
    python: str,
    state_dir: Path,
    limits: Limits,
    progress: Callable[[str], None] = lambda _message: None,
) -> RawRun:
    """Execute the notebook `entry.path` of the repo at `root` from the start."""
    path = root / entry.path
    try:
        with warnings.catch_warnings():
            # Cells without ids (nbformat 4.5 written by old tools) are common and harmless.
            warnings.simplefilter("ignore")
            nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    except Exception as exc:  # nbformat raises several kinds for a damaged file
        raise BadInputError(f"{entry.path} is not a valid notebook: {exc}") from None
    code_cells = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    spec_root = kernel_spec_dir(state_dir, python)
    spec_manager = KernelSpecManager(kernel_dirs=[str(spec_root)])

    class TargetKernelManager(AsyncKernelManager):
        # An async manager nbclient makes and owns: it polls whether the kernel is alive
        # while waiting for output (a dead kernel is noticed) and shuts it down at the end.
        @default("kernel_spec_manager")
        def _target_specs(self) -> KernelSpecManager:
            return spec_manager

    started = time.monotonic()
    passed: set[int] = set()
    running: list[int] = []

    def remaining() -> float:
        return limits.total - (time.monotonic() - started)

    def on_start(cell: Any, cell_index: int, **_: Any) -> None:
        if cell_index not in code_cells:
            return
        running[:] = [cell_index]
        number = code_cells.index(cell_index) + 1
        progress(
            f"running {entry.path}: cell {cell_index + 1} of {len(nb.cells)} (code cell"
            f" {number} of {len(code_cells)}), {time.monotonic() - started:.0f} s"
        )

    def on_executed(cell: Any, cell_index: int, execute_reply: Any, **_: Any) -> None:
        if execute_reply and execute_reply.get("content", {}).get("status") == "ok":
            passed.add(cell_index)

    client = NotebookClient(
        nb,
        kernel_manager_class=TargetKernelManager,
        kernel_name=KERNEL_NAME,
        timeout=int(limits.cell),
        timeout_func=lambda _cell: max(1, int(min(limits.cell, remaining()))),
        allow_errors=False,
        record_timing=True,
        startup_timeout=120,
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_start=on_start,
        on_cell_executed=on_executed,
    )
    failure: RawFailure | None = None
    log = state_dir / "executed" / "kernel.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The kernel's own output (its warnings, a crash's last words) goes to a log, not
        # to the user's terminal.
        with log.open("wb") as kernel_output:
            client.execute(stdout=kernel_output, stderr=kernel_output)
    except CellExecutionError as exc:
        index = running[0] if running else None
        failure = RawFailure(
            exc.ename or "Error",
            exc.evalue or "",
            strip_ansi(exc.traceback or str(exc)),
            _cell(entry, index),
        )
    except (CellTimeoutError, TimeoutError):
        index = running[0] if running else None
        what = (
            f"its time limit ({limits.cell:.0f} s)"
            if remaining() > 1
            else f"the notebook's total time limit ({limits.total:.0f} s)"
        )
        failure = RawFailure(
            "Timeout",
            f"cell {index + 1 if index is not None else '?'} was still running at {what}",
            "",
            _cell(entry, index),
            kind="timeout",
        )
    except DeadKernelError as exc:
        index = running[0] if running else None
        last_words = _tail(log)
        failure = RawFailure(
            "DeadKernelError", str(exc), last_words, _cell(entry, index), kind="kernel-died"
        )
    except RuntimeError as exc:  # the kernel did not start (no ipykernel, a broken target)
        failure = RawFailure("KernelStartError", str(exc), _tail(log), None, kind="kernel-died")
    seconds = time.monotonic() - started
    executed = _save(nb, state_dir, entry)
    passed_code = len([i for i in code_cells if i in passed])
    status = "runs"
    if failure is not None:
        earlier_passed = failure.location is not None and all(
            i in passed for i in code_cells if i < (failure.location.cell or 1) - 1
        )
        started_only = failure.kind == "timeout" and limits.smoke and earlier_passed
        status = "started" if started_only else "blocked"
    elif passed_code < len(code_cells):
        status = "blocked"  # never "runs" for a notebook whose cells did not all run
    execution = Execution(
        status=status,  # type: ignore[arg-type]
        entry=entry,
        cells_total=len(code_cells),
        cells_passed=passed_code,
        seconds=seconds,
        executed_path=str(executed.relative_to(state_dir.parent)),
    )
    return RawRun(execution, failure)


def _tail(log: Path, lines: int = 20) -> str:
    """The kernel's last output lines: what a crash or the out-of-memory killer left."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if "without encryption" not in line]
    return "\n".join(kept[-lines:])


def _cell(entry: Entry, index: int | None) -> Location | None:
    return Location(entry.path, cell=index + 1) if index is not None else None


def _save(nb: Any, state_dir: Path, entry: Entry) -> Path:
    folder = state_dir / "executed"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(entry.path).name
    nbformat.write(nb, target)  # type: ignore[no-untyped-call]
    return target


def run_script(
    root: Path,
    entry: Entry,
    python: str,
    state_dir: Path,
    limits: Limits,
    runner: Runner,
    progress: Callable[[str], None] = lambda _message: None,
) -> RawRun:
    """Run the script `entry.path` with its README arguments, from the repo's root (where a
    README's `python main.py` is typed)."""
    progress(f"running python {entry.path} {' '.join(entry.args)}".rstrip())
    started = time.monotonic()
    failure: RawFailure | None = None
    log = state_dir / "executed" / f"{Path(entry.path).name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {"PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    # A script is one cell: the cell's limit applies to it, within the total one.
    limit = min(limits.cell, limits.total)
    try:
        result = runner([python, entry.path, *entry.args], cwd=root, env=env, timeout=limit)
        log.write_text(result.stdout + result.stderr, encoding="utf-8")
        if not result.ok:
            failure = _script_failure(result.stderr, str(root.resolve()), result.returncode)
    except ProgramTimeoutError as exc:
        # What it printed until then is the proof that it started (or of where it hangs).
        log.write_text(exc.output, encoding="utf-8")
        failure = RawFailure(
            "Timeout",
            f"still running at the time limit ({limit:.0f} s)",
            exc.output[-2000:],
            None,
            kind="timeout",
        )
    seconds = time.monotonic() - started
    if failure is None:
        status = "runs"
    elif failure.kind == "timeout" and limits.smoke:
        status = "started"
    else:
        status = "blocked"
    execution = Execution(
        status=status,  # type: ignore[arg-type]
        entry=entry,
        cells_total=0,
        cells_passed=0,
        seconds=seconds,
        executed_path=str(log.relative_to(state_dir.parent)),
    )
    return RawRun(execution, failure)


_EXCEPTION_LINE = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?::[ \t]?(?P<message>.*))?$")


def _script_failure(stderr: str, root: str, returncode: int) -> RawFailure:
    text = strip_ansi(stderr)
    if returncode < 0:
        return RawFailure("Killed", f"killed by signal {-returncode}", text, None, "kernel-died")
    start = text.rfind("Traceback (most recent call last)")
    traceback = text[start:] if start >= 0 else text[-4000:]
    ename, evalue = _exception(traceback if start >= 0 else "", text, returncode)
    return RawFailure(ename.rsplit(".", 1)[-1], evalue, traceback, failing_line(traceback, root))


def _exception(traceback: str, text: str, returncode: int) -> tuple[str, str]:
    """The exception's name and message: the first unindented line after the traceback's
    frames (a library may print more after it, as Keras 3 does), else the last line."""
    lines = traceback.splitlines()[1:]
    for number, line in enumerate(lines):
        found = _EXCEPTION_LINE.match(line) if line and not line[0].isspace() else None
        if found:
            rest = [r.strip() for r in lines[number + 1 : number + 6] if r.strip()]
            message = (found["message"] or "").strip()
            if not message and rest:
                message = rest[0]
            elif message.endswith((".", ":")) and rest and not rest[0].startswith("Arguments"):
                message = f"{message} {rest[0]}"
            return found["name"], message
    last = next((x for x in reversed(text.strip().splitlines()) if x.strip()), "")
    ename, _, evalue = last.partition(": ")
    if not last or not ename.replace(".", "").replace("_", "").isalnum():
        return "Error", last or f"exit status {returncode}"
    return ename, evalue
