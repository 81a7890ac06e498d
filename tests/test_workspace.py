from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import git as gitpython
import pytest

from envfix.errors import (
    BadInputError,
    DestinationError,
    EnvironmentProblemError,
    NetworkError,
    RepoNotFoundError,
    UnsafeSourceError,
)
from envfix.workspace import (
    RepoSource,
    Workspace,
    _clone_error,
    check_ref,
    clone,
    open_folder,
    parse_source,
    settle_tree_path,
    source_urls,
)
from tests.helpers import git, make_git_repo, write_files

# --- parse_source -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("https://github.com/sfujim/TD3", "https://github.com/sfujim/TD3.git"),
        ("https://github.com/sfujim/TD3.git", "https://github.com/sfujim/TD3.git"),
        ("https://github.com/sfujim/TD3/", "https://github.com/sfujim/TD3.git"),
        ("https://www.github.com/sfujim/TD3#readme", "https://github.com/sfujim/TD3.git"),
        ("sfujim/TD3", "https://github.com/sfujim/TD3.git"),
        ("github.com/sfujim/TD3", "https://github.com/sfujim/TD3.git"),
        ("git@github.com:sfujim/TD3.git", "git@github.com:sfujim/TD3.git"),
        ("https://example.org/git/repo.git?x=1", "https://example.org/git/repo.git"),
    ],
)
def test_parse_source_urls(text: str, url: str, tmp_path: Path) -> None:
    source = parse_source(text, cwd=tmp_path)
    assert source.kind == "remote"
    assert source.url == url
    assert source.name in ("TD3", "repo")


def test_parse_browser_tree_url_keeps_the_path_open() -> None:
    source = parse_source("https://github.com/google-research/google-research/tree/master/bert")
    assert source.url == "https://github.com/google-research/google-research.git"
    assert source.tree_path == ("master", "bert")
    assert source.ref is None


def test_settle_tree_path_prefers_the_longest_real_ref() -> None:
    source = RepoSource("remote", "https://x/y.git", tree_path=("feature", "x", "code", "sub"))
    settled = settle_tree_path(source, ["main", "feature", "feature/x"])
    assert (settled.ref, settled.subdir, settled.notebook) == ("feature/x", "code/sub", None)


def test_settle_tree_path_takes_a_commit_hash_and_a_notebook() -> None:
    source = RepoSource(
        "remote", "https://x/y.git", tree_path=("0a1b2c3", "notebooks", "demo.ipynb")
    )
    settled = settle_tree_path(source, ["main"])
    assert (settled.ref, settled.subdir, settled.notebook) == (
        "0a1b2c3",
        None,
        "notebooks/demo.ipynb",
    )


@pytest.mark.parametrize(
    "text",
    [
        "--upload-pack=touch /tmp/pwned",
        "-u touch",
        "ext::sh -c touch% /tmp/pwned",
        "fd::17",
        "transport::address",
        "ftp://example.org/repo.git",
        "gopher://example.org/repo",
        "https://github.com/a/b\n--upload-pack=x",
    ],
)
def test_parse_source_refuses_unsafe_input(text: str) -> None:
    with pytest.raises(UnsafeSourceError):
        parse_source(text)


def test_tree_url_with_an_option_as_ref_is_refused() -> None:
    with pytest.raises(UnsafeSourceError):
        clone(parse_source("https://github.com/a/b/tree/--upload-pack=x/y"), Path("unused"))


@pytest.mark.parametrize(
    "ref", ["--upload-pack=x", "-b", "a..b", "a b", "a~1", "x:y", "refs/heads/", "a@{1}", ""]
)
def test_check_ref_refuses_what_git_could_misread(ref: str) -> None:
    with pytest.raises(UnsafeSourceError):
        check_ref(ref)


@pytest.mark.parametrize("ref", ["main", "v1.0", "feature/x", "0a1b2c3d", "release-2019_10"])
def test_check_ref_accepts_ordinary_refs(ref: str) -> None:
    assert check_ref(ref) == ref


def test_parse_source_garbage_and_files(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not a URL"):
        parse_source("not a repo at all", cwd=tmp_path)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(BadInputError, match="is a file"):
        parse_source("file.txt", cwd=tmp_path)
    with pytest.raises(RepoNotFoundError):
        parse_source("file:///does/not/exist")


def test_parse_source_local_folders(tmp_path: Path) -> None:
    plain = write_files(tmp_path / "plain", {"a.py": "import numpy\n"})
    repo = make_git_repo(tmp_path / "repo", {"a.py": "import numpy\n"})
    assert parse_source(str(plain)).kind == "local-dir"
    assert parse_source(str(repo)).kind == "local-git"
    # A local folder wins over the owner/name shorthand of the same spelling.
    write_files(tmp_path / "owner" / "name", {"x.py": ""})
    assert parse_source("owner/name", cwd=tmp_path).kind == "local-dir"


# --- clone --------------------------------------------------------------------------------


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    repo = make_git_repo(tmp_path / "upstream", {"train.py": "import numpy\n"})
    git(repo, "tag", "v1")
    for n in range(2):
        write_files(repo, {f"step{n}.py": f"x = {n}\n"})
        git(repo, "add", "--all")
        git(repo, "commit", "-q", "-m", f"step {n}")
    git(repo, "branch", "feature/x")
    return repo


def test_clone_local_git_repo_is_shallow_and_marked(upstream: Path, tmp_path: Path) -> None:
    dest = tmp_path / "work" / "paper"
    ws = clone(parse_source(str(upstream)), dest)
    assert ws.root == dest and ws.path == dest and not ws.reused
    assert ws.commit == git(upstream, "rev-parse", "HEAD")
    assert git(dest, "rev-list", "--count", "HEAD") == "1"
    assert git(dest, "config", "--get", "envfix.source") == str(upstream)
    assert "/.envfix/" in (dest / ".git" / "info" / "exclude").read_text()
    (dest / ".envfix").mkdir()
    (dest / ".envfix" / "state.json").write_text("{}")
    assert git(dest, "status", "--porcelain") == ""


def test_clone_full_history(upstream: Path, tmp_path: Path) -> None:
    clone(parse_source(str(upstream)), tmp_path / "full", shallow=False)
    assert git(tmp_path / "full", "rev-list", "--count", "HEAD") == "3"


@pytest.mark.parametrize("ref", ["v1", "feature/x"])
def test_clone_at_a_branch_or_tag(upstream: Path, tmp_path: Path, ref: str) -> None:
    ws = clone(parse_source(upstream.as_uri(), ref=ref), tmp_path / "at-ref")
    assert ws.commit == git(upstream, "rev-parse", f"{ref}^{{commit}}")


def test_clone_at_a_commit_hash_full_and_short(upstream: Path, tmp_path: Path) -> None:
    first = git(upstream, "rev-list", "--max-parents=0", "HEAD")
    ws = clone(parse_source(str(upstream), ref=first), tmp_path / "sha")
    assert ws.commit == first
    ws = clone(parse_source(str(upstream), ref=first[:10]), tmp_path / "short")
    assert ws.commit == first


def test_clone_of_a_missing_ref_fails_cleanly(upstream: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no branch, tag or commit 'nope'"):
        clone(parse_source(str(upstream), ref="nope"), tmp_path / "dest")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upstream"]


def test_clone_reuses_its_own_checkout(upstream: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    clone(parse_source(str(upstream)), dest)
    (dest / "notes.txt").write_text("mine")
    again = clone(parse_source(str(upstream)), dest)
    assert again.reused
    assert (dest / "notes.txt").read_text() == "mine"


def test_clone_refuses_a_foreign_destination_and_touches_nothing(
    upstream: Path, tmp_path: Path
) -> None:
    dest = write_files(tmp_path / "dest", {"thesis.tex": "precious"})
    with pytest.raises(DestinationError, match="already exists"):
        clone(parse_source(str(upstream)), dest)
    assert [p.name for p in dest.iterdir()] == ["thesis.tex"]
    other = make_git_repo(tmp_path / "other", {"x.py": ""})
    with pytest.raises(DestinationError):
        clone(parse_source(str(upstream)), other)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DestinationError, match="is a file"):
        clone(parse_source(str(upstream)), tmp_path / "afile")


def test_clone_into_an_empty_existing_folder(upstream: Path, tmp_path: Path) -> None:
    dest = tmp_path / "empty"
    dest.mkdir()
    assert clone(parse_source(str(upstream)), dest).commit


def test_clone_of_a_plain_folder_copies_and_commits(tmp_path: Path) -> None:
    folder = write_files(
        tmp_path / "plain",
        {
            "demo.ipynb": "{}",
            "src/model.py": "import torch\n",
            ".envfix/old": "x",
            "__pycache__/a.pyc": b"\0",
        },
    )
    ws = clone(parse_source(str(folder)), tmp_path / "copy")
    assert (ws.root / "src" / "model.py").read_text() == "import torch\n"
    assert not (ws.root / ".envfix").exists() and not (ws.root / "__pycache__").exists()
    assert git(ws.root, "status", "--porcelain") == ""
    assert git(ws.root, "log", "--format=%an").splitlines() == ["envfix"]
    assert not (folder / ".git").exists()
    assert clone(parse_source(str(folder)), tmp_path / "copy").reused


def test_clone_notes_uncommitted_changes_of_the_source(upstream: Path, tmp_path: Path) -> None:
    (upstream / "train.py").write_text("import torch\n")
    ws = clone(parse_source(str(upstream)), tmp_path / "dest")
    assert any("uncommitted" in note for note in ws.notes)
    assert (ws.root / "train.py").read_text() == "import numpy\n"


def test_failed_clone_leaves_nothing(tmp_path: Path) -> None:
    bare = tmp_path / "notarepo"
    bare.mkdir()
    with pytest.raises(RepoNotFoundError, match="not found, or it is private"):
        clone(parse_source(bare.as_uri()), tmp_path / "dest")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notarepo"]


def test_repo_hooks_never_run(
    upstream: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = tmp_path / "hooks"
    marker = tmp_path / "hook-ran"
    write_files(hooks, {"post-checkout": f"#!/bin/sh\ntouch {marker}\n"})
    (hooks / "post-checkout").chmod(0o755)
    config = tmp_path / "gitconfig"
    config.write_text(f"[core]\n\thooksPath = {hooks}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    # The hook does run for a plain git clone, so the check below can fail.
    gitpython.Repo.clone_from(upstream.as_uri(), tmp_path / "plain-clone")
    assert marker.exists()
    marker.unlink()
    clone(parse_source(str(upstream)), tmp_path / "dest")
    assert not marker.exists()


def test_unsafe_transport_is_blocked_by_git_itself(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    source = RepoSource("remote", f"ext::sh -c touch% {pwned}")
    with pytest.raises(Exception):  # noqa: B017 - git or GitPython refuses it, either is fine
        clone(source, tmp_path / "dest")
    assert not pwned.exists()
    assert not (tmp_path / "dest").exists()


class _Responder(http.server.BaseHTTPRequestHandler):
    status = 404

    def do_GET(self) -> None:
        self.send_response(self.status)
        if self.status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="private"')
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(params=[401, 404])
def http_git_server(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("Handler", (_Responder,), {"status": request.param})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/owner/private.git"
    server.shutdown()


def test_private_or_missing_http_repo_is_one_clear_error(
    http_git_server: str, tmp_path: Path
) -> None:
    with pytest.raises(RepoNotFoundError, match="not found, or it is private"):
        clone(parse_source(http_git_server), tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_unreachable_host_is_a_network_error(tmp_path: Path) -> None:
    # Port 9 (discard) on loopback refuses the connection at once: no real network needed.
    with pytest.raises(NetworkError, match=r"cannot reach 127\.0\.0\.1"):
        clone(parse_source("http://127.0.0.1:9/owner/repo.git"), tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_open_folder(tmp_path: Path, upstream: Path) -> None:
    ws = open_folder(upstream)
    assert ws.root == upstream and ws.commit
    sub = open_folder(upstream)
    assert sub.path == upstream
    with pytest.raises(BadInputError, match="does not exist"):
        open_folder(tmp_path / "missing")
    plain = write_files(tmp_path / "plain", {"a.py": ""})
    assert open_folder(plain).commit is None


def test_clone_of_a_bare_repository(upstream: Path, tmp_path: Path) -> None:
    bare = tmp_path / "mirror.git"
    git(tmp_path, "clone", "-q", "--bare", str(upstream), str(bare))
    source = parse_source(str(bare))
    assert source.kind == "local-git"
    ws = clone(source, tmp_path / "from-bare")
    assert (ws.root / "train.py").read_text() == "import numpy\n"
    assert source.name == "mirror"


def test_a_folder_inside_a_work_tree_is_copied(upstream: Path, tmp_path: Path) -> None:
    write_files(upstream, {"sub/model.py": "import torch\n"})
    git(upstream, "add", "--all")
    git(upstream, "commit", "-q", "-m", "sub")
    source = parse_source(str(upstream / "sub"))
    assert source.kind == "local-dir"
    ws = clone(source, tmp_path / "sub-copy")
    assert (ws.root / "model.py").exists()


def test_clone_of_a_bare_mirror_without_config(upstream: Path, tmp_path: Path) -> None:
    bare = tmp_path / "mirror"
    git(tmp_path, "clone", "-q", "--mirror", str(upstream), str(bare))
    (bare / "config").unlink()
    ws = clone(parse_source(str(bare)), tmp_path / "from-mirror")
    assert (ws.root / "train.py").exists() and ws.commit == git(upstream, "rev-parse", "HEAD")


def test_a_damaged_repository_is_one_clear_line(upstream: Path, tmp_path: Path) -> None:
    blob = git(upstream, "rev-parse", "HEAD:train.py")
    (upstream / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    with pytest.raises(EnvironmentProblemError) as info:
        clone(parse_source(str(upstream)), tmp_path / "dest")
    assert "fatal:" in info.value.message and "\n" not in info.value.message
    assert not (tmp_path / "dest").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upstream"]


def test_commit_date_is_the_codes_and_unknown_for_imported_folders(
    upstream: Path, tmp_path: Path
) -> None:
    ws = clone(parse_source(str(upstream)), tmp_path / "dated")
    assert ws.commit_date is not None
    assert ws.commit_date.isoformat()[:10] == git(upstream, "log", "-1", "--format=%cs")
    folder = write_files(tmp_path / "plain", {"a.py": ""})
    assert clone(parse_source(str(folder)), tmp_path / "copied").commit_date is None


def test_a_local_checkout_is_also_known_by_its_origin(tmp_path: Path) -> None:
    local = make_git_repo(tmp_path / "paper", {"a.py": ""})
    git(local, "remote", "add", "origin", "https://github.com/rll/deepul.git")
    workspace = Workspace(root=tmp_path / "clone", path=tmp_path / "clone", source=str(local))
    assert source_urls(workspace) == (str(local), "https://github.com/rll/deepul.git")
    remote = Workspace(root=tmp_path, path=tmp_path, source="https://github.com/o/n")
    assert source_urls(remote) == ("https://github.com/o/n",)


@pytest.mark.parametrize(
    ("stderr", "not_found"),
    [
        ("remote: Enumerating objects: 403, done.\nremote: fatal: unable to read 9fad12\n"
         "fatal: early EOF", False),
        ("fatal: git upload-pack: aborting due to possible repository corruption", False),
        ("remote: Repository not found.\nfatal: repository 'https://github.com/o/n/' not found",
         True),
        ("fatal: unable to access 'https://x/': The requested URL returned error: 403", True),
        ("fatal: could not read Username for 'https://github.com': terminal prompts disabled",
         True),
    ],
)  # fmt: skip
def test_a_damaged_repository_is_not_called_missing(stderr: str, not_found: bool) -> None:
    error = gitpython.GitCommandError(["git", "clone"], 128, stderr=stderr)
    assert isinstance(_clone_error("file:///tmp/x", None, error), RepoNotFoundError) is not_found
