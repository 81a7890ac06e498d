"""The `envfix` command: parse arguments, call the pipeline, render. No logic of its own.

Every command prints a short human summary, or with `--json` only JSON on stdout. Errors
become one line on stderr, a hint, and the exit code documented in `envfix.errors`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from envfix import __version__, pipeline, render, serialize
from envfix.batch import process as batch_process
from envfix.batch import repos as batch_repos
from envfix.batch import summary as batch_summary
from envfix.errors import EXIT_BLOCKED, EXIT_INTERNAL, BadInputError, EnvfixError
from envfix.execute.notebook import Limits
from envfix.model import BatchRow, RunResult
from envfix.recipes.engine import catalogue, check_examples, recipe
from envfix.reporting.markdown import to_markdown
from envfix.runtime import load_profile, profile_names

F = TypeVar("F", bound=Callable[..., Any])

TARGET_HELP = (
    "Runtime to make the code work on: 'live' (this Python), a bundled profile such as"
    " 'colab' or 'colab-2026.07-gpu', a pip-freeze file, or a python interpreter."
    " Default: live inside Colab, else 'colab'."
)


def _emit_json(command: str, body: dict[str, Any]) -> None:
    click.echo(json.dumps(serialize.document(command, body), indent=2))


def _handle_errors(func: F) -> F:
    """Turn envfix's exceptions into one line, a hint and an exit code; bugs into a log file."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EnvfixError as exc:
            click.secho(f"envfix: error: {exc.message.splitlines()[0]}", fg="red", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("envfix: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug: keep the traceback, show one line
            with tempfile.NamedTemporaryFile(
                "w", prefix="envfix-crash-", suffix=".log", delete=False
            ) as log_file:
                traceback.print_exc(file=log_file)
            first_line = (str(exc).strip().splitlines() or [""])[0][:200]
            click.secho(
                f"envfix: internal error: {type(exc).__name__}: {first_line}", fg="red", err=True
            )
            click.echo(
                f"hint: this is a bug in envfix; the traceback is in {log_file.name}", err=True
            )
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


def _progress(json_output: bool) -> tuple[Any, Callable[[str], None]]:
    """A status line on stderr while work goes on (silent with --json or without a terminal)."""
    console = render.make_console(stderr=True)
    if json_output or not console.is_terminal:
        return nullcontext(), lambda _message: None
    status = console.status("starting")
    return status, lambda message: status.update(message)


json_option = click.option("--json", "json_output", is_flag=True, help="Print JSON only.")
target_option = click.option("--target", metavar="TARGET", help=TARGET_HELP)
backend_option = click.option(
    "--backend",
    type=click.Choice(["pip-tools", "uv"]),
    help="Resolver: pip-tools (pip-compile) for the running Python, uv for any target."
    " Default: pip-tools for the running Python, else uv.",
)
index_option = click.option(
    "--index-url", metavar="URL", help="Resolve against this package index instead of PyPI."
)
offline_option = click.option(
    "--offline", is_flag=True, help="Use only cached index data (and a lock made before)."
)


def run_options(func: F) -> F:
    """The options of the run stage, shared by `run` and `clone`."""
    options = [
        click.option(
            "--notebook",
            metavar="PATH",
            help="The notebook (or .py script) to run, relative to the repo."
            " Default: the one the README links, else one named like a demo.",
        ),
        click.option(
            "--cell-timeout",
            type=float,
            default=600,
            show_default=True,
            help="Seconds one cell (or a script) may run.",
        ),
        click.option(
            "--timeout",
            "total_timeout",
            type=float,
            default=3600,
            show_default=True,
            help="Seconds the whole notebook may run.",
        ),
        click.option(
            "--smoke",
            is_flag=True,
            help="For training notebooks: a cell still running at its time limit, after every"
            " earlier cell passed, counts as 'started' (use with a short --cell-timeout).",
        ),
        click.option(
            "--base-venv",
            type=click.Path(path_type=Path, file_okay=False),
            help="A virtual environment whose packages the run's own environment sees"
            " (envfix batch --run makes one, seeded with the target's versions).",
        ),
        click.option(
            "--max-rounds",
            type=click.IntRange(1, 20),
            default=6,
            show_default=True,
            help="Runs at most, each after a repair.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run_options(
    notebook: str | None,
    cell_timeout: float,
    total_timeout: float,
    smoke: bool,
    max_rounds: int,
    base_venv: Path | None = None,
) -> pipeline.RunOptions:
    limits = Limits(cell=cell_timeout, total=total_timeout, smoke=smoke)
    return pipeline.RunOptions(
        notebook=notebook,
        limits=limits,
        max_rounds=max_rounds,
        base_venv=base_venv.resolve() if base_venv else None,
    )


def _exit_for_outcome(run: RunResult | None) -> None:
    if run is not None and run.outcome == "blocked":
        sys.exit(EXIT_BLOCKED)


def _lock_options(
    backend: str | None, index_url: str | None, offline: bool
) -> pipeline.LockOptions:
    return pipeline.LockOptions(backend=backend, index_url=index_url, offline=offline)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="envfix")
def main() -> None:
    """Make an old machine-learning paper's code run on today's Google Colab.

    \b
    Exit codes: 0 success, 1 internal error, 2 bad input, 3 blocked,
    4 environment problem (network, git, a missing program).
    """


@main.command()
@click.argument("repo")
@click.argument("dest", required=False, type=click.Path(path_type=Path))
@click.option("--ref", help="Branch, tag or commit to check out (default: the default branch).")
@click.option("--full", is_flag=True, help="Clone the whole history (default: shallow).")
@click.option(
    "--no-run", is_flag=True, help="Stop after the patch stage: install and execute nothing."
)
@run_options
@target_option
@backend_option
@index_option
@offline_option
@json_option
@_handle_errors
def clone(
    repo: str,
    dest: Path | None,
    ref: str | None,
    full: bool,
    no_run: bool,
    notebook: str | None,
    cell_timeout: float,
    total_timeout: float,
    smoke: bool,
    max_rounds: int,
    base_venv: Path | None,
    target: str | None,
    backend: str | None,
    index_url: str | None,
    offline: bool,
    json_output: bool,
) -> None:
    """Clone REPO (URL, owner/name, browser URL or folder) into DEST and make it run:
    scan, lock, patch, install, run the baseline notebook and repair what fails.

    Outside Colab the code runs in a virtual environment under the clone (.envfix/venv)
    unless --target names an interpreter or 'live'."""
    status, say = _progress(json_output)
    run = (
        None
        if no_run
        else _run_options(notebook, cell_timeout, total_timeout, smoke, max_rounds, base_venv)
    )
    with status:
        result = pipeline.clone(
            repo,
            dest,
            ref=ref,
            target=target,
            shallow=not full,
            lock_options=_lock_options(backend, index_url, offline),
            run=run,
            progress=say,
        )
    if json_output:
        _emit_json("clone", serialize.clone_result(result))
    else:
        render.make_console().print(render.clone_summary(result))
    if result.error is not None:
        click.secho(
            f"envfix: error: {result.error.stage}: {result.error.message}", fg="red", err=True
        )
        if result.error.hint:
            click.echo(f"hint: {result.error.hint}", err=True)
        sys.exit(result.error.exit_code)
    _exit_for_outcome(result.run)


@main.command()
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@run_options
@target_option
@backend_option
@index_option
@offline_option
@json_option
@_handle_errors
def run(
    path: Path,
    notebook: str | None,
    cell_timeout: float,
    total_timeout: float,
    smoke: bool,
    max_rounds: int,
    base_venv: Path | None,
    target: str | None,
    backend: str | None,
    index_url: str | None,
    offline: bool,
    json_output: bool,
) -> None:
    """Install the lock, run the baseline notebook (or script) and repair what fails.

    Outside Colab the code runs in a virtual environment under the repo (.envfix/venv)
    unless --target names an interpreter or 'live'. Exits 3 when the code stays blocked."""
    status, say = _progress(json_output)
    with status:
        result = pipeline.run(
            path,
            target=target,
            options=_run_options(
                notebook, cell_timeout, total_timeout, smoke, max_rounds, base_venv
            ),
            lock_options=pipeline.LockOptions(
                backend=backend, index_url=index_url, offline=offline, suggest=False
            ),
            progress=say,
        )
    if json_output:
        _emit_json("run", serialize.run_result(result))
    else:
        render.make_console().print(render.run_summary(result, Path(path)))
    _exit_for_outcome(result)


@main.command()
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["md", "json"]),
    default="md",
    show_default=True,
    help="Markdown for a forum post, or JSON with the same facts.",
)
@json_option
@_handle_errors
def report(path: Path, output_format: str, json_output: bool) -> None:
    """Write the report of the last run to ENVFIX_REPORT.md and print it: the blocker, the
    runtime, the failing cell and traceback, what envfix tried, how to reproduce. Paths,
    names, e-mail addresses and tokens are redacted. Exits 0 once it is written."""
    result = pipeline.report(path)
    if json_output or output_format == "json":
        _emit_json("report", serialize.report(result))
    else:
        click.echo(to_markdown(result), nl=False)


@main.command()
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@target_option
@backend_option
@index_option
@offline_option
@json_option
@_handle_errors
def lock(
    path: Path,
    target: str | None,
    backend: str | None,
    index_url: str | None,
    offline: bool,
    json_output: bool,
) -> None:
    """Pin versions that install on the target, changing as little as possible of it."""
    status, say = _progress(json_output)
    with status:
        result = pipeline.lock(
            path, target=target, options=_lock_options(backend, index_url, offline), progress=say
        )
    if json_output:
        _emit_json("lock", serialize.lock(result))
    else:
        render.make_console().print(render.lock_summary(result))


@main.command()
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@target_option
@click.option("--dry-run", is_flag=True, help="Show the diff; change and commit nothing.")
@backend_option
@index_option
@offline_option
@json_option
@_handle_errors
def patch(
    path: Path,
    target: str | None,
    dry_run: bool,
    backend: str | None,
    index_url: str | None,
    offline: bool,
    json_output: bool,
) -> None:
    """Patch known API breakages in the code, as commits on the branch envfix/patched."""
    status, say = _progress(json_output)
    with status:
        result = pipeline.patch(
            path,
            target=target,
            options=_lock_options(backend, index_url, offline),
            dry_run=dry_run,
            progress=say,
        )
    if json_output:
        _emit_json("patch", serialize.patch_result(result))
    else:
        render.make_console().print(render.patch_summary(result))


@main.group()
def recipes() -> None:
    """The recipe catalogue: list, show one, or test every recipe's examples."""


@recipes.command("list")
@json_option
@_handle_errors
def recipes_list(json_output: bool) -> None:
    """List every recipe."""
    found = catalogue()
    if json_output:
        _emit_json("recipes", {"recipes": [serialize.recipe_summary(r) for r in found]})
    else:
        render.make_console().print(render.recipe_table(found))


@recipes.command("show")
@click.argument("recipe_id")
@json_option
@_handle_errors
def recipes_show(recipe_id: str, json_output: bool) -> None:
    """Show one recipe: what it fixes, for which versions, and its examples."""
    try:
        found = recipe(recipe_id)
    except KeyError:
        raise BadInputError(
            f"no recipe '{recipe_id}'", hint="envfix recipes list shows them"
        ) from None
    if json_output:
        doc = serialize.recipe_summary(found)
        doc["examples"] = [{"before": e.before, "after": e.after} for e in found.examples]
        _emit_json("recipes", {"recipe": doc})
        return
    console = render.make_console()
    console.print(render.recipe_table([found]))
    console.print(f"source: {found.source}")
    if found.note:
        console.print(f"note: {found.note}")
    for number, example in enumerate(found.examples, start=1):
        console.print(f"example {number}, before:\n{example.before}after:\n{example.after}")


@recipes.command("test")
@json_option
@_handle_errors
def recipes_test(json_output: bool) -> None:
    """Run every recipe's before/after examples; exit 1 if one fails."""
    results = {r.id: check_examples(r) for r in catalogue()}
    failed = {rid: problems for rid, problems in results.items() if problems}
    if json_output:
        _emit_json("recipes", {"tested": len(results), "failed": failed})
    else:
        for rid, problems in failed.items():
            click.echo(f"FAIL {rid}")
            for problem in problems:
                click.echo("  " + problem.replace("\n", "\n  "))
        click.echo(f"{len(results) - len(failed)} of {len(results)} recipes pass their examples")
    if failed:
        sys.exit(EXIT_INTERNAL)


@main.command()
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@target_option
@json_option
@_handle_errors
def scan(path: Path, target: str | None, json_output: bool) -> None:
    """List what the code in PATH imports and what it declares as requirements."""
    runtime = pipeline.load_runtime(target)
    inventory = pipeline.scan(path, target=runtime)
    if json_output:
        _emit_json(
            "scan",
            {"runtime": serialize.runtime_summary(runtime), **serialize.inventory(inventory)},
        )
    else:
        render.make_console().print(render.inventory_summary(inventory, runtime))


@main.command()
@target_option
@click.option("--list", "list_all", is_flag=True, help="List every bundled Colab profile.")
@click.option("--packages", is_flag=True, help="With --json, include every installed package.")
@json_option
@_handle_errors
def runtime(target: str | None, list_all: bool, packages: bool, json_output: bool) -> None:
    """Show a runtime profile: Python, platform, key ML packages, package count."""
    if list_all:
        runtimes = [load_profile(name) for name in profile_names()]
        if json_output:
            _emit_json("runtime", {"profiles": [serialize.runtime_summary(r) for r in runtimes]})
        else:
            render.make_console().print(render.runtime_table(runtimes))
        return
    rt = pipeline.load_runtime(target)
    if json_output:
        body = serialize.runtime(rt) if packages else serialize.runtime_summary(rt)
        _emit_json("runtime", {"runtime": body})
    else:
        render.make_console().print(render.runtime_detail(rt))


# --- batch ----------------------------------------------------------------------------------


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="REPOS.txt | --merge SUMMARY...")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Repos processed at once, each by an envfix process of its own.",
)
@click.option(
    "--run",
    "run_notebooks",
    is_flag=True,
    help="Install and run each repo's notebook, in a virtual environment under its clone"
    " (default: clone, scan, lock and patch only, as clone --no-run).",
)
@click.option(
    "--target",
    metavar="TARGET",
    help="Runtime to lock and patch every repo for (as for clone; not with --run).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the clones, logs and summaries. Default: envfix-batch, or"
    " envfix-batch-K-of-N for a shard.",
)
@click.option(
    "--repo-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=batch_process.DEFAULT_REPO_TIMEOUT,
    show_default=True,
    help="Seconds one repo may take; then it is stopped and its row says timeout.",
)
@click.option("--force", is_flag=True, help="Process again the repos an earlier batch did.")
@click.option(
    "--shard",
    metavar="K/N",
    help="Process only the K-th of N shards (by a hash of each repo's slug), for a CI matrix.",
)
@click.option(
    "--merge",
    is_flag=True,
    help="Join the summary.json files (or folders with one) given instead of a list into one"
    " summary in --out.",
)
@index_option
@offline_option
@json_option
@_handle_errors
def batch(
    inputs: tuple[str, ...],
    jobs: int,
    run_notebooks: bool,
    target: str | None,
    out: Path | None,
    repo_timeout: float,
    force: bool,
    shard: str | None,
    merge: bool,
    index_url: str | None,
    offline: bool,
    json_output: bool,
) -> None:
    """Process every repo of REPOS.txt, one a line: `REPO[@REF] [NOTEBOOK]` (# comments).

    Each repo is cloned into OUT/repos/SLUG by an envfix clone of its own; its log goes to
    OUT/logs/SLUG.log, and OUT/summary.{md,html,json} sum up the batch. A repo done by an
    earlier batch is skipped (unless --force). A repo that fails is a row of the summary:
    the batch exits 0 once every repo was processed."""
    if merge:
        if run_notebooks or force or shard or target:
            raise BadInputError("--merge takes only summaries, --out and --json")
        folder = out or Path("envfix-batch")
        rows = batch_summary.merge([Path(p) for p in inputs])
        batch_summary.write_summaries(rows, folder, title="envfix batch (merged)")
    else:
        if len(inputs) != 1:
            raise BadInputError(
                "give one repo list (or --merge with summaries)",
                hint="envfix batch repos.txt, or envfix batch --merge out-1 out-2",
            )
        items = batch_repos.read_list(Path(inputs[0]))
        title = f"envfix batch: {Path(inputs[0]).name}"
        folder = out or Path("envfix-batch")
        if shard is not None:
            index, count = batch_repos.parse_shard(shard)
            items = batch_repos.shard(items, index, count)
            title += f" (shard {index}/{count})"
            folder = out or Path(f"envfix-batch-{index}-of-{count}")
        options = batch_process.BatchOptions(
            run=run_notebooks,
            target=target,
            index_url=index_url,
            offline=offline,
            jobs=jobs,
            repo_timeout=repo_timeout,
            force=force,
        )
        with _batch_progress(json_output, len(items)) as progress:
            rows = batch_process.batch(items, folder, options, progress, title=title)
    if json_output:
        click.echo(json.dumps({**batch_summary.to_json(rows), "out": str(folder)}, indent=2))
        return
    console = render.make_console()
    if rows:
        console.print(_batch_table(rows))
    console.print(batch_summary.totals_line(batch_summary.totals(rows)), soft_wrap=True)
    names = ", ".join(
        (batch_summary.SUMMARY_MD, batch_summary.SUMMARY_HTML, batch_summary.SUMMARY_JSON)
    )
    console.print(f"Summaries in {folder}: {names}", highlight=False)
    if not merge:
        console.print(f"Clones in {folder / batch_process.REPOS}, logs in {folder / 'logs'}")


@contextmanager
def _batch_progress(json_output: bool, total: int) -> Iterator[batch_process.BatchProgress | None]:
    """A bar for the whole batch on a terminal's stderr; elsewhere a line per repo that
    ends; nothing with --json."""
    console = render.make_console(stderr=True)
    if json_output:
        yield None
        return
    if not console.is_terminal:

        def line(step: batch_process.Step) -> None:
            if step.row is not None:
                done = " (done before)" if step.skipped else f" ({step.row.seconds:.0f} s)"
                console.print(
                    f"[{step.done}/{step.total}] {step.item.slug}: {step.row.outcome}{done}",
                    highlight=False,
                    markup=False,
                )

        yield line
        return
    running: list[str] = []
    bar = Progress(
        TextColumn("envfix batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    )
    task = bar.add_task("", total=total)

    def update(step: batch_process.Step) -> None:
        if step.row is None:
            running.append(step.item.slug)
        elif step.item.slug in running:
            running.remove(step.item.slug)
        if step.row is not None:
            outcome = "done before" if step.skipped else step.row.outcome
            bar.console.print(f"{step.item.slug}: {outcome}", highlight=False, markup=False)
        shown = ", ".join(running[:3]) + (f" +{len(running) - 3}" if len(running) > 3 else "")
        bar.update(task, completed=step.done, description=shown)

    with bar:
        yield update


def _batch_table(rows: tuple[BatchRow, ...]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("repo", "outcome", "framework", "changes", "time", "blocker"):
        table.add_column(column, justify="right" if column in ("changes", "time") else "left")
    for row in rows:
        changes = f"{row.changes} ({row.relaxed} relaxed)" if row.relaxed else str(row.changes)
        blocker = " ".join(p for p in (row.failure_class, row.blocker) if p)
        table.add_row(
            row.slug,
            row.outcome,
            row.framework,
            changes,
            f"{row.seconds:.0f} s",
            Text(blocker[:100] or "-"),
        )
    return table


if __name__ == "__main__":
    main()
