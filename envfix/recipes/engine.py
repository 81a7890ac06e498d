"""The recipe catalogue: load it, say which recipes apply to a runtime, apply them to a
Python file or a notebook cell, and run every recipe's own before/after examples.

A recipe is one YAML file in the top-level `recipes/` folder (installed as the package data
`envfix.catalogue`). It states its id, title, the library and the version in which the old
API is gone, the error text a run shows, one or more fixes (a fix kind and its settings),
requirements the fix adds, and examples. See `recipes/README.md` for the format.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import libcst as cst
import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envfix.recipes.fixes import (
    Fix,
    RecipeError,
    dotted,
    fix_for,
    mentions_any,
    source_index,
)

REQUIRED_KEYS = ("id", "title", "library", "gone_in", "error", "fix", "examples", "source")


@dataclass(frozen=True)
class Example:
    before: str
    after: str


@dataclass(frozen=True)
class Recipe:
    id: str
    title: str
    library: str
    """The distribution whose change broke the code (canonical), or `python`."""
    gone_in: Version
    """The first version without the old API: the recipe applies from there on."""
    error: str
    """A regular expression matching the error a run shows (for the repair loop)."""
    fixes: tuple[Fix, ...]
    examples: tuple[Example, ...]
    source: str
    review: bool = False
    """Mechanical, but the meaning may differ: applied, and listed as "check this"."""
    note: str = ""
    requires: tuple[str, ...] = ()
    """Requirements the fix brings in (`joblib` once `sklearn.externals.joblib` is gone)."""
    breakage: str | None = None
    """The entry of the breakage catalogue it comes from."""
    target_names: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """What the new library has, under the old names: each package (`gym.envs`) with its
    submodules and the names it exports. A file that reaches an old name the new library
    lacks (`gym.utils.json_utils`) is left as it is: rewriting it would trade a warning
    for an ImportError. Empty when the recipe does not move code to another library."""
    path: str = field(default="", compare=False)

    def lacks(self, text: str) -> tuple[str, ...]:
        """The dotted names the code reaches through its imports that the new library does
        not have (see `target_names`): while there is one, the recipe leaves the file."""
        if not self.target_names:
            return ()
        reached = source_index(text).reached or frozenset()
        missing = {
            gone
            for name in reached
            if name.partition(".")[0] in self.target_names
            and (gone := _first_missing(name, self.target_names))
        }
        return tuple(sorted(missing))

    def could_change(self, text: str) -> bool:
        """A cheap look at the text: False when no fix can change it (no LibCST needed)."""
        index = source_index(text)
        return any(fix.could_change(index) for fix in self.fixes)

    def applies_to(self, versions: Mapping[str, str], python_version: str) -> bool:
        """Whether the target has the library at a version without the old API."""
        installed = python_version if self.library == "python" else versions.get(self.library)
        if installed is None:
            return False
        try:
            return Version(Version(installed).public) >= self.gone_in
        except InvalidVersion:
            return False

    def matches_error(self, text: str) -> bool:
        return re.search(self.error, text) is not None


def _first_missing(name: str, packages: Mapping[str, frozenset[str]]) -> str | None:
    """The first prefix of `name` that its package does not have (`gym.utils.json_utils`),
    walking down through packages; None when every step exists. Below a module that is not
    a package (`gym.logger`) or a name (`gym.Env`), nothing is checked."""
    parts = name.split(".")
    package = parts[0]
    for part in parts[1:]:
        if part.startswith("__") and part.endswith("__"):
            return None  # `gym.__version__`, `gym.__file__`
        if part not in packages[package]:
            return f"{package}.{part}"
        package = f"{package}.{part}"
        if package not in packages:
            return None
    return None


def _target_names(data: Any) -> dict[str, frozenset[str]]:
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise RecipeError("'target_names' maps each package to a list of names")
    names = {str(k): frozenset(str(n) for n in v) for k, v in data.items()}
    orphans = [k for k in names if k.partition(".")[0] not in names]
    if orphans:
        raise RecipeError(f"'target_names' lacks the top package of {', '.join(orphans)}")
    return names


def load_recipe(data: Any, path: str = "") -> Recipe:
    """A `Recipe` from a parsed YAML document; RecipeError naming the file when it is wrong."""
    where = f"{path}: " if path else ""
    if not isinstance(data, dict):
        raise RecipeError(f"{where}a recipe is a mapping")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise RecipeError(f"{where}missing {', '.join(missing)}")
    specs = data["fix"] if isinstance(data["fix"], list) else [data["fix"]]
    try:
        fixes = tuple(
            fix_for(str(spec["kind"]), {k: v for k, v in spec.items() if k != "kind"})
            for spec in specs
        )
        re.compile(str(data["error"]))
        target_names = _target_names(data.get("target_names"))
        gone_in = Version(str(data["gone_in"]))
    except (KeyError, TypeError, re.error, InvalidVersion, RecipeError) as exc:
        raise RecipeError(f"{where}{exc}") from exc
    examples = tuple(
        Example(str(e["before"]), str(e["after"])) for e in data["examples"] if isinstance(e, dict)
    )
    if not examples:
        raise RecipeError(f"{where}a recipe needs at least one before/after example")
    library = str(data["library"])
    return Recipe(
        id=str(data["id"]),
        title=str(data["title"]),
        library="python" if library == "python" else canonicalize_name(library),
        gone_in=gone_in,
        error=str(data["error"]),
        fixes=fixes,
        examples=examples,
        source=str(data["source"]),
        review=bool(data.get("review", False)),
        note=str(data.get("note", "")),
        requires=tuple(str(r) for r in data.get("requires", ())),
        breakage=data.get("breakage"),
        target_names=target_names,
        path=path,
    )


@cache
def catalogue() -> tuple[Recipe, ...]:
    """Every recipe shipped with envfix, sorted by id."""
    folder = resources.files("envfix.catalogue")
    recipes = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            recipes.append(
                load_recipe(yaml.safe_load(entry.read_text(encoding="utf-8")), entry.name)
            )
    ids = [r.id for r in recipes]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise RecipeError(f"recipe ids used twice: {', '.join(sorted(duplicates))}")
    return tuple(sorted(recipes, key=lambda r: r.id))


def recipe(recipe_id: str) -> Recipe:
    for r in catalogue():
        if r.id == recipe_id:
            return r
    raise KeyError(recipe_id)


def applicable(
    recipes: Iterable[Recipe], versions: Mapping[str, str], python_version: str
) -> list[Recipe]:
    return [r for r in recipes if r.applies_to(versions, python_version)]


# --- applying to source -------------------------------------------------------------------


def apply_to_source(recipe: Recipe, source: str) -> tuple[str, int]:
    """The source with the recipe's fixes applied, and how many changes they made.

    Source that does not parse (Python 2, a syntax error) is returned unchanged, and so is
    source that needs a name the new library lacks (`Recipe.lacks`).
    """
    index = source_index(source)
    wanted = [fix.could_change(index) for fix in recipe.fixes]
    if not any(wanted) or recipe.lacks(source):
        return source, 0
    module = parse(source)
    if module is None:
        return source, 0
    changes = 0
    for fix, could in zip(recipe.fixes, wanted, strict=True):
        # The look was at the source as it came: once a fix changed it, the next one runs.
        if could or changes:
            outcome = fix.run(module)
            module, changes = outcome.module, changes + outcome.changes
    return (module.code, changes) if changes else (source, 0)


@functools.lru_cache(maxsize=256)
def parse(source: str) -> cst.Module | None:
    """The source parsed once for every recipe that looks at it; None when it is not
    Python 3. (A module is immutable: sharing it between recipes is safe.)"""
    try:
        return cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError):
        return None


# Lines that are IPython, not Python: kept aside while a cell is rewritten.
_IPYTHON_LINE = re.compile(r"^(\s*)(?:[%!]|\?\??\w)|^\s*[\w.]+\?\??\s*$|=\s*[!%]")
_KEEP = "  # envfix-keep:{}"
_KEEP_LINE = re.compile(r"^\s*pass  # envfix-keep:(\d+)$")
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}
_SENTINEL = "__envfix_cell_starts_here__ = None"


def _hide_ipython(source: str) -> tuple[str, list[str]] | None:
    """The cell as Python, its IPython lines swapped for placeholders; None for a cell whose
    body is not Python (`%%bash`, `%%html`, ...)."""
    lines = source.split("\n")
    first = lines[0].strip()
    if first.startswith("%%") and first[2:].split(" ")[0] not in _PYTHON_CELL_MAGICS:
        return None
    kept: list[str] = []
    out: list[str] = []
    for line in lines:
        if _IPYTHON_LINE.match(line) or (kept and out and out[-1].endswith("\\")):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}pass{_KEEP.format(len(kept))}")
            kept.append(line)
        else:
            out.append(line)
    return "\n".join(out), kept


def _restore_ipython(source: str, kept: list[str]) -> str:
    lines = []
    for line in source.split("\n"):
        m = _KEEP_LINE.match(line)
        lines.append(kept[int(m[1])] if m else line)
    return "\n".join(lines)


def notebook_imports(cells: Iterable[str]) -> str:
    """The top-level import lines of every code cell: what names in one cell may refer to."""
    found = []
    for cell in cells:
        hidden = _hide_ipython(cell)
        if hidden is None:
            continue
        for line in hidden[0].split("\n"):
            if re.match(r"^(?:import|from)\s+[\w.]+", line) and not line.rstrip().endswith(
                ("(", "\\")
            ):
                found.append(line.split("#")[0].rstrip())
    return "\n".join(dict.fromkeys(found))


def _cell_marker(index: int) -> str:
    return f"__envfix_cell_{index}__ = None"


def apply_to_notebook(recipe: Recipe, cells: list[str]) -> tuple[list[str], int]:
    """The code cells with the recipe applied, read as one program: the kernel runs them in
    one namespace, so an import in one cell names things in the others."""
    hidden = [_hide_ipython(cell) for cell in cells]
    python = [h[0] if h is not None else "" for h in hidden]
    combined = "\n".join(f"{_cell_marker(i)}\n{text}" for i, text in enumerate(python)) + "\n"
    if parse(combined) is None:
        # A cell that does not parse (Python 2, a typo) spoils the whole: cell by cell then.
        imports = notebook_imports(cells)
        results = [apply_to_cell(recipe, cell, imports) for cell in cells]
        return [text for text, _ in results], sum(n for _, n in results)
    rewritten, changes = apply_to_source(recipe, combined)
    if not changes:
        return cells, 0
    pieces = re.split(r"^__envfix_cell_(\d+)__ = None\n", rewritten, flags=re.MULTILINE)
    out = list(cells)
    preamble = pieces[0]  # what a fix put before the first cell (rare: an import)
    for index_text, body in zip(pieces[1::2], pieces[2::2], strict=True):
        index = int(index_text)
        text = body[:-1] if body.endswith("\n") else body
        if index == 0 and preamble.strip():
            text = preamble + text
        kept = hidden[index]
        if kept is None or text == python[index]:
            continue
        out[index] = _restore_ipython(text, kept[1])
    return out, changes


def apply_to_cell(recipe: Recipe, cell: str, imports: str) -> tuple[str, int]:
    """One notebook cell with the recipe applied. `imports` are the notebook's import lines,
    put before the cell while it is rewritten so names resolve as in the running kernel."""
    if not recipe.could_change(f"{imports}\n{cell}"):
        return cell, 0
    hidden = _hide_ipython(cell)
    if hidden is None:
        return cell, 0
    python, kept = hidden
    combined = f"{imports}\n{_SENTINEL}\n{python}" if imports else f"{_SENTINEL}\n{python}"
    rewritten, changes = apply_to_source(recipe, combined)
    if not changes:
        return cell, 0
    header, _, body = rewritten.partition(_SENTINEL + "\n")
    if not body and not rewritten.endswith(_SENTINEL + "\n"):
        return cell, 0
    carried = _carried_lines(imports, header, body)
    body = "\n".join([*carried, body]) if carried else body
    return _restore_ipython(body, kept), changes


def _carried_lines(imports: str, header: str, body: str) -> list[str]:
    """The lines a fix wrote into the header (the notebook's imports, put before the cell)
    that the cell must have: imports it added and statements it added, such as
    `tf.disable_v2_behavior()`; and the header's imports it rewrote (`import
    tensorflow.compat.v1 as tf`) when an added statement uses their names, since the cell
    that holds the original import stays as it is. A rewritten import no added line needs
    is fixed in its own cell. Lines the cell has already are not repeated."""
    before = [line for line in imports.split("\n") if line]
    bound: set[str] = set()
    for line in before:
        bound |= _bound_names(line) or set()
    new = [line for line in header.rstrip("\n").split("\n") if line and line not in before]
    added, rewritten = [], []
    for line in new:
        names = _bound_names(line)
        if names is None or names - bound:
            added.append(line)
        else:
            rewritten.append((line, names))
    statements = [line for line in added if _bound_names(line) is None]
    needed = {
        line
        for line, names in rewritten
        if any(mentions_any(statement, names) for statement in statements)
    }
    have = set(body.split("\n"))
    return [line for line in new if (line in added or line in needed) and line not in have]


def _bound_names(line: str) -> set[str] | None:
    """The names an import line binds (`tf` for `import tensorflow as tf`); None for a line
    that is not an import."""
    try:
        statement = cst.parse_statement(line + "\n")
    except cst.ParserSyntaxError:
        return None
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    names: set[str] = set()
    for small in statement.body:
        if isinstance(small, cst.Import):
            names |= {
                a.evaluated_alias or (dotted(a.name) or "").partition(".")[0] for a in small.names
            }
        elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
            names |= {a.evaluated_alias or dotted(a.name) or "" for a in small.names}
        else:
            return None
    return names


def check_examples(recipe: Recipe) -> list[str]:
    """What is wrong with a recipe's examples: each `before` must become exactly its `after`,
    which must compile, and applying the recipe again must change nothing."""
    problems = []
    for number, example in enumerate(recipe.examples, start=1):
        got, changes = apply_to_source(recipe, example.before)
        if got != example.after:
            problems.append(f"example {number}: got\n{got}\nexpected\n{example.after}")
            continue
        if changes == 0 and example.before != example.after:
            problems.append(f"example {number}: nothing changed")
        try:
            compile(example.after, f"{recipe.id}-example-{number}", "exec")
        except SyntaxError as exc:
            problems.append(f"example {number}: the result does not compile: {exc}")
        again, _ = apply_to_source(recipe, got)
        if again != got:
            problems.append(f"example {number}: a second application changes it again")
    return problems
