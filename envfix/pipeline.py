"""The pipeline, in one place: clone -> scan (-> lock -> patch -> run -> report).

Each public function here is one command of the CLI and one function of the library API.
They return values and raise `envfix.errors` exceptions; they never print or exit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from envfix import runtime as runtimes
from envfix import workspace as workspaces
from envfix.model import Inventory, Runtime
from envfix.runner import Runner, default_runner
from envfix.scanner.inventory import scan as scan_stage
from envfix.workspace import Workspace

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CloneResult:
    """Everything `envfix clone` found out, stage by stage."""

    workspace: Workspace
    runtime: Runtime
    inventory: Inventory


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


def clone(
    repo: str,
    dest: str | Path | None = None,
    *,
    ref: str | None = None,
    target: str | Runtime | None = None,
    shallow: bool = True,
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
    return CloneResult(workspace, runtime, inventory)
