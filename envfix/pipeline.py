"""The pipeline, in one place: clone -> scan -> lock -> patch (-> run -> report).

Each public function here is one command of the CLI and one function of the library API.
They return values and raise `envfix.errors` exceptions; they never print or exit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import canonicalize_name

from envfix import runtime as runtimes
from envfix import serialize
from envfix import workspace as workspaces
from envfix._version import __version__
from envfix.errors import BadInputError, EnvfixError
from envfix.model import DeclaredRequirement, Inventory, Location, Lock, PatchResult, Runtime
from envfix.patch import NotebookInstalls, commit_generated, patch_workspace
from envfix.recipes.engine import applicable, catalogue
from envfix.resolve import lock as locking
from envfix.resolve.backends import resolver_for
from envfix.resolve.dependents import dependents_for
from envfix.resolve.index import PYPI_SIMPLE, SimpleIndex
from envfix.resolve.plan import plan
from envfix.runner import Runner, default_runner
from envfix.scanner.imports import SYNTAX_ERROR
from envfix.scanner.inventory import scan as scan_stage
from envfix.workspace import Workspace

Progress = Callable[[str], None]


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
    error: StageError | None = None


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
    progress: Progress | None = None,
    runner: Runner = default_runner,
) -> CloneResult:
    """Clone `repo` (URL, owner/name, browser URL or local folder) and run every stage on it."""
    say = progress or (lambda _message: None)
    source = workspaces.parse_source(repo, ref)
    # The target is checked before anything is cloned, so a typo costs nothing.
    runtime = target if isinstance(target, Runtime) else load_runtime(target, runner=runner)
    workspace = workspaces.clone(
        source, Path(dest) if dest is not None else None, shallow=shallow, progress=say
    )
    say("scanning imports and requirements")
    inventory = scan_stage(workspace.path, runtime)
    options = lock_options or LockOptions()
    stage = "lock"
    try:
        locked = _lock_stage(workspace, runtime, inventory, options, say, runner)
        stage = "patch"
        patched, locked = _patch_stage(
            workspace, runtime, inventory, locked, options, False, say, runner
        )
    except EnvfixError as exc:
        error = StageError(stage, exc.message, exc.hint, exc.exit_code)
        lock_done = locked if stage == "patch" else None
        return CloneResult(workspace, runtime, inventory, lock=lock_done, error=error)
    return CloneResult(workspace, runtime, inventory, lock=locked, patch=patched)


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


def planned_versions(runtime: Runtime, lock: Lock) -> dict[str, str]:
    """Each distribution's version once the lock is installed on the runtime."""
    versions = {d.name: d.version for d in runtime.distributions if d.version}
    versions.update({c.name: c.new for c in lock.installs})
    return versions


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
    versions = planned_versions(runtime, locked)
    recipes = applicable(catalogue(), versions, runtime.python_version)
    say(f"applying {len(recipes)} recipes that fit {runtime.name}")
    installs = NotebookInstalls(
        versions, repo_urls=(workspace.source,), repo_name=workspace.root.name
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
