"""Run `envfix clone` on every repo of a batch, each in a process of its own, and collect
one `BatchRow` per repo.

Each repo is cloned into `OUT/repos/SLUG` by a child process,
`python -m envfix clone --json [--no-run] ... -- SOURCE OUT/repos/SLUG`, started through the
runner with the batch's per-repo time limit. Whatever the child does (installs, a kernel, a
crash) stays in that process and that folder; with `--run`, off Colab, the child installs
into the clone's own virtual environment (`.envfix/venv`), so one repo's packages never
reach another. `jobs` children run at once, driven by a thread pool: the threads only wait.

For each repo the batch leaves:

- `OUT/repos/SLUG/`: the clone, as `envfix clone` left it (report, logs in `.envfix/`);
- `OUT/repos/SLUG.row.json`: its row, which marks it done: a later batch with the same
  settings for that repo (source, ref, notebook, run or not, target) skips it, unless
  `force`;
- `OUT/logs/SLUG.log`: the command, its exit status, and its stdout and stderr, redacted.

A repo that fails, crashes or runs out of time is a row (`failed`, `timeout`) like any
other; the batch goes on. Only a batch that cannot start (bad options) raises. Every text
of a row and of a log goes through the report's redaction (`envfix.reporting.redact`).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast, get_args

from envfix import runtime as runtimes
from envfix.batch.summary import read_rows, to_json, write_summaries
from envfix.errors import BadInputError, EnvfixError, ProgramTimeoutError
from envfix.install import seed_base
from envfix.model import BatchItem, BatchOutcome, BatchRow, FailureClass
from envfix.pipeline import load_runtime
from envfix.reporting.compose import REPORT_FILE
from envfix.reporting.redact import Redactor
from envfix.runner import Completed, Runner, default_runner

__all__ = [
    "LOGS",
    "REPOS",
    "BatchOptions",
    "Step",
    "batch",
    "check_options",
    "clone_command",
    "framework_of",
    "process",
    "row_from_clone",
]

REPOS = "repos"
LOGS = "logs"
ROW_SUFFIX = ".row.json"
DEFAULT_REPO_TIMEOUT = 1800.0

FRAMEWORKS: tuple[tuple[str, frozenset[str]], ...] = (
    ("pytorch", frozenset({"torch"})),
    ("tensorflow", frozenset({"tensorflow", "tensorflow-gpu", "tensorflow-cpu", "tf-keras"})),
    ("keras", frozenset({"keras"})),
    ("jax", frozenset({"jax", "jaxlib", "flax"})),
    ("scikit-learn", frozenset({"scikit-learn"})),
    ("numpy", frozenset({"numpy"})),
)
"""A repo's framework: the first whose distributions it imports, in this order."""

_OUTCOMES: tuple[str, ...] = get_args(BatchOutcome)
_FAILURE_CLASSES: tuple[str, ...] = get_args(FailureClass)
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_APPLIED = re.compile(r"^applied recipe (\S+)")


@dataclass(frozen=True)
class BatchOptions:
    """How to process each repo of a batch."""

    run: bool = False
    """Install and run each repo's notebook (in its clone's virtual environment); without
    it, each repo is cloned, scanned, locked and patched (`envfix clone --no-run`)."""
    target: str | None = None
    """`--target` for every clone (only without `run`: a shared environment would let one
    repo's installs reach the next)."""
    index_url: str | None = None
    offline: bool = False
    jobs: int = 1
    """Repos processed at once."""
    repo_timeout: float = DEFAULT_REPO_TIMEOUT
    """Seconds one repo may take, every stage included; then it is stopped: `timeout`."""
    force: bool = False
    """Process repos again that an earlier batch already did."""
    base_venv: Path | None = None
    """A shared base environment every run's own environment sees: made by `batch` with
    `run`, seeded with the target profile's versions where this Python is the profile's."""


@dataclass(frozen=True)
class Step:
    """A repo starting or ending, for a progress display."""

    item: BatchItem
    row: BatchRow | None
    """None when the repo starts; its row when it ends."""
    done: int
    """Repos ended so far, this one included."""
    total: int
    skipped: bool = False
    """Done by an earlier batch with the same settings, and not processed again."""


BatchProgress = Callable[[Step], None]


def batch(
    items: Sequence[BatchItem],
    out: Path,
    options: BatchOptions | None = None,
    progress: BatchProgress | None = None,
    *,
    title: str = "envfix batch",
    runner: Runner = default_runner,
) -> tuple[BatchRow, ...]:
    """Process every item (see the module's docstring), write the summaries into `out`
    (`summary.json`, `summary.md`, `summary.html`), and return the rows in the items' order.

    Raises `BadInputError` only for options the batch cannot start with; what happens to a
    single repo is its row. `progress` is called from one thread at a time."""
    options = options or BatchOptions()
    check_options(options, runner)
    out = out.resolve()
    slugs = [item.slug for item in items]
    if len(set(slugs)) != len(slugs):
        raise BadInputError("two repos of the batch have the same slug")
    for slug in slugs:
        if not _SLUG.fullmatch(slug):  # a slug names folders that a new attempt removes
            raise BadInputError(f"'{slug}' cannot be a folder name of a batch")
    (out / REPOS).mkdir(parents=True, exist_ok=True)
    (out / LOGS).mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    rows: dict[str, BatchRow] = {}
    total = len(items)

    def tell(item: BatchItem, row: BatchRow | None, skipped: bool = False) -> None:
        with lock:
            if row is not None:
                rows[item.slug] = row
            if progress is not None:
                progress(Step(item, row, len(rows), total, skipped))

    pending = []
    for item in items:
        earlier = None if options.force else _done_row(item, out, options)
        if earlier is not None:
            tell(item, earlier, skipped=True)
        else:
            pending.append(item)

    if options.run and pending and options.base_venv is None:
        options = replace(options, base_venv=_seeded_base(out, options, runner))

    def work(item: BatchItem) -> BatchRow:
        tell(item, None)
        return process(item, out, options, runner)

    pool = ThreadPoolExecutor(max_workers=options.jobs, thread_name_prefix="envfix-batch")
    try:
        futures = {pool.submit(work, item): item for item in pending}
        for future in as_completed(futures):
            tell(futures[future], future.result())
    finally:
        # On an interrupt or a bug, repos not started yet are dropped; running ones end.
        pool.shutdown(wait=True, cancel_futures=True)
    ordered = tuple(rows[item.slug] for item in items)
    write_summaries(ordered, out, title=title)
    return ordered


BASE = "base-venv"


def _seeded_base(out: Path, options: BatchOptions, runner: Runner) -> Path | None:
    """The batch's shared base, seeded once with Colab's versions of what most repos use,
    when this Python is the profile's; None when it is not (or seeding failed): then each
    run's environment starts empty, as a single `envfix clone` does."""
    folder = out / BASE
    try:
        seeded = seed_base(
            folder,
            load_runtime(None, runner=runner),
            runner,
            index_url=options.index_url,
            offline=options.offline,
        )
    except EnvfixError:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return folder if seeded else None


def check_options(options: BatchOptions, runner: Runner = default_runner) -> None:
    """Refuse options a batch cannot start with, before any repo is touched."""
    if options.jobs < 1:
        raise BadInputError(f"--jobs must be at least 1, not {options.jobs}")
    if not options.repo_timeout > 0:
        raise BadInputError(f"--repo-timeout must be positive, not {options.repo_timeout:g}")
    if options.run and options.target is not None:
        raise BadInputError(
            "with --run every repo runs in a virtual environment of its own;"
            f" --target {options.target} would make them share one",
            hint="drop --target to run, or drop --run to lock and patch for that target",
        )
    if options.run and runtimes.in_colab():
        raise BadInputError(
            "with --run in Colab every repo would install into the one Colab runtime",
            hint="run the batch on a machine or a CI runner, or without --run",
        )
    if options.target is not None:
        # An unknown target fails here, once, and not in every repo.
        load_runtime(options.target, runner=runner)


def _done_row(item: BatchItem, out: Path, options: BatchOptions) -> BatchRow | None:
    """The row an earlier batch left for `item` with the same settings, if any."""
    marker = out / REPOS / f"{item.slug}{ROW_SUFFIX}"
    try:
        doc = json.loads(marker.read_text(encoding="utf-8"))
        rows = read_rows(marker)
    except (OSError, ValueError, EnvfixError):
        return None
    if not isinstance(doc, dict) or doc.get("fingerprint") != _fingerprint(item, options):
        return None
    return rows[0] if len(rows) == 1 and rows[0].slug == item.slug else None


def _fingerprint(item: BatchItem, options: BatchOptions) -> str:
    """What makes an earlier row stand for this one: the repo and what was done to it
    (a hash, so that a token in a URL is not written down)."""
    facts = [item.source, item.ref, item.notebook, options.run, options.target]
    return hashlib.sha256(json.dumps(facts).encode("utf-8")).hexdigest()


def clone_command(item: BatchItem, dest: Path, options: BatchOptions) -> list[str]:
    """The `envfix clone` command line for one repo (options first, then `--`, so that no
    source can read as an option)."""
    args = [sys.executable, "-m", "envfix", "clone", "--json"]
    if not options.run:
        args.append("--no-run")
    if item.ref is not None:
        args += ["--ref", item.ref]
    if item.notebook is not None:
        args += ["--notebook", item.notebook]
    if options.target is not None:
        args += ["--target", options.target]
    if options.index_url is not None:
        args += ["--index-url", options.index_url]
    if options.offline:
        args.append("--offline")
    if options.run and options.base_venv is not None:
        args += ["--base-venv", str(options.base_venv)]
    return [*args, "--", item.source, str(dest)]


def process(
    item: BatchItem, out: Path, options: BatchOptions, runner: Runner = default_runner
) -> BatchRow:
    """Clone and process one repo in a child process; write its log and its row (the mark
    that it is done). Never raises for what happens to the repo."""
    dest = out / REPOS / item.slug
    marker = out / REPOS / f"{item.slug}{ROW_SUFFIX}"
    marker.unlink(missing_ok=True)
    if dest.exists():
        shutil.rmtree(dest)  # an earlier, interrupted or forced, attempt: start afresh
    args = clone_command(item, dest, options)
    redactor = Redactor()
    started = time.monotonic()
    try:
        completed = runner(args, timeout=options.repo_timeout)
    except ProgramTimeoutError:
        seconds = time.monotonic() - started
        message = f"did not finish within {options.repo_timeout:g} s"
        row = _row(item, "timeout", seconds, redactor, blocker=message)
        log = _log(args, None, seconds, "", "", message)
    except EnvfixError as exc:  # the child could not be started at all
        seconds = time.monotonic() - started
        row = _row(item, "failed", seconds, redactor, blocker=exc.message)
        log = _log(args, None, seconds, "", "", exc.message)
    else:
        seconds = time.monotonic() - started
        row = row_from_clone(item, completed, seconds, out, redactor)
        log = _log(args, completed.returncode, seconds, completed.stdout, completed.stderr)
    (out / LOGS / f"{item.slug}.log").write_text(redactor.redact(log), encoding="utf-8")
    document = {**to_json([row]), "fingerprint": _fingerprint(item, options)}
    marker.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return row


def row_from_clone(
    item: BatchItem, completed: Completed, seconds: float, out: Path, redactor: Redactor
) -> BatchRow:
    """The row for what `envfix clone --json` printed (or, when it printed nothing, for the
    error it wrote on stderr)."""
    doc = _clone_document(completed.stdout)
    if doc is None:
        return _row(item, "failed", seconds, redactor, blocker=_stderr_error(completed))
    error = _dict(doc.get("error"))
    run = _dict(doc.get("run"))
    lock = _dict(doc.get("lock"))
    patch = _dict(doc.get("patch"))
    report = _dict(doc.get("report"))
    outcome: BatchOutcome = "failed"
    if error is None and run is not None and run.get("outcome") in _OUTCOMES:
        outcome = run["outcome"]
    elif error is None and lock is not None and run is None:
        outcome = "locked"
    failure = _dict(run.get("failure")) if run is not None else None
    failure_class = (report or {}).get("class") or (failure or {}).get("class")
    blocker: str | None = None
    if error is not None:
        blocker = f"{error.get('stage')}: {error.get('message')}"
    elif outcome == "blocked":
        blocker = (report or {}).get("title") or (
            f"{(failure or {}).get('ename')}: {(failure or {}).get('evalue')}" if failure else None
        )
    elif outcome == "failed":
        blocker = _stderr_error(completed)
    inventory = _dict(doc.get("inventory")) or {}
    names = (use.get("name") for use in inventory.get("imports", []) if isinstance(use, dict))
    return _row(
        item,
        outcome,
        seconds,
        redactor,
        framework=framework_of(name for name in names if isinstance(name, str)),
        changes=_changes(lock),
        relaxed=len(lock.get("relaxed", [])) if lock is not None else 0,
        recipes=_recipes(patch, run),
        rounds=len(run.get("rounds", [])) if run is not None else 0,
        blocker=blocker,
        failure_class=cast(FailureClass, failure_class)
        if failure_class in _FAILURE_CLASSES
        else None,
        report=_report_path(doc, report, out),
    )


def framework_of(names: Iterable[str]) -> str:
    """The framework of a repo that imports these distributions (see `FRAMEWORKS`)."""
    imported = set(names)
    for framework, distributions in FRAMEWORKS:
        if imported & distributions:
            return framework
    return "other"


def _row(
    item: BatchItem,
    outcome: BatchOutcome,
    seconds: float,
    redactor: Redactor,
    *,
    blocker: str | None = None,
    framework: str = "other",
    changes: int = 0,
    relaxed: int = 0,
    recipes: tuple[str, ...] = (),
    rounds: int = 0,
    failure_class: FailureClass | None = None,
    report: str | None = None,
) -> BatchRow:
    return BatchRow(
        source=redactor.redact(item.source),
        slug=item.slug,
        outcome=outcome,
        framework=framework,
        seconds=round(seconds, 1),
        changes=changes,
        relaxed=relaxed,
        recipes=recipes,
        rounds=rounds,
        blocker=redactor.redact(blocker) if blocker else None,
        failure_class=failure_class,
        report=report,
    )


def _clone_document(stdout: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(stdout)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get("command") == "clone" else None


def _dict(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _stderr_error(completed: Completed) -> str:
    """The `envfix: error: ...` line of a child that stopped, or its last line."""
    lines = [line.strip() for line in completed.stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("envfix: error: "):
            return line.removeprefix("envfix: error: ")
        if line.startswith("envfix: internal error: "):
            return line.removeprefix("envfix: ")
    last = lines[-1] if lines else "no output"
    return f"envfix clone exited with status {completed.returncode}: {last}"


def _changes(lock: dict[str, Any] | None) -> int:
    if lock is None:
        return 0
    changes = lock.get("changes", [])
    return sum(1 for c in changes if isinstance(c, dict) and c.get("kind") != "keep")


def _recipes(patch: dict[str, Any] | None, run: dict[str, Any] | None) -> tuple[str, ...]:
    """The recipes the patch stage applied, then those the run's repairs applied."""
    found: list[str] = []
    for p in (patch or {}).get("patches", []):
        if isinstance(p, dict) and isinstance(p.get("recipe"), str):
            found.append(p["recipe"])
    for r in (run or {}).get("rounds", []):
        for action in r.get("actions", []) if isinstance(r, dict) else []:
            match = _APPLIED.match(str(action))
            if match:
                found.append(match[1])
    return tuple(dict.fromkeys(found))


def _report_path(doc: dict[str, Any], report: dict[str, Any] | None, out: Path) -> str | None:
    """The report file relative to the batch's folder, when the clone wrote one."""
    workspace = _dict(doc.get("workspace"))
    if report is None or workspace is None or not isinstance(workspace.get("path"), str):
        return None
    path = Path(workspace["path"]) / REPORT_FILE
    try:
        relative = path.resolve().relative_to(out.resolve())
    except ValueError:
        return None
    return relative.as_posix() if path.is_file() else None


def _log(
    args: Sequence[str],
    returncode: int | None,
    seconds: float,
    stdout: str,
    stderr: str,
    note: str | None = None,
) -> str:
    status = "none" if returncode is None else str(returncode)
    lines = [f"$ {' '.join(args)}", f"exit status: {status}, {seconds:.1f} s"]
    if note:
        lines.append(note)
    lines += ["--- stdout ---", stdout.rstrip(), "--- stderr ---", stderr.rstrip(), ""]
    return "\n".join(lines)
