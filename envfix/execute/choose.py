"""Which notebook (or script) proves the repo runs: the one the README links, else the one
whose name says it is the demo, else the script the README shows how to run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from envfix.errors import BadInputError, NothingToRunError
from envfix.model import Entry
from envfix.scanner.inventory import walk_repo

README_NAMES = ("README.md", "README.rst", "README.txt", "README", "readme.md", "Readme.md")

# A link to a notebook: a Colab badge (colab.research.google.com/github/o/r/blob/ref/x.ipynb),
# a GitHub or nbviewer page, or a relative Markdown/reST link.
_NOTEBOOK_LINK = re.compile(r"""[\w./%~+-]*\.ipynb""")
_BLOB = re.compile(r"/(?:blob|tree)/[^/]+/(?P<path>.+\.ipynb)$")
_COLAB = "colab.research.google.com"

# Names of a baseline notebook, best first.
_NAME_WORDS = (
    "colab",
    "demo",
    "quickstart",
    "quick_start",
    "getting_started",
    "tutorial",
    "example",
    "main",
    "baseline",
    "run",
    "train",
)
# `python train.py --epochs 1`, also with environment variables before it, interpreter
# options (`python -u`), and a pipe or redirection after it (`| tee log.txt`), which are cut.
_SCRIPT_LINE = re.compile(
    r"""^\s*(?:[$>]\s*|!)?(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*"""
    r"""(?:python(?:3(?:\.\d+)?)?|%run)\s+(?:-[A-Za-z]+\s+)*"""
    r"""(?P<rest>[^\s|&;#<>]+\.py(?:\s[^|&;#<>]*?)?)\s*(?:\d*[|&;#<>].*)?$"""
)


def choose_entry(root: Path, requested: str | None = None) -> Entry:
    """The entry to run in the repo at `root`; `requested` (a notebook or script path,
    relative to the root) overrides the choice."""
    files = walk_repo(root)
    notebooks = [f for f in files if f.endswith(".ipynb") and ".ipynb_checkpoints" not in f]
    if requested is not None:
        return _requested(root, requested, notebooks)
    readme = _readme_text(root)
    linked = _linked_notebook(readme, notebooks)
    if linked is not None:
        return Entry(
            "notebook", linked, "the README links it", candidates=_others(notebooks, linked)
        )
    if notebooks:
        chosen, reason = _by_name(notebooks)
        return Entry("notebook", chosen, reason, candidates=_others(notebooks, chosen))
    scripts = [f for f in files if f.endswith(".py")]
    shown = _readme_script(readme, scripts)
    if shown is not None:
        path, args = shown
        return Entry(
            "script",
            path,
            "the README shows how to run it",
            args=args,
            candidates=_others(_top_scripts(scripts), path),
        )
    candidates = _top_scripts(scripts)
    listed = ", ".join(candidates[:8]) or "none"
    raise NothingToRunError(
        f"nothing to run: no notebook, and the README shows no 'python <script>.py' command"
        f" (scripts at the top: {listed})",
        hint="name one with --notebook PATH (a .ipynb or .py file)",
    )


def _requested(root: Path, requested: str, notebooks: list[str]) -> Entry:
    path = Path(requested)
    full = path if path.is_absolute() else root / path
    try:
        rel = full.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise BadInputError(f"{requested} is not inside the repository {root}") from None
    if not full.is_file():
        raise BadInputError(
            f"{requested}: no such file in the repository",
            hint="notebooks here: " + (", ".join(notebooks[:8]) or "none"),
        )
    if rel.endswith(".ipynb"):
        return Entry("notebook", rel, "named with --notebook", candidates=_others(notebooks, rel))
    if rel.endswith(".py"):
        return Entry("script", rel, "named with --notebook")
    raise BadInputError(f"{requested} is neither a notebook (.ipynb) nor a script (.py)")


def _readme_text(root: Path) -> str:
    for name in README_NAMES:
        path = root / name
        if path.is_file():
            return path.read_text(encoding="utf-8", errors="replace")
    return ""


def _linked_notebook(readme: str, notebooks: list[str]) -> str | None:
    """The first notebook of the repo that the README links, Colab badges first."""
    links = _NOTEBOOK_LINK.findall(readme)
    links.sort(key=lambda link: _COLAB not in link)  # stable: README order within each kind
    by_name: dict[str, list[str]] = {}
    for notebook in notebooks:
        by_name.setdefault(PurePosixPath(notebook).name, []).append(notebook)
    for link in links:
        path = unquote(link.split("#")[0].split("?")[0])
        blob = _BLOB.search(path)
        if blob:
            path = blob["path"]
        path = path.removeprefix("./").lstrip("/")
        if path in notebooks:
            return path
        # A badge that names a branch layout or an old path: the same file name, if unique.
        same_name = by_name.get(PurePosixPath(path).name, [])
        if len(same_name) == 1:
            return same_name[0]
    return None


def _by_name(notebooks: list[str]) -> tuple[str, str]:
    if len(notebooks) == 1:
        return notebooks[0], "the only notebook in the repo"

    def rank(path: str) -> tuple[int, int, str]:
        return _name_rank(path), path.count("/"), path

    chosen = min(notebooks, key=rank)
    word_index = rank(chosen)[0]
    if word_index < len(_NAME_WORDS):
        return chosen, f"its name says '{_NAME_WORDS[word_index]}' (of {len(notebooks)} notebooks)"
    return chosen, f"the notebook nearest the top (of {len(notebooks)}; none is named as a demo)"


def _readme_script(readme: str, scripts: list[str]) -> tuple[str, tuple[str, ...]] | None:
    """The script command the README shows; of several, the one named most like a demo
    (a README often shows training first, which is the slowest to prove anything)."""
    found: list[tuple[str, tuple[str, ...]]] = []
    # A command continued over lines with `\` is one command.
    for line in re.sub(r"\\[ \t]*\n[ \t]*", " ", readme).splitlines():
        match = _SCRIPT_LINE.match(line.strip())
        if not match:
            continue
        try:
            words = shlex.split(match["rest"])
        except ValueError:
            continue
        path = words[0].removeprefix("./")
        if path in scripts:
            found.append((path, tuple(words[1:])))
    if not found:
        return None
    return min(found, key=lambda command: _script_rank(command[0]))


def _script_rank(path: str) -> int:
    """A script named for training goes last, after names that say nothing."""
    if "train" in PurePosixPath(path).stem.lower():
        return len(_NAME_WORDS) + 1
    return _name_rank(path)


def _name_rank(path: str) -> int:
    stem = PurePosixPath(path).stem.lower()
    return next((i for i, w in enumerate(_NAME_WORDS) if w in stem), len(_NAME_WORDS))


def _top_scripts(scripts: list[str]) -> list[str]:
    return sorted((s for s in scripts if "/" not in s and s != "setup.py"), key=str.lower)


def _others(paths: list[str], chosen: str) -> tuple[str, ...]:
    return tuple(p for p in paths if p != chosen)
