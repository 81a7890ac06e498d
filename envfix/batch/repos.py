"""A batch's repo list: one repo a line, taken apart into `BatchItem`s, and split into shards.

A line is `REPO[@REF] [NOTEBOOK]`:

- `REPO` is anything `envfix clone` takes (an https URL, `owner/name`, a browser URL with
  `/tree/<ref>/<folder>` or `/blob/<ref>/<notebook>.ipynb`, a `file://` URL, a local path);
  a relative local path is read from the list's own folder;
- `@REF` a branch, tag or commit;
- `NOTEBOOK` the notebook (or `.py` script) to run, relative to the repo.

`#` starts a comment (at the start of a line, or after a space); blank lines are skipped.
A line envfix cannot read is an error naming the line. A local path that does not exist is
not: that repo becomes a failed row of the batch, and the others still run.

Each item gets a slug, its folder name in the batch: `owner__name` for a hosted repo, the
folder name for a local one, lower case; a slug taken by an earlier line gets `-2`, `-3`, ...

Shards (`shard`): the repo with slug S belongs to shard K of N when
`int(sha256(S), 16) % N == K - 1`. The rule depends on the slug alone, not on the order of
the lines or on the other repos, so a repo stays in its shard when lines are added, removed
or moved, and every repo is in exactly one shard.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from envfix.errors import BadInputError, RepoNotFoundError
from envfix.model import BatchItem
from envfix.workspace import check_ref, parse_source

__all__ = ["parse_list", "parse_shard", "read_list", "shard", "shard_of"]

LINE_FORMAT = "each line: REPO[@REF] [NOTEBOOK], e.g. owner/name@v1.0 notebooks/demo.ipynb"
_HOSTED = ("github.com", "www.github.com", "gitlab.com")
_PATH_LIKE = re.compile(r"^(?:[/~]|\.{1,2}(?:[/\\]|$)|[A-Za-z]:[/\\])")
_NOT_SLUG = re.compile(r"[^a-z0-9._-]+")
_COMMENT = re.compile(r"(?:^|\s)#.*$")
_NOTEBOOK_SUFFIXES = (".ipynb", ".py")


def read_list(path: Path) -> tuple[BatchItem, ...]:
    """The repos of the list file at `path`; relative local paths are read from its folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"no repo list at {path}") from None
    except IsADirectoryError:
        raise BadInputError(f"{path} is a folder, not a repo list") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path} is not a UTF-8 text file") from None
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    items = parse_list(text, name=str(path), base=path.resolve().parent)
    if not items:
        raise BadInputError(f"{path} lists no repos", hint=LINE_FORMAT)
    return items


def parse_list(
    text: str, *, name: str = "<list>", base: Path | None = None
) -> tuple[BatchItem, ...]:
    """The repos of a list's text, in its order, each with a unique slug.

    `name` is how errors refer to the list; `base` is the folder relative local paths start
    from (the current one by default). Raises `BadInputError` naming the first bad line.
    """
    folder = base or Path.cwd()
    items: list[BatchItem] = []
    seen: dict[tuple[str, str | None, str | None], int] = {}
    slugs: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        try:
            source, ref, notebook, slug = _parse_line(line, folder)
        except BadInputError as exc:
            raise BadInputError(f"{name}, line {number}: {exc.message}", hint=LINE_FORMAT) from None
        key = (source, ref, notebook)
        if key in seen:
            raise BadInputError(
                f"{name}, line {number}: repeats line {seen[key]}",
                hint="list each repo once (with another ref or notebook to run it twice)",
            )
        seen[key] = number
        unique, count = slug, 1
        while unique in slugs:
            count += 1
            unique = f"{slug}-{count}"
        slugs.add(unique)
        items.append(BatchItem(source, unique, ref, notebook, number))
    return tuple(items)


def _parse_line(line: str, folder: Path) -> tuple[str, str | None, str | None, str]:
    """(source, ref, notebook, slug) of one line without its comment."""
    if any(ord(ch) < 32 and ch != "\t" for ch in line):
        raise BadInputError("control characters in the line")
    words = line.split()
    if len(words) > 2:
        raise BadInputError(f"'{words[2]}' is one word too many")
    repo, ref = _split_ref(words[0], folder)
    notebook = _check_notebook(words[1]) if len(words) == 2 else None
    if ref is not None:
        check_ref(ref)
    if _PATH_LIKE.match(repo) and not (folder / Path(repo).expanduser()).exists():
        # A missing folder fails that repo alone when it is processed, not the whole list.
        path = (folder / Path(repo).expanduser()).resolve()
        return str(path), ref, notebook, _slug_of_path(path)
    try:
        source = parse_source(repo, ref, cwd=folder)
    except RepoNotFoundError:
        # A file:// URL whose folder is missing: as for a missing path.
        return repo, ref, notebook, _clean(Path(unquote(urlsplit(repo).path)).name)
    if source.kind != "remote":
        path = Path(source.url)
        return str(path), ref, notebook, _slug_of_path(path)
    return repo, ref, notebook, _slug_of_remote(source.url)


def _split_ref(word: str, folder: Path) -> tuple[str, str | None]:
    """`owner/name@v1` -> (`owner/name`, `v1`); the `@` of `git@host:` or of credentials in
    a URL (`https://token@host/...`) is not a ref."""
    head, at, tail = word.rpartition("@")
    if not at or not head or (folder / Path(word).expanduser()).exists():
        return word, None
    if ":" in tail:  # git@github.com:owner/name
        return word, None
    _, sep, rest = head.partition("://")
    if sep and "/" not in rest:  # https://user@host/...
        return word, None
    if not tail:
        raise BadInputError(f"'{word}' ends with '@' but names no ref")
    return head, tail


def _check_notebook(word: str) -> str:
    path = word.replace("\\", "/")
    if path.startswith(("/", "-", "~")) or ".." in path.split("/"):
        raise BadInputError(f"notebook '{word}' must be a path inside the repo")
    if not path.endswith(_NOTEBOOK_SUFFIXES):
        raise BadInputError(f"'{word}' is not a notebook (.ipynb) or script (.py)")
    return path


def _slug_of_remote(url: str) -> str:
    """`owner__name` for a hosted repo; the last two parts of the path for another host; the
    folder's name for a `file://` URL."""
    if "://" in url:
        parts = urlsplit(url)
        scheme, host, path = parts.scheme.lower(), (parts.hostname or ""), unquote(parts.path)
    else:  # scp-like: git@host:owner/name.git
        scheme, host, path = "ssh", "", url.rpartition(":")[2]
    segments = [s.removesuffix(".git") for s in path.split("/") if s]
    if scheme == "file":
        segments = segments[-1:]
    elif host in _HOSTED:
        segments = segments[:2]
    else:
        segments = segments[-2:]
    return _clean("__".join(segments) or host)


# Folder names that say nothing of the repo (a mirror's `owner+name/repo`, a bare `x.git`
# checkout's `.git`): the slug comes from the folder above.
_GENERIC_FOLDERS = frozenset({"repo", "repository", "src", "code", "git", ".git", "checkout"})


def _slug_of_path(path: Path) -> str:
    name = path.name.lower().removesuffix(".git") or path.name.lower()
    if name in _GENERIC_FOLDERS and path.parent.name:
        return _clean(path.parent.name.replace("+", "__"))
    return _clean(path.name)


def _clean(text: str) -> str:
    text = text.lower()
    text = text.removesuffix(".git")
    text = _NOT_SLUG.sub("-", text).strip(".-")
    return text or "repo"


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` (the K-th of N shards, counted from 1) as (K, N)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if match is None:
        raise BadInputError(f"'{text}' is not a shard K/N", hint="e.g. --shard 2/4")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise BadInputError(
            f"shard {text}: K must be between 1 and N", hint="e.g. --shard 1/4 ... --shard 4/4"
        )
    return index, count


def shard_of(slug: str, count: int) -> int:
    """The shard (from 1) that the repo with this slug belongs to, of `count`."""
    digest = hashlib.sha256(slug.encode("utf-8")).hexdigest()
    return int(digest, 16) % count + 1


def shard(items: tuple[BatchItem, ...], index: int, count: int) -> tuple[BatchItem, ...]:
    """The items of shard `index` of `count` (see the module's docstring for the rule)."""
    return tuple(item for item in items if shard_of(item.slug, count) == index)
