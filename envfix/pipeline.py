"""The pipeline, in one place: clone -> scan -> lock -> patch -> install/run/repair.

Each public function here is one command of the CLI and one function of the library API.
They return values and raise `envfix.errors` exceptions; they never print or exit.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from envfix import install as installing
from envfix import runtime as runtimes
from envfix import serialize
from envfix import workspace as workspaces
from envfix._version import __version__
from envfix.errors import BadInputError, EnvfixError
from envfix.execute.choose import choose_entry
from envfix.execute.classify import EXPLANATIONS, classify
from envfix.execute.notebook import Limits, RawFailure, RawRun, run_notebook, run_script
from envfix.model import (
    DeclaredRequirement,
    Entry,
    Failure,
    FailureClass,
    InstallReport,
    Inventory,
    Location,
    Lock,
    PatchResult,
    Report,
    RunRecord,
    RunResult,
    Runtime,
)
from envfix.patch import DirtyWorkTreeError, NotebookInstalls, commit_generated, patch_workspace
from envfix.recipes.engine import applicable, catalogue
from envfix.recipes.engine import recipe as recipe_by_id
from envfix.repair import RepairSteps, repair_loop
from envfix.reporting.compose import REPORT_FILE, applied_patches, compose
from envfix.reporting.markdown import MARKER, to_markdown
from envfix.resolve import lock as locking
from envfix.resolve.backends import resolver_for
from envfix.resolve.dependents import dependents_for
from envfix.resolve.index import PYPI_SIMPLE, SimpleIndex
from envfix.resolve.plan import plan
from envfix.runner import Runner, default_runner
from envfix.scanner.imports import SYNTAX_ERROR
from envfix.scanner.inventory import scan as scan_stage
from envfix.scanner.names import NameResolver
from envfix.workspace import Workspace

Progress = Callable[[str], None]
RUN_RECORD = "run.json"
"""The last run's record in `.envfix/`: what `envfix report` reports on."""


@dataclass(frozen=True)
class StageError:
    """A stage that failed after the clone was made: the clone stays, and says why."""

    stage: str
    message: str
    hint: str | None
    exit_code: int


@dataclass(frozen=True)
class CloneResult:
    """Everything `envfix clone` found out, stage by stage."""

    workspace: Workspace
    runtime: Runtime
    inventory: Inventory
    lock: Lock | None = None
    patch: PatchResult | None = None
    run: RunResult | None = None
    report: Report | None = None
    error: StageError | None = None

    def _repr_markdown_(self) -> str:
        """In a notebook, the result shows as the report (or what was done, without a run)."""
        if self.report is not None:
            return to_markdown(self.report)
        lines = [f"### envfix: {self.workspace.path.name}", ""]
        if self.lock is not None:
            lines.append(f"- lock: {len(self.lock.installs)} changes on {self.runtime.name}")
        if self.patch is not None:
            lines.append(f"- patch: {len(self.patch.patches)} recipes applied")
        if self.error is not None:
            lines.append(f"- stopped at the {self.error.stage} stage: {self.error.message}")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class LockOptions:
    """How to resolve: which backend, which index, and whether the network may be used."""

    backend: str | None = None
    """`pip-tools` or `uv`; None chooses (pip-compile for the running interpreter)."""
    index_url: str | None = None
    """An index to use instead of PyPI and the pip/uv configuration (a mirror, or tests)."""
    offline: bool = False
    suggest: bool = True
    """Try the past Colab runtimes when the target needs large changes."""


@dataclass(frozen=True)
class RunOptions:
    """What to run and for how long."""

    notebook: str | None = None
    """A notebook or script to run instead of the one envfix would choose."""
    limits: Limits = field(default_factory=Limits)
    max_rounds: int = 6
    base_venv: Path | None = None
    """A virtual environment whose packages the run's own environment sees (a batch's
    shared base, seeded with the target profile's versions)."""


def load_runtime(target: str | None = None, *, runner: Runner = default_runner) -> Runtime:
    """The runtime a `--target` value names (None: live in Colab, else the newest Colab)."""
    return runtimes.resolve_target(target, runner)


def scan(
    path: str | Path = ".",
    *,
    target: str | Runtime | None = None,
    runner: Runner = default_runner,
) -> Inventory:
    """What the repo at `path` imports and declares, for the target runtime."""
    workspace = workspaces.open_folder(Path(path))
    runtime = target if isinstance(target, Runtime) else load_runtime(target, runner=runner)
    return scan_stage(workspace.path, runtime)


def lock(
    path: str | Path = ".",
    *,
    target: str | Runtime | None = None,
    options: LockOptions | None = None,
    progress: Progress | None = None,
    runner: Runner = default_runner,
) -> Lock:
    """Pins that install on the target runtime, changing as little of it as possible; writes
    `requirements.envfix.txt` in the repo."""
    workspace = workspaces.open_folder(Path(path))
    runtime = target if isinstance(target, Runtime) else load_runtime(target, runner=runner)
    say = progress or (lambda _message: None)
    say("scanning imports and requirements")
    inventory = scan_stage(workspace.path, runtime)
    return _lock_stage(workspace, runtime, inventory, options or LockOptions(), say, runner)


def _lock_stage(
    workspace: Workspace,
    runtime: Runtime,
    inventory: Inventory,
    options: LockOptions,
    say: Progress,
    runner: Runner,
) -> Lock:
    destination = workspace.path / locking.REQUIREMENTS_FILE
    _check_own_file(destination)
    resolver = resolver_for(runtime, runner, options.backend)
    needs, _ = plan(inventory, runtime)
    inputs = locking.LockInputs(
        needs, runtime, resolver.name, options.index_url, __version__, workspace.commit_date
    )
    digest = inputs.digest()
    stored = locking.stored_lock(workspace.state_dir, digest)
    if stored is not None and destination.exists():
        say("reusing the lock made before from the same inputs")
        return serialize.lock_from(stored["lock"], reused=True)
    index = SimpleIndex(options.index_url or PYPI_SIMPLE, offline=options.offline)
    say(f"resolving {len(needs)} needs for {runtime.name} with {resolver.name}")
    setup = locking.Resolution(
        index=index,
        resolver=resolver,
        dependents=dependents_for(runtime, runner),
        workdir=workspace.state_dir / "resolve",
        repo_date=workspace.commit_date,
        index_url=options.index_url,
        offline=options.offline or index.stale,
    )
    result = locking.lock_inventory(inventory, runtime, setup)
    if options.suggest and runtime.is_colab and not runtime.interpreter:
        result = replace(
            result, suggestion=_suggest(inventory, runtime, result, options, workspace, runner)
        )
    text = locking.requirements_text(result, runtime, __version__)
    destination.write_text(text, encoding="utf-8")
    result = replace(result, requirements_file=str(destination))
    locking.store_lock(workspace.state_dir, digest, {"lock": serialize.lock(result)})
    return result


def _check_own_file(path: Path) -> None:
    """Never overwrite a file of the user's that happens to have envfix's file name."""
    if path.exists() and not path.read_text(errors="replace").startswith("# Generated by envfix"):
        raise BadInputError(
            f"{path} exists and was not written by envfix",
            hint="rename or remove it; envfix writes its pins to that file",
        )


def _suggest(
    inventory: Inventory,
    runtime: Runtime,
    result: Lock,
    options: LockOptions,
    workspace: Workspace,
    runner: Runner,
) -> str | None:
    """A past Colab runtime that needs fewer changes, when the target needs large ones."""
    index = SimpleIndex(options.index_url or PYPI_SIMPLE, offline=options.offline)

    def lock_for(other: Runtime) -> Lock:
        setup = locking.Resolution(
            index=index,
            resolver=resolver_for(other, runner, "uv"),
            dependents=dependents_for(other, runner),
            workdir=workspace.state_dir / "suggest" / other.name,
            repo_date=workspace.commit_date,
            index_url=options.index_url,
            offline=options.offline,
        )
        return locking.lock_inventory(inventory, other, setup)

    return locking.suggest_runtime(result, runtime, _past_runtimes(runtime), lock_for)


def _past_runtimes(runtime: Runtime) -> list[Runtime]:
    """The newest bundled profile of each other Python version, of the same CPU/GPU kind:
    what a past runtime could offer is mostly another Python."""
    chosen: dict[str, Runtime] = {}
    for name in runtimes.profile_names():
        other = runtimes.load_profile(name)
        if other.accelerator == runtime.accelerator and other.python_minor != runtime.python_minor:
            chosen.setdefault(other.python_minor, other)
    return list(chosen.values())


def clone(
    repo: str,
    dest: str | Path | None = None,
    *,
    ref: str | None = None,
    target: str | Runtime | None = None,
    shallow: bool = True,
    lock_options: LockOptions | None = None,
    run: RunOptions | None = None,
    progress: Progress | None = None,
    runner: Runner = default_runner,
) -> CloneResult:
    """Clone `repo` (URL, owner/name, browser URL or local folder) and run every stage on it:
    scan, lock, patch, then install, run and repair (`run=None` stops after the patch)."""
    say = progress or (lambda _message: None)
    source = workspaces.parse_source(repo, ref)
    # The target is checked before anything is cloned, so a typo costs nothing.
    if run is not None:
        check_can_run(target, runner)  # the runtime itself may be a venv not made yet
    else:
        runtime = target if isinstance(target, Runtime) else load_runtime(target, runner=runner)
    workspace = workspaces.clone(
        source, Path(dest) if dest is not None else None, shallow=shallow, progress=say
    )
    environment = ""
    if run is not None:
        try:
            runtime, environment = execution_runtime(target, workspace, say, runner, run.base_venv)
        except EnvfixError as exc:
            runtime = load_runtime(None, runner=runner)
            error = StageError("install", exc.message, exc.hint, exc.exit_code)
            inventory = scan_stage(workspace.path, runtime)
            return CloneResult(workspace, runtime, inventory, error=error)
    say("scanning imports and requirements")
    inventory = scan_stage(workspace.path, runtime)
    options = lock_options or LockOptions()
    stage = "lock"
    locked: Lock | None = None
    patched: PatchResult | None = None
    try:
        locked = _lock_stage(workspace, runtime, inventory, options, say, runner)
        stage = "patch"
        patched, locked = _patch_stage(
            workspace, runtime, inventory, locked, options, False, say, runner
        )
        if run is None:
            return CloneResult(workspace, runtime, inventory, lock=locked, patch=patched)
        stage = "run"
        requested = run.notebook or (
            str(workspace.root / workspace.notebook) if workspace.notebook else None
        )
        entry = choose_entry(workspace.path, requested)
        result = _run_stage(
            workspace, runtime, environment, inventory, locked, entry, run, options, say, runner
        )
        stage = "report"
        say("writing the report")
        written = _report_stage(workspace)
    except EnvfixError as exc:
        error = StageError(stage, exc.message, exc.hint, exc.exit_code)
        return CloneResult(workspace, runtime, inventory, locked, patched, error=error)
    return CloneResult(workspace, runtime, inventory, locked, patched, run=result, report=written)


def patch(
    path: str | Path = ".",
    *,
    target: str | Runtime | None = None,
    options: LockOptions | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    runner: Runner = default_runner,
) -> PatchResult:
    """Apply the recipes for the target's library versions (after the lock) to the repo, as
    commits on the branch `envfix/patched`; with `dry_run`, only say what would change."""
    workspace = workspaces.open_folder(Path(path))
    runtime = target if isinstance(target, Runtime) else load_runtime(target, runner=runner)
    say = progress or (lambda _message: None)
    inventory = scan_stage(workspace.path, runtime)
    options = options or LockOptions()
    locked = _lock_stage(workspace, runtime, inventory, options, say, runner)
    result, _ = _patch_stage(workspace, runtime, inventory, locked, options, dry_run, say, runner)
    return result


def _patch_stage(
    workspace: Workspace,
    runtime: Runtime,
    inventory: Inventory,
    locked: Lock,
    options: LockOptions,
    dry_run: bool,
    say: Progress,
    runner: Runner,
) -> tuple[PatchResult, Lock]:
    versions = locking.planned_versions(runtime, locked)
    recipes = applicable(catalogue(), versions, runtime.python_version)
    say(f"applying {len(recipes)} recipes that fit {runtime.name}")
    installs = NotebookInstalls(
        versions, repo_urls=workspaces.source_urls(workspace), repo_name=workspace.root.name
    )
    unreadable = (
        *inventory.python2_files,
        *(f.location.path for f in inventory.findings if f.code == SYNTAX_ERROR and f.location),
    )
    result = patch_workspace(workspace, recipes, installs, unreadable=unreadable, dry_run=dry_run)
    if dry_run:
        return result, locked
    missing = [r for r in result.requires if canonicalize_name(r) not in versions]
    if missing:
        # Requirements the patches bring in (joblib, imageio) go through the lock too.
        say(f"locking again for {', '.join(missing)}, which the patches need")
        extra = tuple(
            DeclaredRequirement(
                name=canonicalize_name(name),
                location=Location(f"recipes/{_recipe_of(result, name)}"),
                source="recipe",
                original=name,
            )
            for name in missing
        )
        inventory = replace(inventory, requirements=inventory.requirements + extra)
        locked = _lock_stage(workspace, runtime, inventory, options, say, runner)
    commit_generated(workspace, f"envfix: pinned requirements for {runtime.name}")
    return result, locked


def _recipe_of(result: PatchResult, requirement: str) -> str:
    return next(p.recipe for p in result.patches if requirement in p.requires)


# --- install, run and repair --------------------------------------------------------------


def check_can_run(target: str | Runtime | None, runner: Runner = default_runner) -> None:
    """Refuse, before any work, a target that cannot execute code here: a bundled Colab
    profile or a freeze file describes a machine, and outside Colab that machine is not
    this one."""
    if isinstance(target, Runtime):
        runtime = target
    elif target is None or target == runtimes.LIVE:
        return
    else:
        runtime = load_runtime(target, runner=runner)
    if runtime.interpreter is None and not runtimes.in_colab():
        raise BadInputError(
            f"cannot run code on '{runtime.name}' from here: it describes another machine",
            hint="add --no-run to only lock and patch for it, or drop --target to run in"
            " a virtual environment under the clone",
        )


def execution_runtime(
    target: str | Runtime | None,
    workspace: Workspace,
    say: Progress,
    runner: Runner,
    base_venv: Path | None = None,
) -> tuple[Runtime, str]:
    """The runtime code runs in, and how the summary names it. In Colab that is the live
    runtime; elsewhere, unless `--target` names one, a virtual environment under the clone,
    so the user's own Python is never changed."""
    check_can_run(target, runner)
    if isinstance(target, Runtime) and target.interpreter:
        return target, f"the interpreter {target.interpreter}"
    if target == runtimes.LIVE or (target is None and runtimes.in_colab()):
        live = runtimes.detect_live()
        where = "the Colab runtime" if live.is_colab else "this Python"
        return live, f"{where} ({live.interpreter})"
    if target is None:
        say("making a virtual environment in .envfix/venv")
        python = installing.ensure_venv(workspace.state_dir, runner, base_venv=base_venv)
        runtime = runtimes.inspect_interpreter(python, runner)
        where = f"the virtual environment .envfix/venv (Python {runtime.python_version}, not Colab)"
        if base_venv is not None:
            where = where.removesuffix(")") + f", over the shared base {base_venv.name})"
        return runtime, where
    runtime = load_runtime(str(target), runner=runner)
    return runtime, f"the interpreter {runtime.interpreter}"


def run(
    path: str | Path = ".",
    *,
    target: str | Runtime | None = None,
    options: RunOptions | None = None,
    lock_options: LockOptions | None = None,
    progress: Progress | None = None,
    runner: Runner = default_runner,
) -> RunResult:
    """Install the lock into the target, run the baseline notebook (or script), and repair
    what the errors say, for a bounded number of rounds."""
    workspace = workspaces.open_folder(Path(path))
    say = progress or (lambda _message: None)
    options = options or RunOptions()
    entry = choose_entry(workspace.path, options.notebook)
    runtime, environment = execution_runtime(target, workspace, say, runner, options.base_venv)
    say("scanning imports and requirements")
    inventory = scan_stage(workspace.path, runtime)
    lock_options = lock_options or LockOptions(suggest=False)
    locked = _lock_stage(workspace, runtime, inventory, lock_options, say, runner)
    return _run_stage(
        workspace,
        runtime,
        environment,
        inventory,
        locked,
        entry,
        options,
        lock_options,
        say,
        runner,
    )


def _run_stage(
    workspace: Workspace,
    runtime: Runtime,
    environment: str,
    inventory: Inventory,
    locked: Lock,
    entry: Entry,
    options: RunOptions,
    lock_options: LockOptions,
    say: Progress,
    runner: Runner,
) -> RunResult:
    if runtime.interpreter is None:
        raise BadInputError(f"cannot run code on '{runtime.name}' from here")
    loop = _RepairSession(
        workspace, runtime, inventory, locked, entry, options, lock_options, say, runner
    )
    steps = RepairSteps(
        loop.install,
        loop.execute,
        loop.diagnose,
        loop.add_requirement,
        loop.apply_recipe,
        loop.relax_pin,
    )
    rounds = repair_loop(steps, options.max_rounds, say)
    result = RunResult(environment, runtime.interpreter, entry, rounds)
    _record_rounds(workspace, result)
    if any("requirement" in a or "pin" in a for r in rounds for a in r.actions):
        commit_generated(workspace, "envfix: pinned requirements after the run's repairs")
    commit, patches = applied_patches(workspace)
    record = RunRecord(result, runtime, loop.lock, workspace.source, commit, patches)
    (workspace.state_dir / RUN_RECORD).write_text(
        json.dumps(serialize.run_record(record), indent=1), encoding="utf-8"
    )
    return result


@dataclass
class _RepairSession:
    """The state one run-and-repair carries between rounds: the inventory grows by the
    modules a run found missing, and the lock is installed again only when it changed."""

    workspace: Workspace
    runtime: Runtime
    inventory: Inventory
    lock: Lock
    entry: Entry
    options: RunOptions
    lock_options: LockOptions
    say: Progress
    runner: Runner
    installed: str | None = None
    relaxed: set[str] = field(default_factory=set)

    @property
    def python(self) -> str:
        assert self.runtime.interpreter is not None
        return self.runtime.interpreter

    def install(self) -> InstallReport | None:
        requirements = self.workspace.path / locking.REQUIREMENTS_FILE
        text = requirements.read_text(encoding="utf-8") if requirements.exists() else ""
        if text == self.installed:
            return None
        self.say(f"installing {locking.REQUIREMENTS_FILE}")
        report = installing.install(
            self.python,
            requirements,
            self.runner,
            index_url=self.lock_options.index_url,
            offline=self.lock_options.offline,
        )
        self.installed = text
        return report

    def execute(self) -> RawRun:
        root, state = self.workspace.path, self.workspace.state_dir
        limits = self.options.limits
        if self.entry.kind == "notebook":
            return run_notebook(root, self.entry, self.python, state, limits, self.say)
        return run_script(root, self.entry, self.python, state, limits, self.runner, self.say)

    def diagnose(self, raw: RawFailure) -> Failure:
        if raw.kind == "timeout" or raw.kind == "kernel-died":
            kind: FailureClass = "timeout" if raw.kind == "timeout" else "kernel-died"
            return Failure(
                kind,
                raw.ename,
                raw.evalue,
                raw.traceback,
                raw.location,
                explanation=EXPLANATIONS[kind],
            )
        found = classify(
            raw.ename,
            raw.evalue,
            raw.traceback,
            local_modules=self.inventory.local_modules,
            recipe_errors=_recipe_errors(),
        )
        return Failure(
            found.kind,
            raw.ename,
            raw.evalue,
            raw.traceback,
            raw.location,
            module=found.module,
            recipe=found.recipe,
            package=found.package,
            explanation=EXPLANATIONS[found.kind],
            suspects=found.suspects,
        )

    def add_requirement(self, module: str, why: str) -> str | None:
        if module.partition(".")[0] in self.inventory.local_modules:
            return None
        name = canonicalize_name(NameResolver(self.runtime).resolve(module).name)
        if any(r.name == name and r.source == "run" for r in self.inventory.requirements):
            return None
        extra = DeclaredRequirement(
            name=name, location=Location(self.entry.path), source="run", original=name
        )
        self.inventory = replace(self.inventory, requirements=(*self.inventory.requirements, extra))
        self._relock()
        return name

    def relax_pin(self, modules: Sequence[str], why: str) -> str | None:
        """An old pin the error points at (a library the traceback goes through, or one the
        failing line uses), moved past the installed version to the newest that installs."""
        resolver = NameResolver(self.runtime)
        for module in modules:
            name = canonicalize_name(resolver.resolve(module).name)
            declared = [r for r in self.inventory.requirements if r.name == name]
            if name in self.relaxed or not any(_caps(r.specifier) for r in declared):
                continue
            self.relaxed.add(name)
            current = next(
                (c.new for c in self.lock.changes if c.name == name),
                self.runtime.version_of(name),
            )
            newer = DeclaredRequirement(
                name=name,
                location=Location(self.entry.path),
                source="run",
                specifier=f">{current}" if current else "",
                original=f"{name}>{current}" if current else name,
            )
            kept = tuple(r for r in self.inventory.requirements if r.name != name)
            self.inventory = replace(self.inventory, requirements=(*kept, newer))
            self._relock()
            return f"{name}=={current}" if current else name
        return None

    def _relock(self) -> None:
        # Against the runtime as it was before envfix installed anything: the pinned file
        # says what to install on a fresh target, not what this round adds.
        self.lock = _lock_stage(
            self.workspace, self.runtime, self.inventory, self.lock_options, self.say, self.runner
        )

    def apply_recipe(self, recipe_id: str) -> bool:
        try:
            result = patch_workspace(
                self.workspace, [recipe_by_id(recipe_id)], None, allow_untracked=True
            )
        except DirtyWorkTreeError:
            return False  # the run changed tracked files: never patch over them
        return bool(result.patches)


def _caps(specifier: str) -> bool:
    """Does a declared specifier hold the version back (`==1.2`, `<2`, `~=1.4`)?"""
    try:
        specs = SpecifierSet(specifier)
    except InvalidSpecifier:
        return False
    return any(s.operator in ("==", "===", "<", "<=", "~=") for s in specs)


@functools.cache
def _recipe_errors() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((r.id, re.compile(r.error)) for r in catalogue() if r.error)


def report(path: str | Path = ".", *, names: Sequence[str] = ()) -> Report:
    """The report of the last run in `path`: written to `ENVFIX_REPORT.md` beside the code
    (envfix's own file, kept out of `git status`) and returned. `names` are words to redact
    besides the ones envfix finds itself (the login name, git's user.name and user.email)."""
    workspace = workspaces.open_folder(Path(path))
    return _report_stage(workspace, names)


def _report_stage(workspace: Workspace, names: Sequence[str] = ()) -> Report:
    stored = workspace.state_dir / RUN_RECORD
    if not stored.is_file():
        raise BadInputError(
            f"no run of {workspace.path} is recorded yet, so there is nothing to report",
            hint=f"run the code first: envfix run {workspace.path}",
        )
    try:
        record = serialize.run_record_from(json.loads(stored.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInputError(
            f"{stored} is not a run record this envfix can read ({exc})",
            hint=f"run the code again: envfix run {workspace.path}",
        ) from exc
    destination = workspace.path / REPORT_FILE
    if destination.exists() and not destination.read_text(errors="replace").startswith(MARKER):
        raise BadInputError(
            f"{destination} exists and was not written by envfix",
            hint="rename or remove it; envfix writes its report to that file",
        )
    result = compose(record, workspace.path, names=(*names, *_own_names(workspace)))
    destination.write_text(to_markdown(result), encoding="utf-8")
    workspaces.exclude_own_file(workspace, REPORT_FILE)
    return result


def _own_names(workspace: Workspace) -> list[str]:
    """The user's name and e-mail as git knows them: they appear in paths and logs."""
    try:
        reader = workspaces.open_repo(workspace.root).config_reader()
    except Exception:
        return []
    found = []
    for key in ("name", "email"):
        try:
            found.append(str(reader.get_value("user", key)))
        except Exception:
            continue
    return found


def _record_rounds(workspace: Workspace, result: RunResult) -> None:
    folder = workspace.state_dir / "rounds"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("round-*.json"):
        old.unlink()
    for one in result.rounds:
        (folder / f"round-{one.number}.json").write_text(
            json.dumps(serialize.round_record(one), indent=2), encoding="utf-8"
        )
