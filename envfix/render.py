"""Human-readable terminal output, made from the data model. No logic, no decisions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from envfix.model import (
    DeclaredRequirement,
    Finding,
    ImportUse,
    Inventory,
    Location,
    Lock,
    PatchResult,
    Report,
    Round,
    RunResult,
    Runtime,
)
from envfix.pipeline import CloneResult
from envfix.recipes.engine import Recipe
from envfix.reporting.compose import REPORT_FILE
from envfix.runtime import in_colab
from envfix.serialize import KEY_PACKAGES

_SEVERITY_MARK = {"error": ("x", "red"), "warning": ("!", "yellow"), "info": ("i", "cyan")}
MAX_FINDINGS_SHOWN = 12


def runtime_line(rt: Runtime) -> str:
    """`colab: Python 3.13.15, CPU (Colab of 2026-08-19)` in one line."""
    kind = f"GPU, CUDA {rt.cuda}" if rt.accelerator == "gpu" and rt.cuda else rt.accelerator.upper()
    when = f" (Colab of {rt.released})" if rt.released else ""
    return f"{rt.name}: Python {rt.python_version}, {kind}{when}"


def runtime_detail(rt: Runtime) -> RenderableType:
    lines: list[RenderableType] = [Text(runtime_line(rt), style="bold")]
    if rt.os:
        lines.append(Text(f"  OS          {rt.os}"))
    if rt.platforms:
        lines.append(Text(f"  platform    {rt.platforms[0]}"))
    lines.append(Text(f"  packages    {len(rt.distributions)} installed"))
    key = [(name, rt.version_of(name)) for name in KEY_PACKAGES]
    present = [f"{name} {version}" for name, version in key if version]
    for start in range(0, len(present), 5):
        label = "key ML" if start == 0 else ""
        lines.append(Text(f"  {label:<12}" + ", ".join(present[start : start + 5])))
    lines.append(Text(f"  source      {rt.source}", style="dim"))
    lines.extend(Text(f"  note        {note}", style="dim") for note in rt.notes)
    return Group(*lines)


def runtime_table(runtimes: Iterable[Runtime]) -> RenderableType:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("profile", "date", "python", "kind", "numpy", "torch", "tensorflow", "packages"):
        table.add_column(column)
    for rt in runtimes:
        table.add_row(
            rt.name,
            rt.released or "",
            rt.python_version,
            rt.accelerator,
            rt.version_of("numpy") or "-",
            rt.version_of("torch") or "-",
            rt.version_of("tensorflow") or "-",
            str(len(rt.distributions)),
        )
    return table


def findings_block(findings: Iterable[Finding], limit: int = MAX_FINDINGS_SHOWN) -> RenderableType:
    order = {"error": 0, "warning": 1, "info": 2}
    ranked = sorted(findings, key=lambda f: order[f.severity])
    lines: list[RenderableType] = []
    for f in ranked[:limit]:
        mark, style = _SEVERITY_MARK[f.severity]
        where = f"{f.location}: " if f.location else ""
        line = Text(f"  {mark} ", style=style)
        line.append(f"[{f.code}] ", style="dim")
        line.append(f"{where}{f.message}")
        lines.append(line)
    if len(ranked) > limit:
        lines.append(Text(f"  ... and {len(ranked) - limit} more (see --json)", style="dim"))
    return Group(*lines)


def short_location(loc: Location) -> str:
    """`demo.ipynb cell 3` or `train.py:12`: enough to find it, short enough for a table."""
    return f"{loc.path} cell {loc.cell}" if loc.cell is not None else str(loc)


def _first_and_count(locations: list[Location]) -> str:
    if not locations:
        return "-"
    more = f" +{len(locations) - 1}" if len(locations) > 1 else ""
    return short_location(locations[0]) + more


def inventory_summary(inv: Inventory, rt: Runtime) -> RenderableType:
    declared: dict[str, list[DeclaredRequirement]] = defaultdict(list)
    for req in inv.requirements:
        if req.name:
            declared[req.name].append(req)
    used: dict[str, list[ImportUse]] = defaultdict(list)
    for use in inv.imports:
        if use.name:
            used[use.name].append(use)
    parts: list[RenderableType] = [
        Text(
            f"Scanned {inv.files_scanned} code files: {len(used)} distributions imported,"
            f" {len(declared)} declared",
            style="bold",
        )
    ]
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("distribution", "wants", "declared in", "imported in", f"{rt.name} has"):
        table.add_column(column, overflow="fold")
    # Imported distributions only; the declared-but-unused ones follow in one line (an
    # exported conda environment declares dozens).
    for name in sorted(used):
        reqs = declared.get(name, [])
        uses = used.get(name, [])
        wants = next((r.specifier for r in reqs if r.specifier), "any" if reqs else "-")
        imported = _first_and_count([u.location for u in uses])
        if uses and all(u.optional for u in uses):
            imported += " (optional)"
        table.add_row(
            name,
            wants,
            _first_and_count([r.location for r in reqs]),
            imported,
            rt.version_of(name) or "-",
        )
    parts.append(table)
    if inv.undeclared:
        parts.append(Text("Imported but not declared: " + ", ".join(inv.undeclared)))
    if inv.declared_unused:
        parts.append(Text("Declared but never imported (kept): " + ", ".join(inv.declared_unused)))
    if inv.python2_files:
        shown = ", ".join(inv.python2_files[:5])
        more = f" and {len(inv.python2_files) - 5} more" if len(inv.python2_files) > 5 else ""
        parts.append(Text(f"Python 2 files: {shown}{more}", style="yellow"))
    if inv.findings:
        parts.append(Text(f"Findings ({len(inv.findings)}):"))
        parts.append(findings_block(inv.findings))
    return Group(*parts)


_CHANGE_MARK = {"add": "+", "upgrade": "^", "downgrade": "v"}


def lock_summary(lock: Lock) -> RenderableType:
    installs = lock.installs
    moved = [c for c in installs if c.kind != "add"]
    reused = " (reused: same inputs as before)" if lock.reused else ""
    parts: list[RenderableType] = [
        Text(
            f"Lock for {lock.target} (Python {lock.python_version}) with {lock.backend}:"
            f" {len(installs)} to install, {len(moved)} preinstalled changed{reused}",
            style="bold",
        )
    ]
    table = Table(box=None, pad_edge=False, show_header=False)
    for column in ("mark", "name", "versions", "why"):
        table.add_column(column, overflow="fold")
    for c in installs:
        versions = f"{c.old} -> {c.new}" if c.old else c.new
        table.add_row(f"  {_CHANGE_MARK[c.kind]}", c.name, versions, c.reason)
    for need in lock.direct_urls:
        table.add_row("  @", need.name, need.url or "", need.reasons[0] if need.reasons else "")
    if installs or lock.direct_urls:
        parts.append(table)
    if lock.relaxed:
        parts.append(Text("Relaxed (the version asked for cannot be used here):"))
        for d in lock.relaxed:
            parts.append(Text(f"  {d.relaxed_from} -> {d.requirement}: {d.reason}"))
    if lock.findings:
        parts.append(Text(f"Findings ({len(lock.findings)}):"))
        parts.append(findings_block(lock.findings))
    if lock.requirements_file and _for_colab(lock):
        parts.append(Text(f"Wrote {display_path(Path(lock.requirements_file))}. In Colab, run:"))
        parts.append(Text(f"  %pip install -r {Path(lock.requirements_file).name}", style="bold"))
    elif lock.requirements_file:
        parts.append(
            Text(
                f"Wrote {display_path(Path(lock.requirements_file))}, pinned for {lock.target}"
                " (not Colab: for Colab, lock with --target colab, or run envfix in Colab)."
            )
        )
    if lock.restart:
        shown = ", ".join(lock.restart[:5]) + (" ..." if len(lock.restart) > 5 else "")
        parts.append(
            Text(
                f"then restart the runtime (Runtime > Restart session): {shown} changed",
                style="yellow",
            )
        )
    elif installs:
        parts.append(Text("No restart needed: no preinstalled package changes."))
    if lock.suggestion:
        parts.append(Text(f"Suggestion: {lock.suggestion}", style="cyan"))
    return Group(*parts)


def _for_colab(lock: Lock) -> bool:
    """Could the pins go into Colab? Not when they were made for an interpreter on this
    machine outside Colab (the run's virtual environment, `--target /usr/bin/python3`)."""
    return lock.interpreter is None or in_colab()


def patch_summary(result: PatchResult) -> RenderableType:
    verb = "Would apply" if result.dry_run else "Applied"
    where = "" if result.dry_run else f" on branch {result.branch}"
    if not result.patches:
        head = Text(f"No recipe changes anything in this code{where}.", style="bold")
        return Group(head, findings_block(result.findings)) if result.findings else head
    files = {f for p in result.patches for f in p.files}
    parts: list[RenderableType] = [
        Text(f"{verb} {len(result.patches)} recipes to {len(files)} files{where}:", style="bold")
    ]
    for p in result.patches:
        line = Text(f"  {p.recipe}", style="yellow" if p.review else "")
        shown = ", ".join(p.files[:3]) + (f" +{len(p.files) - 3}" if len(p.files) > 3 else "")
        line.append(f": {p.title} ({shown})")
        if p.review:
            line.append("  check this", style="yellow")
        parts.append(line)
    if result.requires:
        parts.append(Text("Requirements the patches need: " + ", ".join(result.requires)))
    reviewed = [p for p in result.patches if p.review]
    if reviewed:
        parts.append(Text("Check this: mechanical, but the meaning may differ:", style="yellow"))
        parts.extend(Text(f"  {p.recipe}: {p.note or p.title}") for p in reviewed)
    if result.findings:
        parts.append(findings_block(f for f in result.findings if f.code != "check-this"))
    if result.dry_run:
        parts.append(Text("Nothing was written (--dry-run). The diff:"))
        parts.append(Text(result.diff or "(empty)"))
    elif result.base:
        parts.append(Text(f"See the changes: git diff {result.base[:12]} {result.branch}"))
    return Group(*parts)


def recipe_table(recipes: Iterable[Recipe]) -> RenderableType:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("id", "library", "gone in", "fix", "title"):
        table.add_column(column, overflow="fold")
    for r in recipes:
        kinds = ", ".join(dict.fromkeys(f.kind for f in r.fixes))
        title = r.title + (" (check this)" if r.review else "")
        table.add_row(r.id, r.library, str(r.gone_in), kinds, title)
    return table


def clone_summary(result: CloneResult) -> RenderableType:
    ws = result.workspace
    at = f" at {ws.commit[:12]}" if ws.commit else ""
    if ws.reused:
        head = Text(f"Reused {display_path(ws.root)}, a clone of {ws.source}{at}", style="bold")
    else:
        head = Text(f"Cloned {ws.source}{at} into {display_path(ws.root)}", style="bold")
    parts: list[RenderableType] = [head]
    if ws.path != ws.root:
        parts.append(Text(f"  working in {ws.path.relative_to(ws.root)}/"))
    if ws.notebook:
        parts.append(Text(f"  notebook named by the URL: {ws.notebook}"))
    parts.extend(Text(f"  note: {note}", style="yellow") for note in ws.notes)
    parts.append(Text("Target " + runtime_line(result.runtime)))
    parts.append(inventory_summary(result.inventory, result.runtime))
    if result.lock is not None:
        parts.append(lock_summary(result.lock))
    if result.patch is not None:
        parts.append(patch_summary(result.patch))
    if result.run is not None:
        parts.append(run_summary(result.run, ws.root))
        if result.report is not None:
            parts.append(report_line(result.report, ws.path))
    elif result.error is None:
        parts.append(Text("Not run (--no-run): nothing was installed or executed."))
    return Group(*parts)


def report_line(report: Report, folder: Path) -> Text:
    where = display_path(folder / REPORT_FILE)
    if report.outcome == "blocked":
        return Text(f"Report for a forum post: {where} (envfix report prints it)", style="bold")
    return Text(f"Report: {where}")


_OUTCOME_STYLE = {"runs": "bold green", "started": "bold green", "blocked": "bold red"}


def run_summary(result: RunResult, root: Path | None = None) -> RenderableType:
    entry = result.entry
    what = f"python {entry.path} {' '.join(entry.args)}".rstrip()
    if entry.kind == "notebook":
        what = entry.path
    parts: list[RenderableType] = [
        Text(f"Ran {what} ({entry.reason}) in {result.environment}", style="bold")
    ]
    parts.extend(_round_line(r) for r in result.rounds)
    final = result.final
    outcome = Text("Outcome: ")
    outcome.append(result.outcome, style=_OUTCOME_STYLE[result.outcome])
    if result.outcome == "runs" and final.cells_total:
        outcome.append(f": all {final.cells_total} code cells ran")
    elif result.outcome == "started":
        outcome.append(": every cell before the long-running one passed; it was still running")
    elif final.failure is not None:
        failure = final.failure
        outcome.append(f": {failure.kind}")
        if failure.location is not None:
            outcome.append(f" at {failure.location}")
        outcome.append(f" - {failure.explanation}")
    parts.append(outcome)
    installs = [r.install for r in result.rounds if r.install is not None]
    conflicts = installs[-1].conflicts if installs else ()
    if conflicts:
        parts.append(Text("Conflicts left in the environment (pip check, pipdeptree):", "yellow"))
        parts.extend(Text(f"  {c}") for c in conflicts[:8])
    base = root if root is not None else Path(".")
    if final.executed_path:
        parts.append(Text(f"Executed copy: {display_path(base / final.executed_path)}"))
    parts.append(Text(f"Each round is recorded in {display_path(base / '.envfix' / 'rounds')}/"))
    return Group(*parts)


def _round_line(r: Round) -> Text:
    execution = r.execution
    line = Text(f"  round {r.number}: ")
    line.append(execution.status, style=_OUTCOME_STYLE[execution.status])
    if execution.cells_total:
        line.append(f" ({execution.cells_passed} of {execution.cells_total} code cells passed,")
        line.append(f" {execution.seconds:.1f} s)")
    failure = execution.failure
    if failure is not None:
        where = f" in {failure.location}" if failure.location else ""
        message = failure.evalue.strip().splitlines()[0] if failure.evalue.strip() else ""
        line.append(f"{where}: {failure.ename}: {message[:120]}")
    for action in r.actions:
        line.append(f"\n    then {action}")
    return line


PIPE_WIDTH = 110
"""Columns when output goes to a pipe (Colab's `!envfix` output area is that wide)."""


def display_path(path: Path) -> str:
    """A path relative to the current folder when it is inside it, else as it is."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def make_console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console
