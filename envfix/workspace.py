"""Getting the code: parse what the user named, clone it safely, or open a folder.

Safety rules, all enforced here: no URL or ref that could pass options to git, only the
https/http/ssh/git/file transports, never a repo's hooks, never a prompt for credentials,
shallow clones by default, and never a half-made or overwritten destination.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

import git

from envfix.errors import (
    BadInputError,
    DestinationError,
    EnvironmentProblemError,
    NetworkError,
    RepoNotFoundError,
    UnsafeSourceError,
)

STATE_DIR = ".envfix"
SAFE_SCHEMES = ("https", "http", "ssh", "git", "file")
_SHORTHAND = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
_SCP_LIKE = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>[^:]+)$")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_SHORT_SHA = re.compile(r"^[0-9a-f]{7,39}$")
_TREE_MARKERS = ("tree", "blob")
_IMPORT_AUTHOR = git.Actor("envfix", "envfix@localhost")

# Git reads these for every command envfix runs: no hooks, no prompts, only safe transports.
SAFE_GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "true",
    "SSH_ASKPASS": "true",
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
    "GIT_ALLOW_PROTOCOL": "https:http:ssh:git:file",
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "core.hooksPath",
    "GIT_CONFIG_VALUE_0": os.devnull,
    "GIT_LFS_SKIP_SMUDGE": "1",
}

SourceKind = Literal["remote", "local-git", "local-dir"]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class RepoSource:
    """A repository as the user named it, taken apart."""

    kind: SourceKind
    url: str
    """What git clones (an https/ssh/file URL), or the absolute path of a local folder."""
    ref: str | None = None
    subdir: str | None = None
    """A folder inside the repo, from a browser URL such as `.../tree/main/code`."""
    notebook: str | None = None
    """A notebook path, from a browser URL such as `.../blob/main/demo.ipynb`."""
    tree_path: tuple[str, ...] = ()
    """Path segments after `/tree/` or `/blob/` whose split into ref and folder is still open
    (a branch name may contain slashes); settled against the remote's refs when cloning."""

    @property
    def name(self) -> str:
        """The folder name a clone gets by default, as `git clone` would choose it."""
        tail = self.url.rstrip("/").rpartition("/")[2].rpartition(":")[2]
        return tail.removesuffix(".git") or "repo"


@dataclass(frozen=True)
class Workspace:
    """A checkout envfix works in."""

    root: Path
    """The top of the checkout."""
    path: Path
    """Where the paper's code is: the root, or a folder in it named by the URL."""
    source: str
    ref: str | None = None
    commit: str | None = None
    reused: bool = False
    notebook: str | None = None
    notes: tuple[str, ...] = ()
    commit_date: datetime | None = None
    """When the checked-out commit was made: what the code was written against."""

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR


def open_repo(path: Path) -> git.Repo:
    """A GitPython repo whose every git command runs with `SAFE_GIT_ENV`."""
    repo = git.Repo(path)
    repo.git.update_environment(**SAFE_GIT_ENV)
    return repo


# --- naming a repo --------------------------------------------------------------------------


def check_ref(ref: str) -> str:
    """Refuse refs that git could read as options or that git itself would refuse."""
    bad = (
        not ref
        or ref.startswith(("-", "/", "."))
        or ref.endswith(("/", ".", ".lock"))
        or ".." in ref
        or "@{" in ref
        or "//" in ref
        or any(ch in ref for ch in " ~^:?*[\\")
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in ref)
    )
    if bad:
        raise UnsafeSourceError(
            f"'{ref}' is not a valid branch, tag or commit name",
            hint="pass a branch or tag name, or a commit hash, with --ref",
        )
    return ref


def parse_source(text: str, ref: str | None = None, cwd: Path | None = None) -> RepoSource:
    """Take apart what the user typed: URL, `owner/name`, browser URL, or local path."""
    text = text.strip()
    if not text:
        raise BadInputError("no repository given", hint="envfix clone <url | owner/name | path>")
    if text.startswith("-") or any(ord(ch) < 32 for ch in text):
        raise UnsafeSourceError(f"refusing repository '{text}': it could pass options to git")
    if ref is not None:
        check_ref(ref)
    base = cwd or Path.cwd()
    local = (base / Path(text).expanduser()).resolve() if not _has_scheme(text) else None
    if local is not None and local.exists():
        if not local.is_dir():
            raise BadInputError(f"{text} is a file, not a repository or folder")
        kind: SourceKind = "local-git" if _is_repo_root(local) else "local-dir"
        return RepoSource(kind, str(local), ref)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*::", text):
        raise UnsafeSourceError(
            f"refusing '{text}': git remote helpers ('{text.split('::')[0]}::') can run programs"
        )
    if _SCP_LIKE.match(text):
        return RepoSource("remote", text, ref)
    if _SHORTHAND.match(text):
        return _from_url(f"https://github.com/{text}", ref)
    if text.startswith(("github.com/", "gitlab.com/", "www.github.com/")):
        return _from_url(f"https://{text}", ref)
    if _has_scheme(text):
        return _from_url(text, ref)
    raise BadInputError(
        f"'{text}' is not a URL, an owner/name, or an existing folder",
        hint="e.g. envfix clone https://github.com/owner/name, or envfix clone owner/name",
    )


def _is_repo_root(path: Path) -> bool:
    """A work tree's top folder or a bare repository (a folder inside a work tree is not)."""
    if (path / ".git").exists():
        return True
    try:
        repo = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return False
    # A folder that is itself a git directory is a bare repository, whatever its config says
    # (mirrors often have none, and GitPython reads `bare` from the config).
    return repo.bare or Path(repo.git_dir).resolve() == path.resolve()


def _has_scheme(text: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) is not None


def _from_url(url: str, ref: str | None) -> RepoSource:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SAFE_SCHEMES:
        raise UnsafeSourceError(
            f"refusing '{url}': the '{scheme}' transport is not allowed",
            hint=f"use one of {', '.join(SAFE_SCHEMES)}",
        )
    if scheme == "file":
        path = Path(unquote(parts.path))
        if not path.exists():
            raise RepoNotFoundError(f"no repository at {path}")
        return RepoSource("remote", path.as_uri(), ref)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if parts.hostname in ("github.com", "www.github.com", "gitlab.com") and len(segments) >= 2:
        owner, name, *rest = segments
        if rest[:1] == ["-"]:  # GitLab writes /-/tree/<ref>
            rest = rest[1:]
        clone_url = (
            f"https://{parts.hostname.removeprefix('www.')}/{owner}/{name.removesuffix('.git')}.git"
        )
        if rest and rest[0] in _TREE_MARKERS and len(rest) >= 2:
            if ref is None:
                for segment in rest[1:]:
                    if segment.startswith("-"):
                        raise UnsafeSourceError(
                            f"refusing '{url}': '{segment}' looks like an option"
                        )
                return RepoSource("remote", clone_url, None, tree_path=tuple(rest[1:]))
            return RepoSource("remote", clone_url, ref)
        return RepoSource("remote", clone_url, ref)
    clean = parts._replace(query="", fragment="").geturl()
    return RepoSource("remote", clean, ref)


def settle_tree_path(source: RepoSource, remote_refs: list[str]) -> RepoSource:
    """Split `/tree/<ref>/<folder>` using the refs the remote really has (longest match wins).

    `remote_refs` are short names such as `main` or `feature/x`; with none matching, the first
    segment is taken as the ref (a commit hash, usually).
    """
    segments = source.tree_path
    if not segments:
        return source
    known = set(remote_refs)
    split = 1
    for length in range(len(segments), 0, -1):
        if "/".join(segments[:length]) in known:
            split = length
            break
    ref = check_ref("/".join(segments[:split]))
    rest = "/".join(segments[split:]) or None
    if rest and rest.endswith(".ipynb"):
        # A link to one notebook: the whole repo is the workspace, the notebook a hint.
        return RepoSource(source.kind, source.url, ref, None, rest)
    return RepoSource(source.kind, source.url, ref, rest)


# --- cloning --------------------------------------------------------------------------------


def clone(
    source: RepoSource,
    dest: Path | None = None,
    *,
    shallow: bool = True,
    progress: Progress | None = None,
) -> Workspace:
    """Clone (or copy) the source into `dest` and return the workspace.

    An existing `dest` is reused only when it is already a checkout of the same source;
    anything else there is refused. A failed clone leaves nothing behind.
    """
    say = progress or (lambda _message: None)
    if source.kind == "remote" and source.tree_path:
        say(f"looking up the refs of {source.url}")
        source = settle_tree_path(source, _remote_refs(source.url))
    dest = (dest or Path.cwd() / source.name).expanduser().absolute()
    existing = _reusable(dest, source)
    if existing is not None:
        say(f"reusing {dest}")
        return existing
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.parent / f".{dest.name}.envfix-partial-{uuid.uuid4().hex[:8]}"
    notes: list[str] = []
    try:
        if source.kind == "local-dir":
            say(f"copying {source.url}")
            repo = _import_folder(Path(source.url), partial)
        else:
            url = Path(source.url).as_uri() if source.kind == "local-git" else source.url
            if source.kind == "local-git" and _is_dirty(Path(source.url)):
                notes.append(
                    "the source folder has uncommitted changes; a clone carries only commits"
                )
            say(f"cloning {source.url}" + (f" at {source.ref}" if source.ref else ""))
            repo = _clone(url, partial, source.ref, shallow)
        repo.git.config("envfix.source", source.url)
        _exclude_state_dir(repo)
        if dest.exists():
            dest.rmdir()  # empty, checked by _reusable
        partial.rename(dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return _workspace(open_repo(dest), source, reused=False, notes=tuple(notes))


def _clone(url: str, into: Path, ref: str | None, shallow: bool) -> git.Repo:
    depth = ["--depth=1"] if shallow else []
    try:
        if ref is not None and _FULL_SHA.match(ref):
            git.Repo.init(into)
            repo = open_repo(into)
            repo.create_remote("origin", url)
            repo.git.fetch(*depth, "origin", ref)
            repo.git.checkout("--detach", "FETCH_HEAD")
            return repo
        branch = [f"--branch={ref}"] if ref is not None else []
        try:
            git.Repo.clone_from(
                url, into, env=SAFE_GIT_ENV, multi_options=[*depth, *branch, "--no-tags"]
            )
            return open_repo(into)
        except git.GitCommandError as exc:
            if ref is None or not _SHORT_SHA.match(ref) or "not found" not in str(exc.stderr):
                raise
            # A short commit hash: only a full clone can find it.
            shutil.rmtree(into, ignore_errors=True)
            git.Repo.clone_from(url, into, env=SAFE_GIT_ENV, multi_options=["--no-checkout"])
            repo = open_repo(into)
            repo.git.checkout("--detach", ref)
            return repo
    except git.GitCommandError as exc:
        raise _clone_error(url, ref, exc) from exc


_NOT_FOUND = re.compile(
    r"authentication failed|could not read username|terminal prompts disabled"
    r"|permission denied|repository .*not found|not found\s*$|does not exist"
    r"|does not appear to be a git repository|returned error: 40[13]\b|\bhttp 40[134]\b",
    re.MULTILINE,
)


def _clone_error(url: str, ref: str | None, exc: git.GitCommandError) -> Exception:
    stderr = str(exc.stderr or "")
    lowered = stderr.lower()
    shown = _strip_credentials(url)
    if any(
        s in lowered
        for s in (
            "could not resolve host",
            "failed to connect",
            "timed out",
            "network is unreachable",
            "connection refused",
            "temporary failure in name resolution",
        )
    ):
        host = urlsplit(url).hostname or url
        return NetworkError(
            f"cannot reach {host} to clone {shown}",
            hint="check the network connection (and any proxy), then try again",
        )
    if ref and any(
        s in lowered
        for s in (
            "remote branch",
            "couldn't find remote ref",
            "not our ref",
            "did not match any",
            "unadvertised",
        )
    ):
        return BadInputError(
            f"{shown} has no branch, tag or commit '{ref}'",
            hint="check the name with 'git ls-remote', or leave out --ref for the default branch",
        )
    # Only git's own wording: progress lines ("Enumerating objects: 403") and object ids
    # of a damaged repository contain such numbers too.
    if _NOT_FOUND.search(lowered):
        return RepoNotFoundError(
            f"repository {shown} not found, or it is private",
            hint="check the URL; for a private repo, clone it yourself and pass the folder",
        )
    return EnvironmentProblemError(
        f"git could not clone {shown}: {_git_message(stderr)}",
        hint="the repository may be damaged or too large; try again, or clone it with git"
        " yourself and pass the folder",
    )


def _git_message(stderr: str) -> str:
    """The line of git's output that says what went wrong (its first `fatal:` line)."""
    # GitPython wraps git's output as "stderr: '...'".
    text = stderr.strip().removeprefix("stderr:").strip().strip("'")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fatal = [line for line in lines if "fatal:" in line]
    return (fatal or lines or ["no message"])[0]


def _strip_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        return parts._replace(netloc=parts.hostname or "").geturl()
    return url


def _remote_refs(url: str) -> list[str]:
    try:
        output = git.cmd.Git().execute(
            ["git", "ls-remote", "--heads", "--tags", "--", url],
            env=SAFE_GIT_ENV,
        )
    except git.GitCommandError as exc:
        raise _clone_error(url, None, exc) from exc
    refs = []
    for line in str(output).splitlines():
        _, _, name = line.partition("\t")
        for prefix in ("refs/heads/", "refs/tags/"):
            if name.startswith(prefix):
                refs.append(name.removeprefix(prefix).removesuffix("^{}"))
    return refs


def _import_folder(folder: Path, into: Path) -> git.Repo:
    """Copy a plain folder and make it a git repo, so that patches can be committed."""
    shutil.copytree(
        folder,
        into,
        symlinks=True,
        ignore=shutil.ignore_patterns(STATE_DIR, "__pycache__", ".ipynb_checkpoints", ".git"),
    )
    git.Repo.init(into)
    repo = open_repo(into)
    repo.git.add("--all", "--force")
    repo.index.commit(
        f"Import {folder.name} (copied by envfix from a folder that was not a git repo)",
        author=_IMPORT_AUTHOR,
        committer=_IMPORT_AUTHOR,
        skip_hooks=True,
    )
    return repo


def _is_dirty(path: Path) -> bool:
    try:
        repo = open_repo(path)
        return not repo.bare and repo.working_tree_dir is not None and repo.is_dirty()
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError):
        return False


def _exclude_state_dir(repo: git.Repo) -> None:
    _exclude(repo, f"/{STATE_DIR}/")


def _exclude(repo: git.Repo, pattern: str) -> None:
    """Keep one of envfix's own files out of `git status`, through `.git/info/exclude`
    (never the repo's own `.gitignore`)."""
    exclude = Path(repo.git_dir) / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    text = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    if pattern not in text.splitlines():
        exclude.write_text(
            text + ("" if text.endswith("\n") or not text else "\n") + f"{pattern}\n",
            encoding="utf-8",
        )


def source_urls(workspace: Workspace) -> tuple[str, ...]:
    """The URLs the repo is known by: where it was cloned from and, for a local checkout,
    that checkout's own `origin` (a notebook's `!git clone` names the upstream URL)."""
    urls = [workspace.source]
    local = Path(workspace.source)
    if local.is_absolute() and local.exists():
        try:
            origin = open_repo(local).remotes.origin.url
        except (git.InvalidGitRepositoryError, git.NoSuchPathError, AttributeError, ValueError):
            origin = None
        if origin:
            urls.append(str(origin))
    return tuple(dict.fromkeys(urls))


def exclude_own_file(workspace: Workspace, name: str) -> None:
    """Keep a file envfix writes into the checkout (the report) out of `git status`."""
    try:
        repo = open_repo(workspace.root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return
    _exclude(repo, name)


def _reusable(dest: Path, source: RepoSource) -> Workspace | None:
    """The workspace at `dest` if it is a checkout of `source`; None if `dest` is free."""
    if not dest.exists():
        return None
    if not dest.is_dir():
        raise DestinationError(f"{dest} exists and is a file", hint="choose another destination")
    if not any(dest.iterdir()):
        return None
    try:
        repo = open_repo(dest)
        origin = repo.git.config("--get", "envfix.source")
    except (git.InvalidGitRepositoryError, git.GitCommandError):
        origin = None
    else:
        if origin == source.url:
            if source.ref and not _at_ref(repo, source.ref):
                raise DestinationError(
                    f"{dest} is a clone of {source.url}, but not at {source.ref}",
                    hint="choose another destination for that ref",
                )
            return _workspace(repo, source, reused=True)
    raise DestinationError(
        f"{dest} already exists and is not a clone of {source.url}"
        + (f" (it is one of {origin})" if origin else ""),
        hint="choose another destination; envfix never writes into a folder it did not make",
    )


def _at_ref(repo: git.Repo, ref: str) -> bool:
    head = repo.head.commit.hexsha
    if head.startswith(ref):
        return True
    try:
        return bool(repo.git.rev_parse(f"{ref}^{{commit}}") == head)
    except git.GitCommandError:
        return False


def _workspace(
    repo: git.Repo, source: RepoSource, *, reused: bool, notes: tuple[str, ...] = ()
) -> Workspace:
    root = Path(repo.working_tree_dir or ".")
    path = root / source.subdir if source.subdir else root
    if not path.is_dir():
        raise BadInputError(f"the repository has no folder '{source.subdir}'")
    commit, date = _head(repo)
    return Workspace(
        root=root,
        path=path,
        source=source.url,
        ref=source.ref,
        commit=commit,
        reused=reused,
        notebook=source.notebook,
        notes=notes,
        commit_date=date,
    )


def _head(repo: git.Repo) -> tuple[str | None, datetime | None]:
    """The checked-out commit and its date; (None, None) in a repo without commits.

    The date is the newest commit not made by envfix (its patches and its import of a plain
    folder say nothing of when the code was written); None when there is none.
    """
    try:
        head = repo.head.commit
    except ValueError:
        return None, None
    for commit in repo.iter_commits(head, max_count=200):
        if commit.author.email != _IMPORT_AUTHOR.email:
            return head.hexsha, commit.committed_datetime
    return head.hexsha, None


def open_folder(path: Path) -> Workspace:
    """A workspace for a folder that is already on disk (for scan, lock, patch, run)."""
    path = path.expanduser().absolute()
    if not path.exists():
        raise BadInputError(f"{path} does not exist")
    if not path.is_dir():
        raise BadInputError(f"{path} is not a folder", hint="pass the repository's folder")
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return Workspace(root=path, path=path, source=str(path))
    root = Path(repo.working_tree_dir or path)
    commit, date = _head(repo)
    try:
        origin = repo.git.config("--get", "envfix.source")
    except git.GitCommandError:
        origin = str(root)
    return Workspace(root=root, path=path, source=origin, commit=commit, commit_date=date)
