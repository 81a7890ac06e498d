"""The patch stage: apply the recipes to the repo's code and notebooks, on a branch.

Patches are commits on `envfix/patched`, one per recipe with its id in the message, so
`git diff` shows what changed and `git revert` undoes one. A dirty work tree is refused and
the user's uncommitted work is never touched; applying twice changes nothing. Notebooks are
patched cell by cell, keeping outputs, metadata and cell ids.
"""

from __future__ import annotations

import difflib
import json
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
from packaging.requirements import InvalidRequirement, Requirement

from envfix.errors import BadInputError
from envfix.model import Finding, Location, Patch, PatchResult
from envfix.recipes.engine import Recipe, apply_to_notebook, apply_to_source
from envfix.scanner.inventory import GENERATED_FILES, walk_repo
from envfix.workspace import SAFE_GIT_ENV, STATE_DIR, Workspace, open_repo

BRANCH = "envfix/patched"
AUTHOR = git.Actor("envfix", "envfix@localhost")
NOTEBOOK_SETUP = "notebook-setup"
NOT_PATCHED = "not-patched"
REVIEW = "check-this"


class DirtyWorkTreeError(BadInputError):
    """The repo has uncommitted changes: envfix will not mix its patches with them."""


@dataclass(frozen=True)
class NotebookInstalls:
    """What `!pip install` and `!git clone` lines in notebooks must give way to."""

    versions: Mapping[str, str]
    """Distribution -> the version the runtime will have once the lock is installed."""
    repo_urls: tuple[str, ...] = ()
    """URLs of this repository, whose `!git clone` in a notebook is not needed."""
    repo_name: str = ""
    requirements_file: str = "requirements.envfix.txt"


@dataclass
class _Files:
    """The repo's code files as text, changed in memory recipe by recipe."""

    root: Path
    texts: dict[str, str]

    @classmethod
    def read(cls, root: Path, relpaths: Iterable[str]) -> _Files:
        texts = {}
        for rel in relpaths:
            try:
                # newline="": a file's CRLF line endings stay, so a diff shows only the fix.
                with (root / rel).open(encoding="utf-8", newline="") as handle:
                    texts[rel] = handle.read()
            except (OSError, UnicodeDecodeError):
                continue
        return cls(root, texts)


def patch_workspace(
    workspace: Workspace,
    recipes: Iterable[Recipe],
    installs: NotebookInstalls | None = None,
    *,
    unreadable: Iterable[str] = (),
    dry_run: bool = False,
    allow_untracked: bool = False,
) -> PatchResult:
    """Apply `recipes` (already chosen for the target) to the workspace's code.

    `unreadable` are the files the scan could not parse (Python 2, syntax errors): they are
    reported as not patched. `allow_untracked` lets new files that are not committed stay
    (what a run of the notebook wrote: checkpoints, logs), since no patch touches them.
    """
    repo = _repo(workspace)
    _refuse_dirty(repo, allow_untracked)
    base = repo.head.commit.hexsha if repo.head.is_valid() else None
    if not dry_run:
        _checkout_branch(repo)
    code = [rel for rel in walk_repo(workspace.path) if rel.endswith((".py", ".ipynb"))]
    files = _Files.read(workspace.path, code)
    original = dict(files.texts)
    patches: list[Patch] = []
    findings: list[Finding] = []
    steps: list[tuple[str, str, Step, Recipe | None]] = [
        (r.id, r.title, recipe_step(r), r) for r in recipes
    ]
    if installs is not None:
        steps.append(
            (
                NOTEBOOK_SETUP,
                "notebook lines that would undo the lock or no longer work in Colab",
                _installs_step(installs),
                None,
            )
        )
    after_step = rewrite_files(original, [step for _, _, step, _ in steps])
    for index, (step_id, title, _, recipe) in enumerate(steps):
        changed_texts = after_step.get(index)
        if not changed_texts:
            continue
        files.texts.update(changed_texts)
        changed = list(changed_texts)
        count = len(changed)
        commit = None if dry_run else _commit(repo, workspace, files, changed, step_id, title)
        patches.append(
            Patch(
                recipe=step_id,
                title=title,
                files=tuple(changed),
                changes=count,
                review=recipe.review if recipe else False,
                requires=recipe.requires if recipe else (),
                commit=commit,
                note=recipe.note if recipe else "",
            )
        )
        if recipe is not None and recipe.review:
            findings.append(
                Finding(REVIEW, f"{recipe.id}: {recipe.note or recipe.title}", Location(changed[0]))
            )
    findings.extend(
        Finding(NOT_PATCHED, "not patched: it does not parse as Python 3", Location(rel), "info")
        for rel in sorted(set(unreadable))
        if rel.endswith(".py")
    )
    diff = _diff(original, files.texts) if dry_run else _git_diff(repo, base)
    return PatchResult(BRANCH, base, tuple(patches), tuple(findings), diff, dry_run)


def commit_generated(workspace: Workspace, message: str) -> str | None:
    """Commit envfix's own output files (the pinned requirements) on the patch branch."""
    repo = _repo(workspace)
    paths = [
        str((workspace.path / name).relative_to(workspace.root))
        for name in GENERATED_FILES
        if (workspace.path / name).exists()
    ]
    if not paths or not _on_branch(repo):
        return None
    repo.git.add("--", *paths)
    if not repo.index.diff("HEAD"):
        return None
    return _commit_index(repo, message)


def _repo(workspace: Workspace) -> git.Repo:
    try:
        return open_repo(workspace.root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise BadInputError(
            f"{workspace.root} is not a git repository: patches are made as commits",
            hint=f"let envfix make one: envfix clone {workspace.root} <new folder>",
        ) from exc


def _refuse_dirty(repo: git.Repo, allow_untracked: bool = False) -> None:
    untracked = "--untracked-files=" + ("no" if allow_untracked else "all")
    status = repo.git.status("--porcelain", untracked)
    dirty = []
    for line in status.splitlines():
        path = line[3:].strip().strip('"')
        name = path.rsplit("/", 1)[-1]
        if path.startswith(f"{STATE_DIR}/") or name in GENERATED_FILES:
            continue
        dirty.append(path)
    if dirty:
        shown = ", ".join(dirty[:3]) + (f" and {len(dirty) - 3} more" if len(dirty) > 3 else "")
        raise DirtyWorkTreeError(
            f"the work tree has uncommitted changes ({shown}); envfix will not patch over them",
            hint="commit or stash them first (git stash), then run envfix again",
        )


def _on_branch(repo: git.Repo) -> bool:
    return not repo.head.is_detached and repo.active_branch.name == BRANCH


def _checkout_branch(repo: git.Repo) -> None:
    if _on_branch(repo):
        return
    if BRANCH in [h.name for h in repo.heads]:
        repo.git.checkout(BRANCH)
    else:
        repo.git.checkout("-b", BRANCH)


def _commit(
    repo: git.Repo, workspace: Workspace, files: _Files, changed: list[str], step: str, title: str
) -> str:
    for rel in changed:
        with (files.root / rel).open("w", encoding="utf-8", newline="") as handle:
            handle.write(files.texts[rel])
    paths = [str((files.root / rel).relative_to(workspace.root)) for rel in changed]
    repo.git.add("--", *paths)
    return _commit_index(repo, f"envfix: {step}: {title}")


def _commit_index(repo: git.Repo, message: str) -> str:
    commit = repo.index.commit(message, author=AUTHOR, committer=AUTHOR, skip_hooks=True)
    return commit.hexsha


def _git_diff(repo: git.Repo, base: str | None) -> str:
    if base is None:
        return ""
    with repo.git.custom_environment(**SAFE_GIT_ENV):
        return str(repo.git.diff(base, "HEAD"))


def _diff(before: Mapping[str, str], after: Mapping[str, str]) -> str:
    chunks: list[str] = []
    for rel in sorted(after):
        if before.get(rel) != after[rel]:
            chunks.extend(
                difflib.unified_diff(
                    before.get(rel, "").splitlines(keepends=True),
                    after[rel].splitlines(keepends=True),
                    fromfile=f"a/{rel}",
                    tofile=f"b/{rel}",
                )
            )
    return "".join(chunks)


# --- steps: how one recipe (or the install-line fix) changes one file ---------------------

Step = Callable[[str, list[str]], list[str]]
"""One step on one file: its relative path and its code (a .py file's text, or a notebook's
code cells' sources) -> the code after the step."""


def rewrite_files(texts: Mapping[str, str], steps: Sequence[Step]) -> dict[int, dict[str, str]]:
    """Each file through every step in turn: for each step (by index), the files it changed
    and their text just after it, so that each step can be one commit. A file is read once
    (a notebook's JSON loaded once) and its code handed from step to step; the recipes'
    engine reuses its parse and name resolution while no step changes it."""
    after_step: dict[int, dict[str, str]] = {}
    for rel, text in texts.items():
        loaded = _code_of(rel, text)
        if loaded is None:
            continue
        code, write = loaded
        for index, step in enumerate(steps):
            new = step(rel, code)
            if new != code:
                code = new
                after_step.setdefault(index, {})[rel] = write(code)
    return after_step


def recipe_step(recipe: Recipe) -> Step:
    def step(rel: str, code: list[str]) -> list[str]:
        if rel.endswith(".ipynb"):
            return apply_to_notebook(recipe, code)[0]
        return [apply_to_source(recipe, code[0])[0]]

    return step


def _code_of(rel: str, text: str) -> tuple[list[str], Callable[[list[str]], str]] | None:
    """A file's code and how to write it back: a .py file is its text; a notebook is its
    code cells' sources, written back with outputs, metadata and ids untouched and the JSON
    as the file had it (indent, key order). None for a notebook that is not one."""
    if not rel.endswith(".ipynb"):
        return [text], lambda code: code[0]
    try:
        doc = json.loads(text)
        cells = [c for c in doc["cells"] if isinstance(c, dict) and c.get("cell_type") == "code"]
    except (ValueError, KeyError, TypeError):
        return None
    sources = [_cell_text(c) for c in cells]
    originals = [c.get("source", "") for c in cells]

    def write(code: list[str]) -> str:
        for cell, source, original, new in zip(cells, sources, originals, code, strict=True):
            if new == source:
                cell["source"] = original
            else:
                cell["source"] = (
                    new.splitlines(keepends=True) if isinstance(original, list) else new
                )
        return _dump_like(text, doc)

    return sources, write


def _cell_text(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _dump_like(original: str, doc: Any) -> str:
    lines = original.split("\n", 2)
    indent = len(lines[1]) - len(lines[1].lstrip(" ")) if len(lines) > 1 else 1
    text = json.dumps(doc, indent=indent or 1, ensure_ascii=False)
    return text + "\n" if original.endswith("\n") else text


_PIP_LINE = re.compile(r"^(\s*)[!%]\s*(?:python[\d.]*\s+-m\s+)?pip[\d.]*\s+install\b(.*)$")
_CLONE_LINE = re.compile(
    r"^(\s*)!\s*git\s+clone\s+(?:\S+\s+)*?(\S+\.git|https?://\S+)(?:\s+(\S+))?\s*$"
)
_CD_LINE = re.compile(r"^(\s*)%cd\s+(\S+)\s*$")
# Colab removed `%tensorflow_version` in 2023: only TensorFlow 2 is installed.
_TF_VERSION_LINE = re.compile(r"^(\s*)%tensorflow_version\b")


def _installs_step(installs: NotebookInstalls) -> Step:
    def step(rel: str, code: list[str]) -> list[str]:
        if not rel.endswith(".ipynb"):
            return code
        # The notebook runs in its own folder: the repo's root is this far up from it.
        root = posixpath.relpath(".", posixpath.dirname(rel) or ".")
        return [_fix_install_lines(cell, installs, root) for cell in code]

    return step


def _fix_install_lines(cell: str, installs: NotebookInstalls, root: str = ".") -> str:
    lines = cell.split("\n")
    out = []
    cloned_dirs: set[str] = set()
    for line in lines:
        if cloned_dirs and line.lstrip().startswith("!"):
            # After its clone is commented out, `!pip install ./repo` and `repo/data/...`
            # mean the checkout the notebook already runs in.
            line = _into_checkout(line, cloned_dirs, root)
        pip = _PIP_LINE.match(line)
        clone = _CLONE_LINE.match(line)
        cd = _CD_LINE.match(line)
        tf_version = _TF_VERSION_LINE.match(line)
        if tf_version:
            out.append(
                f"{tf_version[1]}# envfix: Colab no longer has %tensorflow_version"
                f" (TensorFlow 2 only): {line.strip()}"
            )
        elif pip and _undoes_lock(pip[2], installs):
            out.append(
                f"{pip[1]}# envfix: it would undo {installs.requirements_file}: {line.strip()}"
            )
            if re.search(r"(?:^|\s)-r\s+\S*requirements\S*", pip[2]):
                out.append(f"{pip[1]}%pip install -r {installs.requirements_file}")
        elif clone and _same_repo(clone[2], installs):
            out.append(
                f"{clone[1]}# envfix: this notebook already runs in the clone: {line.strip()}"
            )
            cloned_dirs.add(
                clone[3] or clone[2].rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
            )
        elif cd and cd[2].strip("'\"").rstrip("/").rsplit("/", 1)[-1] in cloned_dirs | {
            installs.repo_name
        }:
            out.append(f"{cd[1]}# envfix: already in the clone: {line.strip()}")
        else:
            out.append(line)
    return "\n".join(out)


def _into_checkout(line: str, cloned_dirs: set[str], root: str) -> str:
    names = "|".join(re.escape(name) for name in sorted(cloned_dirs, key=len, reverse=True))
    pip = _PIP_LINE.match(line)
    own = (
        re.fullmatch(rf"\s*(?:-e\s+)?(?:\./)?(?:{names})/?(?P<extras>\[[^\]]*\])?\s*", pip[2])
        if pip
        else None
    )
    if pip and own:
        target = "." if root == "." else root
        return f"{pip[1]}%pip install -e {target}{own['extras'] or ''}"
    prefix = "" if root == "." else f"{root}/"
    return re.sub(rf"(?<![\w./-])(?:\./)?(?:{names})/", prefix or "./", line)


def _undoes_lock(arguments: str, installs: NotebookInstalls) -> bool:
    """Whether a pip command pins a version other than the one the lock settles on, or
    installs a requirements file of the repo (old pins) instead of the lock."""
    try:
        words = shlex.split(arguments, comments=True)
    except ValueError:
        return False
    for flag, value in zip(words, [*words[1:], ""], strict=True):
        if flag in ("-r", "--requirement") and not value.endswith(installs.requirements_file):
            return True
    for word in words:
        if word.startswith("-"):
            continue
        try:
            req = Requirement(word)
        except InvalidRequirement:
            continue
        wanted = installs.versions.get(req.name.lower().replace("_", "-"))
        if req.specifier and wanted and not req.specifier.contains(wanted, prereleases=True):
            return True
    return False


def _same_repo(url: str, installs: NotebookInstalls) -> bool:
    def key(u: str) -> str:
        return re.sub(r"(\.git)?/?$", "", u.split("://", 1)[-1].lower())

    return any(key(url) == key(own) for own in installs.repo_urls)
