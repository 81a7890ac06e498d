"""The fix kinds: code, written once each. A recipe (data, in `recipes/`) chooses a kind and
fills in its settings; the kind rewrites source with LibCST, so formatting and comments
survive, and matches what names really refer to through the imports (`import numpy as np`,
`from numpy import float`), never the bare text: a local variable `np` is not numpy.
"""

from __future__ import annotations

import ast
import functools
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import libcst as cst
from libcst.metadata import (
    MetadataWrapper,
    QualifiedName,
    QualifiedNameProvider,
    QualifiedNameSource,
)

from envfix.scanner.names import bundled_import_map, stdlib_modules

BUILTINS = frozenset(
    {
        "float",
        "int",
        "bool",
        "object",
        "str",
        "complex",
        "bytes",
        "list",
        "dict",
        "tuple",
        "set",
        "len",
        "range",
        "max",
        "min",
        "sum",
        "abs",
        "round",
        "print",
    }
)


class RecipeError(Exception):
    """A recipe whose settings do not fit its fix kind."""


@dataclass
class Outcome:
    """What a fix did to one module."""

    module: cst.Module
    changes: int = 0


# --- what a file names, before it is parsed with LibCST --------------------------------


@dataclass(frozen=True)
class SourceIndex:
    """What a source text names, read once with cheap tools (a regular expression and
    Python's own `ast` parser) before any recipe looks at it: a fix whose words or imported
    names are missing cannot change the file, so the file is not parsed with LibCST nor are
    its names resolved for it. Every check errs on the side of "could change"."""

    text: str
    words: frozenset[str]
    """Every identifier-like token of the text (comments and strings included)."""
    reached: frozenset[str] | None
    """Dotted names the code reaches through an import, with all their prefixes:
    `np.linalg.norm` after `import numpy as np` gives `numpy`, `numpy.linalg` and
    `numpy.linalg.norm`; imported modules and names count too. None when `ast` cannot read
    the text (then nothing is ruled out)."""

    def mentions(self, words: Iterable[str]) -> bool:
        """Whether the text has one of the words as a whole word (see `mentions_any`)."""
        words = tuple(words)
        if all(_WORD.fullmatch(word) for word in words):
            return not self.words.isdisjoint(words)
        return mentions_any(self.text, words)

    def reaches(self, path: str) -> bool:
        """Whether the code may refer to `path` (or to a name below it) through an import."""
        return self.reached is None or path in self.reached


_WORD = re.compile(r"\w+")


@functools.lru_cache(maxsize=64)
def source_index(text: str) -> SourceIndex:
    return SourceIndex(text, frozenset(_WORD.findall(text)), _reached_names(text))


def _reached_names(text: str) -> frozenset[str] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and the like
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    bound: dict[str, set[str]] = {}
    reached: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                reached.add(alias.name)
                local = alias.asname or alias.name.partition(".")[0]
                bound.setdefault(local, set()).add(alias.name if alias.asname else local)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            reached.add(node.module)
            for alias in node.names:
                if alias.name != "*":
                    full = f"{node.module}.{alias.name}"
                    reached.add(full)
                    bound.setdefault(alias.asname or alias.name, set()).add(full)
    if bound:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                chain = []
                head: ast.expr = node
                while isinstance(head, ast.Attribute):
                    chain.append(head.attr)
                    head = head.value
                if isinstance(head, ast.Name) and head.id in bound:
                    rest = ".".join(reversed(chain))
                    reached.update(f"{path}.{rest}" for path in bound[head.id])
            elif isinstance(node, ast.Name) and node.id in bound:
                reached.update(bound[node.id])
    with_prefixes = set(reached)
    for name in reached:
        while "." in name:
            name = name.rpartition(".")[0]
            with_prefixes.add(name)
    return frozenset(with_prefixes)


# --- names through imports ----------------------------------------------------------------


def imported_name(names: Iterable[QualifiedName] | None) -> str | None:
    """The dotted name a node refers to through an import (`np.float` -> `numpy.float`),
    from its qualified names; None when it is not imported, or when a local binding of the
    same name exists (a function's `np` parameter, or `np = ...` at module level)."""
    names = list(names or ())
    if not names:
        return None
    imported = [q.name for q in names if q.source is QualifiedNameSource.IMPORT]
    local = [q for q in names if q.source is QualifiedNameSource.LOCAL]
    if len(imported) != 1 or local:
        return None
    return imported[0]


def dotted(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for an Attribute/Name chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def module_aliases(module: cst.Module) -> dict[str, str]:
    """Dotted path -> the local name the file uses for it (`numpy` -> `np`, and for
    `from scipy import signal`, `scipy.signal` -> `signal`), from top-level imports."""
    aliases: dict[str, str] = {}
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    name = dotted(alias.name)
                    if name is not None:
                        aliases.setdefault(name, alias.evaluated_alias or name)
            elif (
                isinstance(small, cst.ImportFrom)
                and small.module is not None
                and not small.relative
                and not isinstance(small.names, cst.ImportStar)
                and (base := dotted(small.module))
            ):
                for alias in small.names:
                    name = dotted(alias.name)
                    if name is not None:
                        aliases.setdefault(f"{base}.{name}", alias.evaluated_alias or name)
    return aliases


class _SkipImports(cst.CSTVisitor):
    """A visitor of the code outside the import statements."""

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False


def refers_below(module: cst.Module, path: str) -> bool:
    """Does code outside the imports use a name below the module `path` through an import of
    one of its parents (`collections.abc.Iterable` after `import collections`)?"""
    aliases = module_aliases(module)
    if path in aliases:
        return False
    full_names = {local: full for full, local in aliases.items()}
    found = False

    class Look(_SkipImports):
        def visit_Attribute(self, node: cst.Attribute) -> bool:
            nonlocal found
            name = dotted(node)
            if name is None:
                return True
            head, _, rest = name.partition(".")
            if head in full_names:
                found = found or f"{full_names[head]}.{rest}".startswith(f"{path}.")
            return False

    module.visit(Look())
    return found


def prune_imports(module: cst.Module, gone: set[str]) -> cst.Module:
    """Remove imports of `gone` names (and of what is below them) that nothing uses now."""
    if not gone:
        return module
    used = _used_names(module)
    return module.visit(_Pruner(gone, used))


def _used_names(module: cst.Module) -> set[str]:
    used: set[str] = set()

    class Collect(_SkipImports):
        def visit_Name(self, node: cst.Name) -> None:
            used.add(node.value)

    module.visit(Collect())
    return used


class _Pruner(cst.CSTTransformer):
    def __init__(self, gone: set[str], used: set[str]) -> None:
        super().__init__()
        self.gone, self.used = gone, used

    def _unused(self, path: str, local: str) -> bool:
        hit = any(path == g or path.startswith(f"{g}.") for g in self.gone)
        return hit and local.partition(".")[0] not in self.used

    def leave_Import(
        self, original: cst.Import, updated: cst.Import
    ) -> cst.Import | cst.RemovalSentinel:
        kept = [
            a
            for a in updated.names
            if not self._unused(dotted(a.name) or "", a.evaluated_alias or dotted(a.name) or "")
        ]
        if len(kept) == len(updated.names):
            return updated
        if not kept:
            return cst.RemovalSentinel.REMOVE
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(names=kept)

    def leave_ImportFrom(
        self, original: cst.ImportFrom, updated: cst.ImportFrom
    ) -> cst.ImportFrom | cst.RemovalSentinel:
        if updated.module is None or updated.relative or isinstance(updated.names, cst.ImportStar):
            return updated
        base = dotted(updated.module) or ""
        kept = [
            a
            for a in updated.names
            if not self._unused(
                f"{base}.{dotted(a.name)}", a.evaluated_alias or dotted(a.name) or ""
            )
        ]
        if len(kept) == len(updated.names):
            return updated
        if not kept:
            return cst.RemovalSentinel.REMOVE
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(names=kept)


def expression(text: str) -> cst.BaseExpression:
    return cst.parse_expression(text)


def small_statement(text: str) -> cst.BaseSmallStatement:
    """One simple statement (`import x`) parsed from text."""
    line = cst.parse_statement(text + "\n")
    assert isinstance(line, cst.SimpleStatementLine)
    return line.body[0]


class ImportAdder:
    """Adds `import x` lines after the first run of top-level imports, once each. With
    `auto` off (a recipe that lists its `imports` itself) it adds nothing on its own."""

    def __init__(self, auto: bool = True) -> None:
        self.wanted: list[str] = []
        self.auto = auto

    def need(self, module_path: str) -> str:
        if self.auto and module_path not in self.wanted:
            self.wanted.append(module_path)
        return module_path

    def require(self, module_path: str) -> None:
        """Add this import whatever `auto` says (a recipe's own `imports`)."""
        if module_path not in self.wanted:
            self.wanted.append(module_path)

    def apply(self, module: cst.Module) -> cst.Module:
        if not self.wanted:
            return module
        have = module_aliases(module)
        lines = [
            cst.parse_statement(f"import {path}\n") for path in self.wanted if path not in have
        ]
        if not lines:
            return module
        body = list(module.body)
        position = _after_imports(body)
        return module.with_changes(body=[*body[:position], *lines, *body[position:]])


def _after_imports(body: Sequence[cst.BaseStatement]) -> int:
    """Where new imports go: after the first run of import statements (in a notebook, that
    is in the first cell that imports, before any cell can use them), else after the
    docstring."""
    position = 1 if body and _is_docstring(body[0]) else 0
    seen = False
    for index, stmt in enumerate(body):
        is_import = isinstance(stmt, cst.SimpleStatementLine) and any(
            isinstance(s, cst.Import | cst.ImportFrom) for s in stmt.body
        )
        if is_import:
            seen = True
            position = index + 1
        elif seen:
            break
    return position


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def reference(path: str, aliases: Mapping[str, str], adder: ImportAdder) -> str:
    """Source text that refers to the dotted `path` in this file: through an existing import
    of its module (`numpy.nan` -> `np.nan`), else by importing the module."""
    parts = path.split(".")
    for length in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:length])
        if module in aliases:
            # Reached through an imported parent (`np.random.rand`). Where a submodule must
            # be imported itself (`collections.abc`), the recipe says so in `imports`.
            return ".".join([aliases[module], *parts[length:]])
    if len(parts) == 1:
        return path
    # Everything but the last name is taken for the module (`sklearn.datasets`); where it
    # is not one (`scipy.stats.norm.pdf`), the recipe lists its `imports` instead.
    adder.need(".".join(parts[:-1]))
    return path


_PATH = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b")


def render(template: str, aliases: Mapping[str, str], adder: ImportAdder) -> str:
    """A target written with full module paths (`-numpy.inf`), as this file refers to them;
    dotted names that do not start with a module (`p.argmax()` in a lambda) stay as they are."""

    def one(m: re.Match[str]) -> str:
        text = m[0]
        if text.startswith("__envfix_") or not (
            text in aliases or text.partition(".")[0] in aliases or is_module_top(text)
        ):
            return text
        return reference(text, aliases, adder)

    return _PATH.sub(one, template)


# --- the kinds ----------------------------------------------------------------------------


@dataclass
class Fix:
    """Base of the fix kinds: settings from the recipe, and `apply` on one module.

    Every kind also takes `drop_imports` (modules or names whose imports go once unused,
    such as `pipes` after `pipes.quote` became `shlex.quote`) and `imports` (submodules to
    import where the changed code reaches them through their parent, such as
    `collections.Iterable` -> `collections.abc.Iterable`: `collections.abc` is not always an
    attribute of `collections` until something imports it)."""

    kind: ClassVar[str] = ""
    settings: Mapping[str, Any] = field(default_factory=dict)

    def triggers(self) -> tuple[str, ...]:
        """Words of which one must appear in a file for this fix to possibly change it."""
        raise NotImplementedError

    def modules(self) -> tuple[str, ...]:
        """Top-level packages of which one must be named in a file for this fix to apply;
        empty when the fix does not depend on an import."""
        return ()

    def needs(self) -> list[tuple[str, ...]]:
        """Groups of words: a file can only change when it has a word of every group."""
        return [group for group in (self.triggers(), self.modules()) if group]

    def references(self) -> tuple[str, ...]:
        """Full dotted names of which the code must reach one through an import for this
        fix to change it; empty when there is no such condition."""
        return ()

    def could_change(self, index: SourceIndex) -> bool:
        """A cheap look (no LibCST): False when this fix cannot change the source."""
        if not all(index.mentions(group) for group in self.needs()):
            return False
        references = self.references()
        return not references or any(index.reaches(name) for name in references)

    def gone(self) -> set[str]:
        """Dotted names the fix rewrites away: their imports go once nothing uses them."""
        return {str(name) for name in self.settings.get("drop_imports", ())}

    def apply(self, module: cst.Module) -> Outcome:
        raise NotImplementedError

    def run(self, module: cst.Module) -> Outcome:
        """`apply`, then the imports it made unneeded removed and the ones it needs added."""
        outcome = self.apply(module)
        if not outcome.changes:
            # The module itself, not an equal copy: its name resolution stays usable.
            return Outcome(module)
        adder = ImportAdder()
        module = prune_imports(outcome.module, self.gone())
        for path in self.settings.get("imports", ()):
            if refers_below(module, str(path)):
                adder.require(str(path))
        outcome.module = adder.apply(module)
        return outcome

    def adder(self) -> ImportAdder:
        """The import adder for this fix's own rewriting: automatic unless the recipe lists
        its `imports`."""
        return ImportAdder(auto="imports" not in self.settings)

    def setting(self, key: str, kind: type, default: Any = None) -> Any:
        value = self.settings.get(key, default)
        if value is None or not isinstance(value, kind):
            raise RecipeError(f"{self.kind}: '{key}' must be a {kind.__name__}")
        return value


class _Rewriter(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (QualifiedNameProvider,)

    def __init__(self) -> None:
        super().__init__()
        self.changes = 0

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        # An import split in two (`from collections import OrderedDict` and `from
        # collections.abc import Mapping`) reads better on two lines than joined by `;`.
        if len(updated.body) <= len(original.body):
            return updated
        return cst.FlattenSentinel(
            [
                updated.with_changes(
                    body=[small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)],
                    leading_lines=updated.leading_lines if index == 0 else [],
                    trailing_whitespace=updated.trailing_whitespace
                    if index == 0
                    else cst.TrailingWhitespace(),
                )
                for index, small in enumerate(updated.body)
            ]
        )

    def imported(self, node: cst.CSTNode) -> str | None:
        return imported_name(self.get_metadata(QualifiedNameProvider, node, None))


def _run(module: cst.Module, rewriter: _Rewriter) -> Outcome:
    new = metadata_wrapper(module).visit(rewriter)
    return Outcome(new if rewriter.changes else module, rewriter.changes)


_LAST_WRAPPER: list[MetadataWrapper] = []


def metadata_wrapper(module: cst.Module) -> MetadataWrapper:
    """The module with its name resolution, kept for the next fix of the same unchanged
    module: resolving names costs as much as parsing, and most fixes change nothing."""
    if _LAST_WRAPPER and _LAST_WRAPPER[0].module is module:
        return _LAST_WRAPPER[0]
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    _LAST_WRAPPER[:] = [wrapper]
    return wrapper


@dataclass
class RenameAttribute(Fix):
    """`np.float` -> `float`, `np.NaN` -> `np.nan`, `scipy.interp` -> `numpy.interp`,
    `np.NINF` -> `-np.inf`. Settings: `names: {old.dotted.name: target}` where a target is a
    builtin, a full dotted name, or an expression written with full dotted names."""

    kind: ClassVar[str] = "rename-attribute"

    def names(self) -> dict[str, str]:
        names = self.setting("names", dict)
        return {str(k): str(v) for k, v in names.items()}

    def triggers(self) -> tuple[str, ...]:
        return tuple(old.rsplit(".", 1)[-1] for old in self.names())

    def modules(self) -> tuple[str, ...]:
        return _tops(self.names())

    def references(self) -> tuple[str, ...]:
        return tuple(self.names())

    def apply(self, module: cst.Module) -> Outcome:
        adder = self.adder()
        rewriter = _RenameAttributes(self.names(), module_aliases(module), adder)
        outcome = _run(module, rewriter)
        outcome.module = adder.apply(outcome.module)
        return outcome


class _RenameAttributes(_Rewriter):
    def __init__(self, names: dict[str, str], aliases: dict[str, str], adder: ImportAdder) -> None:
        super().__init__()
        self.names = names
        self.aliases = aliases
        self.adder = adder
        self.in_import = 0
        # Resolving a name through the imports is costly: only names that could be one.
        self.last_names = {old.rpartition(".")[2] for old in names}
        self.local_names = set(self.last_names)

    def visit_Import(self, node: cst.Import) -> bool:
        self.in_import += 1
        return True

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        self.in_import -= 1
        return updated

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if not isinstance(node.names, cst.ImportStar):
            self.local_names.update(a.evaluated_alias for a in node.names if a.evaluated_alias)
        return False

    def leave_ImportFrom(
        self, original: cst.ImportFrom, updated: cst.ImportFrom
    ) -> cst.BaseSmallStatement | cst.FlattenSentinel[cst.BaseSmallStatement] | cst.RemovalSentinel:
        module = dotted(original.module) if original.module and not original.relative else None
        if module is None or isinstance(original.names, cst.ImportStar):
            return updated
        kept: list[cst.ImportAlias] = []
        moved: list[cst.BaseSmallStatement] = []
        for alias in original.names:
            name = dotted(alias.name)
            target = self.names.get(f"{module}.{name}")
            if target is None:
                kept.append(alias)
                continue
            self.changes += 1
            local = alias.evaluated_alias or str(name)
            if _is_plain_path(target) and "." in target:
                new_module, _, new_name = target.rpartition(".")
                asname = "" if new_name == local else f" as {local}"
                moved.append(small_statement(f"from {new_module} import {new_name}{asname}"))
            # A builtin or an expression replaces the name where it is used (leave_Name).
        if not moved and len(kept) == len(original.names):
            return updated
        statements: list[cst.BaseSmallStatement] = []
        if kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            statements.append(updated.with_changes(names=kept))
        statements.extend(moved)
        if not statements:
            return cst.RemovalSentinel.REMOVE
        return cst.FlattenSentinel(statements)

    def leave_Attribute(
        self, original: cst.Attribute, updated: cst.Attribute
    ) -> cst.BaseExpression:
        if self.in_import or original.attr.value not in self.last_names:
            return updated
        name = self.imported(original)
        target = self.names.get(name or "")
        if name is None or target is None:
            return updated
        self.changes += 1
        return self._replacement(name, target, updated.value)

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        if self.in_import or original.value not in self.local_names:
            return updated
        name = self.imported(original)
        target = self.names.get(name or "")
        if name is None or target is None:
            return updated
        if _is_plain_path(target) and "." in target:
            return updated  # the from-import was moved instead; the name stays
        self.changes += 1
        return expression(render(target, self.aliases, self.adder))

    def _replacement(self, old: str, target: str, head: cst.BaseExpression) -> cst.BaseExpression:
        if target in BUILTINS or not _is_plain_path(target):
            return expression(render(target, self.aliases, self.adder))
        old_module, new_module = old.rpartition(".")[0], target.rpartition(".")[0]
        if old_module == new_module:
            # Same module: keep whatever the code used for it (`np`), swap the attribute.
            return cst.Attribute(value=head, attr=cst.Name(target.rpartition(".")[2]))
        return expression(reference(target, self.aliases, self.adder))


def _tops(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(name).partition(".")[0] for name in names))


def _is_plain_path(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*", text) is not None


@dataclass
class MoveModule(Fix):
    """A module that moved: `sklearn.cross_validation` -> `sklearn.model_selection`,
    `sklearn.externals.joblib` -> `joblib`. Settings: `modules: {old.path: new.path}`."""

    kind: ClassVar[str] = "move-module"

    def moves(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.setting("modules", dict).items()}

    def triggers(self) -> tuple[str, ...]:
        return tuple(old.rsplit(".", 1)[-1] for old in self.moves())

    def modules(self) -> tuple[str, ...]:
        return _tops(self.moves())

    def references(self) -> tuple[str, ...]:
        return tuple(self.moves())

    def apply(self, module: cst.Module) -> Outcome:
        return _run(module, _MoveModules(self.moves()))


class _MoveModules(_Rewriter):
    def __init__(self, modules: dict[str, str]) -> None:
        super().__init__()
        self.modules = modules
        self.in_import = 0

    def visit_Import(self, node: cst.Import) -> bool:
        self.in_import += 1
        return True

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        self.in_import += 1
        return True

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        # `imp.reload` after `import imp` became `import importlib`: the module's own name
        # changed with it (with `import imp as x`, the name `x` stays and nothing changes).
        if self.in_import or original.value not in self.modules:
            return updated
        if self.imported(original) != original.value:
            return updated
        self.changes += 1
        return expression(self.modules[original.value])

    def _moved(self, path: str) -> str | None:
        for old, new in self.modules.items():
            if path == old or path.startswith(old + "."):
                return new + path[len(old) :]
        return None

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        self.in_import -= 1
        names = []
        for alias in updated.names:
            path = dotted(alias.name)
            moved = self._moved(path) if path else None
            if moved is None:
                names.append(alias)
                continue
            self.changes += 1
            names.append(alias.with_changes(name=expression(moved)))
        return updated.with_changes(names=names)

    def leave_ImportFrom(
        self, original: cst.ImportFrom, updated: cst.ImportFrom
    ) -> cst.BaseSmallStatement | cst.FlattenSentinel[cst.BaseSmallStatement] | cst.RemovalSentinel:
        self.in_import -= 1
        module = dotted(original.module) if original.module and not original.relative else None
        if module is None:
            return updated
        moved = self._moved(module)
        if moved is not None:
            self.changes += 1
            return updated.with_changes(module=expression(moved))
        if isinstance(original.names, cst.ImportStar):
            return updated
        # `from sklearn.externals import joblib`: the moved module is a name of its parent.
        kept: list[cst.ImportAlias] = []
        imports: list[cst.BaseSmallStatement] = []
        for alias in original.names:
            name = dotted(alias.name)
            target = self._moved(f"{module}.{name}")
            if target is None:
                kept.append(alias)
                continue
            self.changes += 1
            local = alias.evaluated_alias or str(name)
            if "." in target:
                parent, _, leaf = target.rpartition(".")
                text = f"from {parent} import {leaf}" + ("" if leaf == local else f" as {local}")
            else:
                text = f"import {target}" + ("" if target == local else f" as {local}")
            imports.append(small_statement(text))
        if not imports:
            return updated
        statements: list[cst.BaseSmallStatement] = []
        if kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            statements.append(updated.with_changes(names=kept))
        return cst.FlattenSentinel([*statements, *imports])

    def leave_Attribute(
        self, original: cst.Attribute, updated: cst.Attribute
    ) -> cst.BaseExpression:
        # `sklearn.cross_validation.KFold` used through `import sklearn.cross_validation`.
        text = dotted(original)
        if text is None or not any(old in text for old in self.modules):
            return updated
        name = self.imported(original)
        if name is None or text != name:
            return updated
        moved = self._moved(name)
        if moved is None or self._moved(name.rpartition(".")[0]) is not None:
            return updated
        self.changes += 1
        return expression(moved)


@dataclass
class RenameKeyword(Fix):
    """Keyword arguments renamed, given new values, or dropped, in calls of named callables
    (`calls`, full dotted names) or of methods of any object (`methods`, bare names).

    `keywords: {old: new}` or `{old: {to: new, values: {old_value: new_value}, otherwise:
    template, drop: true}}`; a keyword mapped to itself with `values` changes only the value
    (`criterion='mse'`). `otherwise` rewrites a value not in `values` (a variable) through a
    template such as `"-1 if {value} else None"`; without it such a value is left alone."""

    kind: ClassVar[str] = "rename-keyword"

    def triggers(self) -> tuple[str, ...]:
        return tuple(str(k) for k in self.setting("keywords", dict))

    def needs(self) -> list[tuple[str, ...]]:
        calls = [str(c) for c in self.settings.get("calls", [])]
        names = tuple(c.rsplit(".", 1)[-1] for c in calls)
        names += tuple(str(m) for m in self.settings.get("methods", []))
        library = self.settings.get("library_module")
        modules = _tops(calls) if calls and not self.settings.get("methods") else ()
        modules += (str(library).partition(".")[0],) if library else ()
        return [group for group in (self.triggers(), names, modules) if group]

    def references(self) -> tuple[str, ...]:
        if self.settings.get("methods"):
            return ()  # a method of any object: nothing to look up
        return tuple(str(c) for c in self.settings.get("calls", []))

    def rules(self) -> dict[str, dict[str, Any]]:
        rules = {}
        for old, spec in self.setting("keywords", dict).items():
            rules[str(old)] = {"to": spec} if isinstance(spec, str) else dict(spec)
        return rules

    def apply(self, module: cst.Module) -> Outcome:
        calls = {str(c) for c in self.settings.get("calls", [])}
        methods = {str(m) for m in self.settings.get("methods", [])}
        if not calls and not methods:
            raise RecipeError("rename-keyword needs 'calls' or 'methods'")
        return _run(module, _RenameKeywords(calls, methods, self.rules()))


class _RenameKeywords(_Rewriter):
    def __init__(self, calls: set[str], methods: set[str], rules: dict[str, dict[str, Any]]):
        super().__init__()
        self.calls, self.methods, self.rules = calls, methods, rules

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if not any(a.keyword and a.keyword.value in self.rules for a in original.args):
            return updated
        if not _call_matches(original.func, self.calls, self.methods, self.imported):
            return updated
        args: list[cst.Arg] = []
        changed = False
        for arg in updated.args:
            keyword = arg.keyword.value if arg.keyword else None
            rule = self.rules.get(keyword or "")
            if rule is None:
                args.append(arg)
                continue
            if rule.get("drop"):
                changed = True
                continue
            values = {str(k): str(v) for k, v in (rule.get("values") or {}).items()}
            new_value = arg.value
            code = cst.Module([]).code_for_node(arg.value)
            otherwise = rule.get("otherwise")
            if code in values:
                new_value = expression(values[code])
            elif otherwise:
                # A value the recipe does not know (a variable): the recipe says how the new
                # keyword reads it, e.g. "-1 if {value} else None".
                new_value = expression(str(otherwise).format(value=_operand(arg.value)))
            elif values:
                # Without such a template the meaning of an unknown value under the new
                # keyword is unknown, so the argument stays as it is.
                args.append(arg)
                continue
            new_keyword = str(rule.get("to", keyword))
            if new_keyword != keyword and any(
                a.keyword and a.keyword.value == new_keyword for a in updated.args
            ):
                args.append(arg)  # the new keyword is given already: leave both to the user
                continue
            if new_keyword != keyword or new_value is not arg.value:
                changed = True
                arg = arg.with_changes(keyword=cst.Name(new_keyword), value=new_value)
            args.append(arg)
        if not changed:
            return updated
        self.changes += 1
        if args and len(args) < len(updated.args):
            # An argument went: the new last one must not keep a comma it had before.
            args[-1] = args[-1].with_changes(comma=updated.args[-1].comma)
        return updated.with_changes(args=args)


_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.BaseNumber, cst.BaseString)


def _operand(node: cst.BaseExpression) -> str:
    """The code of `node`, in parentheses unless it is an atom that binds tighter than any
    operator a template puts around it."""
    code = cst.Module([]).code_for_node(node)
    return code if isinstance(node, _ATOMS) or node.lpar else f"({code})"


def _last_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def _calls_named(node: cst.BaseExpression, names: Iterable[str]) -> bool:
    """Cheap look before resolving imports: does the called name end like one of `names`?"""
    last = _last_name(node)
    return last is not None and any(n.rpartition(".")[2] == last for n in names)


def _call_matches(
    func: cst.BaseExpression, calls: set[str], methods: set[str], imported: Any
) -> bool:
    if calls and imported(func) in calls:
        return True
    return bool(methods) and isinstance(func, cst.Attribute) and func.attr.value in methods


@dataclass
class AddKeyword(Fix):
    """A keyword argument that became required: `yaml.load(f)` -> `yaml.load(f,
    Loader=yaml.SafeLoader)`. Settings: `calls`, `keyword`, `value` (full dotted names),
    `positional` (how many positional arguments mean it is already given), `not_argument_of`
    (method names: a call that is a direct argument of one is left as it is, such as
    `model.load_state_dict(torch.load(path))`)."""

    kind: ClassVar[str] = "add-keyword"

    def triggers(self) -> tuple[str, ...]:
        return tuple(str(c).rsplit(".", 1)[-1] for c in self.setting("calls", list))

    def modules(self) -> tuple[str, ...]:
        return _tops(str(c) for c in self.setting("calls", list))

    def references(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.setting("calls", list))

    def apply(self, module: cst.Module) -> Outcome:
        adder = self.adder()
        rewriter = _AddKeyword(
            {str(c) for c in self.setting("calls", list)},
            self.setting("keyword", str),
            render(self.setting("value", str), module_aliases(module), adder),
            int(self.settings.get("positional", 99)),
            frozenset(str(m) for m in self.setting("not_argument_of", list, [])),
        )
        outcome = _run(module, rewriter)
        outcome.module = adder.apply(outcome.module)
        return outcome


class _AddKeyword(_Rewriter):
    def __init__(
        self,
        calls: set[str],
        keyword: str,
        value: str,
        positional: int,
        not_argument_of: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__()
        self.calls, self.keyword, self.value, self.positional = calls, keyword, value, positional
        self.not_argument_of = not_argument_of
        self.left: set[int] = set()
        """The ids of calls that are direct arguments of a `not_argument_of` method."""

    def visit_Call(self, node: cst.Call) -> bool:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in self.not_argument_of:
            self.left |= {id(a.value) for a in node.args if isinstance(a.value, cst.Call)}
        return True

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if not _calls_named(original.func, self.calls):
            return updated
        if id(original) in self.left:
            return updated
        if self.imported(original.func) not in self.calls:
            return updated
        if any(a.keyword and a.keyword.value == self.keyword for a in updated.args):
            return updated
        if any(a.star for a in updated.args):
            return updated
        if sum(1 for a in updated.args if a.keyword is None) >= self.positional:
            return updated
        self.changes += 1
        args = list(updated.args)
        if args:
            args[-1] = args[-1].with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
        no_space = cst.SimpleWhitespace("")
        args.append(
            cst.Arg(
                value=expression(self.value),
                keyword=cst.Name(self.keyword),
                equal=cst.AssignEqual(whitespace_before=no_space, whitespace_after=no_space),
            )
        )
        return updated.with_changes(args=args)


@dataclass
class ReplaceCall(Fix):
    """A call replaced by an equivalent expression: `np.asscalar(x)` -> `x.item()`.
    Settings: `calls: {full.dotted.name: template}`, where `{0}`, `{1}` ... are the
    positional arguments' source and the rest of the template uses full dotted names."""

    kind: ClassVar[str] = "replace-call"

    def triggers(self) -> tuple[str, ...]:
        return tuple(str(c).rsplit(".", 1)[-1] for c in self.setting("calls", dict))

    def modules(self) -> tuple[str, ...]:
        return _tops(str(c) for c in self.setting("calls", dict))

    def references(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.setting("calls", dict))

    def gone(self) -> set[str]:
        return super().gone() | {str(c) for c in self.setting("calls", dict)}

    def apply(self, module: cst.Module) -> Outcome:
        adder = self.adder()
        templates = {str(k): str(v) for k, v in self.setting("calls", dict).items()}
        rewriter = _ReplaceCalls(templates, module_aliases(module), adder)
        outcome = _run(module, rewriter)
        outcome.module = adder.apply(outcome.module)
        return outcome


class _ReplaceCalls(_Rewriter):
    def __init__(self, templates: dict[str, str], aliases: dict[str, str], adder: ImportAdder):
        super().__init__()
        self.templates, self.aliases, self.adder = templates, aliases, adder

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if not _calls_named(original.func, self.templates):
            return updated
        template = self.templates.get(self.imported(original.func) or "")
        if template is None:
            return updated
        if any(a.keyword or a.star for a in updated.args):
            return updated  # only the plain positional form is rewritten
        code = [cst.Module([]).code_for_node(a.value) for a in updated.args]
        wanted = {int(i) for i in re.findall(r"\{(\d+)\}", template)}
        if len(code) != len(wanted) or any(i >= len(code) for i in wanted):
            return updated
        nodes = {str(i): arg.value for i, arg in enumerate(updated.args)}
        text = fill_template(
            render(template, self.aliases, self.adder), r"\{(\d+)\}", lambda name: nodes[name]
        )
        self.changes += 1
        return expression(text)


def fill_template(template: str, placeholder: str, node_for: Callable[[str], cst.CSTNode]) -> str:
    """The template with each placeholder replaced by its node's source, in parentheses only
    where the surrounding code binds tighter (`(a + b).item()`, `-(a - b)`), not as an
    argument (`np.sort(a + b, axis=0)`)."""
    out: list[str] = []
    position = 0
    for m in re.finditer(placeholder, template):
        node = node_for(m[1])
        code = cst.Module([]).code_for_node(node)
        if isinstance(node, cst.BaseExpression) and node.lpar:
            out.append(template[position : m.start()] + code)  # parenthesized already
            position = m.end()
            continue
        before = template[: m.start()].rstrip()
        after = template[m.end() :].lstrip()
        tight = (
            after[:1] in (".", "[", "(")
            or before[-1:] in ("-", "+", "~", "*", "/", "%", "@")
            or after[:1] in ("*", "/", "%", "@", "+", "-")
            or after.startswith(("if", "for"))
        )
        if tight and isinstance(node, cst.BaseExpression) and _needs_parens(node):
            code = f"({code})"
        out.append(template[position : m.start()] + code)
        position = m.end()
    return "".join(out) + template[position:]


def _needs_parens(node: cst.BaseExpression) -> bool:
    return not isinstance(
        node,
        cst.Name
        | cst.Attribute
        | cst.Call
        | cst.Subscript
        | cst.SimpleString
        | cst.Integer
        | cst.Float
        | cst.List
        | cst.Tuple
        | cst.Dict,
    )


@dataclass
class RenameMethod(Fix):
    """A method renamed on objects whose type envfix cannot see (`df.iteritems()` ->
    `df.items()`): applied only where the file imports `library_module`.
    Settings: `methods: {old: new}`, `library_module`."""

    kind: ClassVar[str] = "rename-method"

    def triggers(self) -> tuple[str, ...]:
        return tuple(str(m) for m in self.setting("methods", dict))

    def modules(self) -> tuple[str, ...]:
        return (self.setting("library_module", str).partition(".")[0],)

    def references(self) -> tuple[str, ...]:
        return (self.setting("library_module", str),)

    def apply(self, module: cst.Module) -> Outcome:
        library = self.setting("library_module", str)
        if not any(
            path == library or path.startswith(library + ".")
            for path in _all_imported_modules(module)
        ):
            return Outcome(module)
        methods = {str(k): str(v) for k, v in self.setting("methods", dict).items()}
        return _run(module, _RenameMethods(methods))


class _RenameMethods(_Rewriter):
    def __init__(self, methods: dict[str, str]) -> None:
        super().__init__()
        self.methods = methods

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        func = updated.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in self.methods:
            return updated
        if self.imported(original.func) is not None:
            return updated  # a module function of that name, not a method
        self.changes += 1
        return updated.with_changes(
            func=func.with_changes(attr=cst.Name(self.methods[func.attr.value]))
        )


def _all_imported_modules(module: cst.Module) -> set[str]:
    found: set[str] = set()

    class Collect(cst.CSTVisitor):
        def visit_Import(self, node: cst.Import) -> None:
            for alias in node.names:
                if (name := dotted(alias.name)) is not None:
                    found.add(name)

        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            if node.module is not None and not node.relative and (name := dotted(node.module)):
                found.add(name)
                if not isinstance(node.names, cst.ImportStar):
                    found.update(f"{name}.{n}" for alias in node.names if (n := dotted(alias.name)))

    module.visit(Collect())
    return found


@dataclass
class ReplaceStringArgument(Fix):
    """A string argument whose accepted values changed: `plt.style.use('seaborn-whitegrid')`
    -> `'seaborn-v0_8-whitegrid'`, `gym.make('Pendulum-v0')` -> `'Pendulum-v1'`.
    Settings: `calls` (full dotted names), `argument` (position), and `values: {old: new}`
    or `pattern` + `replacement` (a regular expression)."""

    kind: ClassVar[str] = "replace-string-argument"

    def triggers(self) -> tuple[str, ...]:
        return tuple(str(c).rsplit(".", 1)[-1] for c in self.setting("calls", list))

    def modules(self) -> tuple[str, ...]:
        return _tops(str(c) for c in self.setting("calls", list))

    def references(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.setting("calls", list))

    def apply(self, module: cst.Module) -> Outcome:
        values = {str(k): str(v) for k, v in (self.settings.get("values") or {}).items()}
        pattern = self.settings.get("pattern")
        if not values and not pattern:
            raise RecipeError("replace-string-argument needs 'values' or 'pattern'")
        rewriter = _ReplaceStrings(
            {str(c) for c in self.setting("calls", list)},
            int(self.settings.get("argument", 0)),
            values,
            (re.compile(str(pattern)), str(self.settings.get("replacement", "")))
            if pattern
            else None,
        )
        return _run(module, rewriter)


class _ReplaceStrings(_Rewriter):
    def __init__(
        self,
        calls: set[str],
        position: int,
        values: dict[str, str],
        regex: tuple[re.Pattern[str], str] | None,
    ) -> None:
        super().__init__()
        self.calls, self.position, self.values, self.regex = calls, position, values, regex

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if not _calls_named(original.func, self.calls):
            return updated
        if self.imported(original.func) not in self.calls:
            return updated
        positional = [i for i, a in enumerate(updated.args) if a.keyword is None and not a.star]
        if self.position >= len(positional):
            return updated
        index = positional[self.position]
        value = updated.args[index].value
        if not isinstance(value, cst.SimpleString):
            return updated
        text = value.evaluated_value
        if not isinstance(text, str):
            return updated
        new = self.values.get(text)
        if new is None and self.regex is not None and self.regex[0].fullmatch(text):
            new = self.regex[0].sub(self.regex[1], text)
        if new is None or new == text:
            return updated
        self.changes += 1
        quote = value.quote
        args = list(updated.args)
        args[index] = args[index].with_changes(value=cst.SimpleString(f"{quote}{new}{quote}"))
        return updated.with_changes(args=args)


@dataclass
class SwapModule(Fix):
    """Use another module under the same name when the code relies on its old API:
    `import tensorflow as tf` -> `import tensorflow.compat.v1 as tf` plus
    `tf.disable_v2_behavior()`, when the file uses `tf.Session`, `tf.placeholder`, ...
    Settings: `module`, `to`, `when_uses` (attributes), `after_imports` (a statement
    template; `{alias}` is the module's local name)."""

    kind: ClassVar[str] = "swap-module"

    def triggers(self) -> tuple[str, ...]:
        return tuple(str(a) for a in self.setting("when_uses", list))

    def modules(self) -> tuple[str, ...]:
        return (self.setting("module", str).partition(".")[0],)

    def references(self) -> tuple[str, ...]:
        module = self.setting("module", str)
        return tuple(f"{module}.{use}" for use in self.setting("when_uses", list))

    def apply(self, module: cst.Module) -> Outcome:
        old = self.setting("module", str)
        new = self.setting("to", str)
        uses = {f"{old}.{a}" for a in self.setting("when_uses", list)}
        finder = _UsesAny(uses)
        metadata_wrapper(module).visit(finder)
        if not finder.found:
            return Outcome(module)
        after = self.settings.get("after_imports")
        swapper = _SwapImport(old, new, str(after) if after else None, module.code)
        new_module = module.visit(swapper)
        if not swapper.aliases:
            return Outcome(module)
        return Outcome(new_module, len(swapper.aliases))


class _UsesAny(cst.CSTVisitor):
    """Whether the code uses one of `names` (or a name below one) through its imports: as an
    attribute (`tf.layers.dense`), and with `names` on also as a bare name
    (`DenseFeatures` after `from tensorflow.keras.layers import DenseFeatures`)."""

    METADATA_DEPENDENCIES = (QualifiedNameProvider,)

    def __init__(self, names: set[str], *, names_too: bool = False) -> None:
        super().__init__()
        self.names = names
        self.names_too = names_too
        self.found = False

    def visit_Import(self, node: cst.Import) -> bool:
        return not self.names_too  # an import alone is not a use

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return not self.names_too

    def visit_Name(self, node: cst.Name) -> None:
        if self.found or not self.names_too:
            return
        name = imported_name(self.get_metadata(QualifiedNameProvider, node, None))
        if name is not None and any(name == n or name.startswith(n + ".") for n in self.names):
            self.found = True

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self.found or not any(n.rpartition(".")[2] == node.attr.value for n in self.names):
            return
        name = imported_name(self.get_metadata(QualifiedNameProvider, node, None))
        if name is not None and any(name == n or name.startswith(n + ".") for n in self.names):
            self.found = True


class _SwapImport(cst.CSTTransformer):
    """Swaps `import old as x` for `import new as x`; the `after` statement (`{alias}` filled
    in) goes right after each swapped import, in the same block: an import inside a function
    binds its name there only. A statement the file has already is not added again."""

    def __init__(self, old: str, new: str, after: str | None, code: str) -> None:
        super().__init__()
        self.old, self.new, self.after = old, new, after
        self.lines = {line.strip() for line in code.splitlines()}
        self.aliases: list[str] = []
        self.pending: list[str] = []

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        names = []
        for alias in updated.names:
            if dotted(alias.name) == self.old:
                local = alias.evaluated_alias or self.old
                if "." in local:
                    names.append(alias)
                    continue
                self.aliases.append(local)
                if self.after is not None:
                    line = self.after.format(alias=local)
                    if line.strip() not in self.lines and line not in self.pending:
                        self.pending.append(line)
                alias = alias.with_changes(
                    name=expression(self.new),
                    asname=cst.AsName(name=cst.Name(local)),
                )
            names.append(alias)
        return updated.with_changes(names=names)

    def _added(self) -> list[cst.BaseSmallStatement]:
        added = [small_statement(line) for line in self.pending]
        self.pending = []
        return added

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        added = self._added()
        if not added:
            return updated
        return cst.FlattenSentinel([updated, *(cst.SimpleStatementLine([s]) for s in added)])

    def leave_SimpleStatementSuite(
        self, original: cst.SimpleStatementSuite, updated: cst.SimpleStatementSuite
    ) -> cst.SimpleStatementSuite:
        # `if ok: import tensorflow as tf`: the statement joins the same line.
        added = self._added()
        if not added:
            return updated
        body = list(updated.body)
        body[-1] = body[-1].with_changes(
            semicolon=cst.Semicolon(whitespace_after=cst.SimpleWhitespace(" "))
        )
        return updated.with_changes(body=[*body, *added])


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_SKIPPED_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "comma",
        "semicolon",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "star",
        "equal",
        "dot",
        "colon",
    }
)
_PLACEHOLDER_NAME = re.compile(r"^__envfix_(\w+)__$")


@dataclass(frozen=True)
class _Rule:
    pattern: cst.CSTNode
    replacement: str
    statement: bool
    keep: bool = False
    """The replacement is the pattern: what it matches is left as it is (a guard that
    comes before a broader rule), and counts as no change."""


@dataclass(frozen=True)
class _Receiver:
    """What a placeholder named in `receivers` may match: a name or attribute chain whose
    last name fits `names` (`env`, `self.eval_env`), or one the file assigns the result of
    a call to one of `made_by` (`env = gym.make(...)`, also wrapped: `W(gym.make(...))`)."""

    names: re.Pattern[str] | None
    made_by: frozenset[str]


@dataclass
class RewriteExpression(Fix):
    """Rewrite an expression that matches a pattern: `{x}.data[0]` -> `{x}.item()`,
    `numpy.array({x}, copy=False)` -> `numpy.asarray({x})`. In patterns, `{name}` matches any
    expression, and a dotted name (`numpy.array`) matches what the code imports under that
    name. With `statement: true`, a whole statement is rewritten:
    `{x}.fillna({v}, inplace=True)` -> `{x} = {x}.fillna({v})`; its replacement may be
    several statements joined by `;` (each goes on its own line), and `{fresh:terminated}`
    in it is a name the file does not use yet (`terminated`, else `terminated2`, ...). The
    first rule that matches wins; a rule whose replacement is its pattern keeps what it
    matches (a guard before a broader rule).
    Settings: `rewrites: [{pattern, replacement, statement?}]`, `library_module` (optional:
    only files that import it, or one of a list), `receivers` (optional: `{placeholder:
    {names: regex, made_by: [full.names]}}`, see `_Receiver`), `not_inside` (optional:
    `{methods: [names], of_classes_from: [modules]}`: nothing is rewritten inside those
    methods of a class deriving from a class of those modules, such as a `gym.Wrapper`'s
    own `step`)."""

    kind: ClassVar[str] = "rewrite-expression"

    def _libraries(self) -> list[str]:
        library = self.settings.get("library_module")
        if not library:
            return []
        return [str(m) for m in library] if isinstance(library, list) else [str(library)]

    def receivers(self) -> dict[str, _Receiver]:
        receivers = {}
        for name, spec in self.setting("receivers", dict, {}).items():
            if not isinstance(spec, dict) or not (spec.get("names") or spec.get("made_by")):
                raise RecipeError(f"{self.kind}: receiver '{name}' needs 'names' or 'made_by'")
            try:
                names = re.compile(str(spec["names"])) if spec.get("names") else None
            except re.error as exc:
                raise RecipeError(f"{self.kind}: receiver '{name}': {exc}") from exc
            made_by = frozenset(str(m) for m in spec.get("made_by", ()))
            receivers[str(name)] = _Receiver(names, made_by)
        return receivers

    def _not_inside(self) -> tuple[frozenset[str], frozenset[str]]:
        spec = self.setting("not_inside", dict, {})
        methods = frozenset(str(m) for m in spec.get("methods", ()))
        modules = frozenset(str(m) for m in spec.get("of_classes_from", ()))
        if spec and not (methods and modules):
            raise RecipeError(f"{self.kind}: 'not_inside' needs 'methods' and 'of_classes_from'")
        return methods, modules

    def rules(self) -> list[_Rule]:
        rules = []
        for entry in self.setting("rewrites", list):
            pattern = _PLACEHOLDER.sub(r"__envfix_\1__", str(entry["pattern"]))
            try:
                node: cst.CSTNode = (
                    small_statement(pattern) if entry.get("statement") else expression(pattern)
                )
            except cst.ParserSyntaxError as exc:
                raise RecipeError(f"rewrite-expression: pattern does not parse: {exc}") from exc
            if isinstance(node, cst.Expr):
                node = node.value  # an expression statement matches by its expression
            replacement = str(entry["replacement"])
            keep = replacement.strip() == str(entry["pattern"]).strip()
            rules.append(_Rule(node, replacement, bool(entry.get("statement")), keep))
        return rules

    def triggers(self) -> tuple[str, ...]:
        """Per pattern, its most telling word: the longest name after a dot (the function or
        method it is about: `in1d`, `fillna`), else its longest name."""
        words = []
        for entry in self.setting("rewrites", list):
            pattern = _PLACEHOLDER.sub("", str(entry["pattern"]))
            attributes = re.findall(r"\.([A-Za-z_]\w*)", pattern)
            names = attributes or re.findall(r"[A-Za-z_]\w*", pattern)
            if names:
                words.append(max(names, key=len))
        return tuple(words) or ("",)

    def _pattern_names(self) -> list[str]:
        names = []
        for entry in self.setting("rewrites", list):
            pattern = _PLACEHOLDER.sub("", str(entry["pattern"]))
            names += re.findall(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", pattern)
        return names

    def modules(self) -> tuple[str, ...]:
        libraries = self._libraries()
        if libraries:
            return _tops(libraries)
        names = self._pattern_names()
        return _tops(names) if names else ()

    def gone(self) -> set[str]:
        return super().gone() | set(self._pattern_names())

    def could_change(self, index: SourceIndex) -> bool:
        """Besides the words: the library imported, and one pattern whose module paths the
        code reaches and whose runs of words (those not split by a placeholder) are in the
        text, in order, with only punctuation, spaces or comments between them."""
        if not super().could_change(index):
            return False
        libraries = self._libraries()
        if libraries and not any(index.reaches(library) for library in libraries):
            return False
        for entry in self.setting("rewrites", list):
            paths, runs = _pattern_check(str(entry["pattern"]))
            if all(index.reaches(path) for path in paths) and all(
                run.search(index.text) for run in runs
            ):
                return True
        return False

    def apply(self, module: cst.Module) -> Outcome:
        libraries = self._libraries()
        if libraries and not any(
            path == library or path.startswith(f"{library}.")
            for path in _all_imported_modules(module)
            for library in libraries
        ):
            return Outcome(module)
        adder = self.adder()
        receivers = self.receivers()
        made_by = frozenset().union(*(r.made_by for r in receivers.values()))
        rewriter = _Rewrites(
            self.rules(),
            module_aliases(module),
            adder,
            receivers=receivers,
            made=_made_by(module, made_by) if made_by else frozenset(),
            taken=frozenset(_used_names(module) | set(module_aliases(module).values())),
            not_inside=self._not_inside(),
        )
        outcome = _run(module, rewriter)
        outcome.module = adder.apply(outcome.module)
        return outcome


_BETWEEN_WORDS = r"(?:[^\w#]|#[^\n]*+)*+"


@functools.lru_cache(maxsize=1024)
def _pattern_check(pattern: str) -> tuple[tuple[str, ...], tuple[re.Pattern[str], ...]]:
    """The module paths a rewrite pattern names (`numpy.array`: the code must reach them
    through an import, and writes their last name as it is), and one regular expression per
    run of words the code must hold as they are (`.data[0]` in `{x}.mean().data[0]`)."""
    paths: list[str] = []

    def path(m: re.Match[str]) -> str:
        if not is_module_top(m[0]):
            return m[0]
        paths.append(m[0])
        return "\x00" + m[0].rpartition(".")[2]

    text = re.sub(
        r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", path, _PLACEHOLDER.sub("\x00", pattern)
    )
    runs = []
    for segment in text.split("\x00"):
        words = re.findall(r"\w+", segment)
        if words:
            joined = _BETWEEN_WORDS.join(re.escape(w) for w in words)
            runs.append(re.compile(rf"(?<!\w){joined}(?!\w)"))
    return tuple(paths), tuple(runs)


def _made_by(module: cst.Module, makers: frozenset[str]) -> frozenset[str]:
    """The names and attribute chains (`env`, `self.env`) the module assigns the result of
    a call to one of `makers` (full dotted names: `gymnasium.make`), or of a call that
    wraps one in its first argument (`RecordVideo(gym.make(...))`)."""
    found: set[str] = set()

    class Collect(cst.CSTVisitor):
        METADATA_DEPENDENCIES = (QualifiedNameProvider,)

        def makes(self, node: cst.BaseExpression) -> bool:
            if not isinstance(node, cst.Call):
                return False
            name = imported_name(self.get_metadata(QualifiedNameProvider, node.func, None))
            if name in makers:
                return True
            first = node.args[0] if node.args else None
            return first is not None and first.keyword is None and self.makes(first.value)

        def visit_Assign(self, node: cst.Assign) -> None:
            if self.makes(node.value):
                for target in node.targets:
                    if (name := dotted(target.target)) is not None:
                        found.add(name)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            name = dotted(node.target)
            if node.value is not None and name is not None and self.makes(node.value):
                found.add(name)

    metadata_wrapper(module).visit(Collect())
    return frozenset(found)


_FRESH = re.compile(r"\{fresh:(\w+)\}")


class _Rewrites(_Rewriter):
    def __init__(
        self,
        rules: list[_Rule],
        aliases: dict[str, str],
        adder: ImportAdder,
        *,
        receivers: Mapping[str, _Receiver] | None = None,
        made: frozenset[str] = frozenset(),
        taken: frozenset[str] = frozenset(),
        not_inside: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset()),
    ) -> None:
        super().__init__()
        self.rules, self.aliases, self.adder = rules, aliases, adder
        self.receivers = dict(receivers or {})
        self.made, self.taken = made, taken
        self.methods, self.libraries = not_inside
        self.fresh: dict[str, str] = {}
        self.classes: list[bool] = []
        """For each enclosing class: whether it derives from a class of `libraries`."""
        self.skipping = 0

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.classes.append(
            any(
                (name := self.imported(base.value)) is not None
                and name.partition(".")[0] in self.libraries
                for base in node.bases
            )
        )
        return True

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        self.classes.pop()
        return updated

    def _skipped(self, node: cst.FunctionDef) -> bool:
        return bool(self.classes) and self.classes[-1] and node.name.value in self.methods

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.skipping += self._skipped(node)
        # A nested class's methods are judged by that class; nested functions by this one.
        self.classes.append(False)
        return True

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        self.classes.pop()
        self.skipping -= self._skipped(original)
        return updated

    def _fresh_name(self, base: str) -> str:
        """A name the file does not use, the same for every use of `base` in it."""
        if base not in self.fresh:
            name, number = base, 1
            while name in self.taken:
                number += 1
                name = f"{base}{number}"
            self.fresh[base] = name
        return self.fresh[base]

    def _receiver_fits(self, placeholder: str, node: cst.CSTNode) -> bool:
        receiver = self.receivers.get(placeholder)
        if receiver is None:
            return True
        if not isinstance(node, cst.Name | cst.Attribute):
            return False
        name = dotted(node)
        if name is None or self.imported(node) is not None:
            return False  # a module (`np.random`), not an object
        if name in self.made:
            return True
        return receiver.names is not None and bool(
            receiver.names.fullmatch(name.rpartition(".")[2])
        )

    def _statements(
        self, text: str
    ) -> cst.BaseSmallStatement | cst.FlattenSentinel[cst.BaseSmallStatement]:
        line = cst.parse_statement(text + "\n")
        assert isinstance(line, cst.SimpleStatementLine)
        if len(line.body) == 1:
            return line.body[0]
        return cst.FlattenSentinel(
            [small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for small in line.body]
        )

    def on_leave(self, original: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        updated = super().on_leave(original, updated_node)
        if self.skipping:
            return updated
        if isinstance(original, cst.BaseSmallStatement) and isinstance(
            updated, cst.BaseSmallStatement
        ):
            for rule in self.rules:
                if not rule.statement:
                    continue
                statement = isinstance(rule.pattern, cst.BaseSmallStatement)
                if (
                    not statement
                    and isinstance(original, cst.Expr)
                    and isinstance(updated, cst.Expr)
                ):
                    found = self._match(rule.pattern, original.value, updated.value)
                elif statement:
                    found = self._match(rule.pattern, original, updated)
                else:
                    found = None
                if found is not None:
                    if rule.keep:
                        return updated
                    self.changes += 1
                    return self._statements(self._fill(rule.replacement, found))
        if isinstance(original, cst.BaseExpression) and isinstance(updated, cst.BaseExpression):
            for rule in self.rules:
                if (
                    not rule.statement
                    and (found := self._match(rule.pattern, original, updated)) is not None
                ):
                    if rule.keep:
                        return updated
                    self.changes += 1
                    return expression(self._fill(rule.replacement, found)).with_changes(
                        lpar=updated.lpar, rpar=updated.rpar
                    )
        return updated

    def _fill(self, template: str, bindings: dict[str, cst.CSTNode]) -> str:
        template = _FRESH.sub(lambda m: self._fresh_name(m[1]), template)
        rendered = render(
            _PLACEHOLDER.sub(lambda m: f"__envfix_{m[1]}__", template), self.aliases, self.adder
        )
        return fill_template(rendered, r"__envfix_(\w+)__", lambda name: bindings[name])

    def _match(
        self, pattern: cst.CSTNode, original: cst.CSTNode, updated: cst.CSTNode
    ) -> dict[str, cst.CSTNode] | None:
        """Bindings of the pattern's placeholders, or None. The pattern is checked against
        the original tree (which names resolve in), the placeholders bound to the updated
        one, so that a rewrite inside a bound part is kept."""
        bindings: dict[str, cst.CSTNode] = {}
        return bindings if self._same(pattern, original, updated, bindings) else None

    def _same(self, pattern: Any, node: Any, new: Any, bindings: dict[str, cst.CSTNode]) -> bool:
        if isinstance(pattern, Sequence) and not isinstance(pattern, str):
            # A list in one tree is a tuple in another (a call an earlier fix rebuilt).
            if not isinstance(node, Sequence) or isinstance(node, str) or len(pattern) != len(node):
                return False
            news = new if isinstance(new, Sequence) and len(new) == len(node) else node
            return all(
                self._same(p, n, u, bindings) for p, n, u in zip(pattern, node, news, strict=True)
            )
        if isinstance(pattern, cst.Name) and (m := _PLACEHOLDER_NAME.match(pattern.value)):
            if not isinstance(node, cst.BaseExpression):
                return False
            bound = new if isinstance(new, cst.BaseExpression) else node
            if not self._receiver_fits(m[1], node):
                return False
            if m[1] in bindings:
                return _code(bindings[m[1]]) == _code(bound)
            bindings[m[1]] = bound
            return True
        if isinstance(pattern, cst.Attribute | cst.Name) and _is_module_path(pattern):
            if not isinstance(node, cst.Attribute | cst.Name) or _last_name(node) != _last_name(
                pattern
            ):
                return False
            return self.imported(node) == dotted(pattern)
        if type(pattern) is not type(node):
            return False
        if isinstance(pattern, cst.CSTNode):
            same_shape = type(new) is type(node)
            for name in pattern.__dataclass_fields__:
                if name in _SKIPPED_FIELDS or name.startswith("whitespace"):
                    continue
                child_new = getattr(new, name) if same_shape else getattr(node, name)
                if not self._same(getattr(pattern, name), getattr(node, name), child_new, bindings):
                    return False
            return True
        return bool(pattern == node)


def _is_module_path(node: cst.Attribute | cst.Name) -> bool:
    """A dotted name in a pattern that starts with a module (`numpy.array`), not with a
    placeholder (`{df}.drop`) or a local name (`loss.data`)."""
    text = dotted(node)
    return text is not None and "." in text and "__envfix_" not in text and is_module_top(text)


def is_module_top(path: str) -> bool:
    """Whether a dotted name starts with an importable package (the standard library's or
    one the import map knows), not a local variable such as a lambda's `p`."""
    top = path.partition(".")[0]
    return top in stdlib_modules("3.13") or bundled_import_map().lookup(top) is not None


@dataclass
class Prologue(Fix):
    """Lines that must run before the code imports a library: a setting such as
    `os.environ["TF_USE_LEGACY_KERAS"] = "1"` before TensorFlow is imported. They go at the
    top of a file, or of a notebook's first code cell, once. Settings: `lines`, and at least
    one of `when_imports` (modules; the prologue is added only where one of them is imported)
    and `when_uses` (full dotted names; only where the code uses one of them, or a name below
    one, through its imports: `tensorflow.layers` for `tf.layers.dense`)."""

    kind: ClassVar[str] = "prologue"

    def lines(self) -> list[str]:
        return [str(line) for line in self.setting("lines", list)]

    def _imports(self) -> list[str]:
        return [str(m) for m in self.setting("when_imports", list, [])]

    def _uses(self) -> list[str]:
        return [str(m) for m in self.setting("when_uses", list, [])]

    def _conditions(self) -> list[str]:
        conditions = [*self._imports(), *self._uses()]
        if not conditions:
            raise RecipeError(f"{self.kind}: it needs 'when_imports' or 'when_uses'")
        return conditions

    def triggers(self) -> tuple[str, ...]:
        return tuple(m.rpartition(".")[2] for m in self._conditions())

    def modules(self) -> tuple[str, ...]:
        return _tops(self._conditions())

    def references(self) -> tuple[str, ...]:
        return tuple(self._conditions())

    def apply(self, module: cst.Module) -> Outcome:
        self._conditions()
        wanted = self._imports()
        if wanted:
            imported = _all_imported_modules(module)
            if not any(p == w or p.startswith(f"{w}.") for p in imported for w in wanted):
                return Outcome(module)
        uses = self._uses()
        if uses:
            finder = _UsesAny(set(uses), names_too=True)
            metadata_wrapper(module).visit(finder)
            if not finder.found:
                return Outcome(module)
        body = list(module.body)
        new = [cst.parse_statement(line + "\n") for line in self.lines()]
        have = {_statement_text(stmt) for stmt in body}
        if all(_statement_text(stmt) in have for stmt in new):
            return Outcome(module)  # there already (in a notebook, in its first cell)
        position = 1 if body and _is_docstring(body[0]) else 0
        while position < len(body) and _is_future_import(body[position]):
            position += 1
        return Outcome(module.with_changes(body=[*body[:position], *new, *body[position:]]), 1)


def _statement_text(stmt: cst.BaseStatement) -> str:
    """A statement's code without the comments and blank lines around it."""
    if isinstance(stmt, cst.SimpleStatementLine):
        stmt = stmt.with_changes(leading_lines=(), trailing_whitespace=cst.TrailingWhitespace())
    return cst.Module([]).code_for_node(stmt).strip()


def _is_future_import(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(s, cst.ImportFrom) and s.module is not None and dotted(s.module) == "__future__"
        for s in stmt.body
    )


def _code(node: cst.CSTNode, parens: bool = False) -> str:
    text = cst.Module([]).code_for_node(node)
    if parens and isinstance(node, cst.BaseExpression) and _needs_parens(node):
        return f"({text})"
    return text


_VALID_ESCAPES = set("\\'\"abfnrtv01234567xNuU\n")


@dataclass
class FixInvalidEscapes(Fix):
    r"""String literals with invalid escape sequences (`'\d+'`), a SyntaxWarning since Python
    3.12 and an error in a later version: made raw (`r'\d+'`) when they hold no valid escape,
    else the backslash doubled; the string's value never changes. No settings."""

    kind: ClassVar[str] = "fix-invalid-escapes"

    def triggers(self) -> tuple[str, ...]:
        return ("\\",)

    def apply(self, module: cst.Module) -> Outcome:
        return _run(module, _Escapes())


class _Escapes(_Rewriter):
    def leave_SimpleString(
        self, original: cst.SimpleString, updated: cst.SimpleString
    ) -> cst.SimpleString:
        prefix = updated.prefix.lower()
        if "r" in prefix or "\\" not in updated.value:
            return updated
        body = updated.value[len(updated.prefix) + len(updated.quote) : -len(updated.quote)]
        pieces = re.findall(r"\\(.)|([^\\]+)", body, flags=re.S)
        invalid = [c for c, _ in pieces if c and c not in _VALID_ESCAPES]
        if not invalid:
            return updated
        valid = [c for c, _ in pieces if c and c in _VALID_ESCAPES]
        self.changes += 1
        if not valid and not body.endswith("\\"):
            return updated.with_changes(value="r" + updated.value)
        fixed = re.sub(
            r"\\(.)",
            lambda m: m[0] if m[1] in _VALID_ESCAPES else "\\\\" + m[1],
            body,
            flags=re.S,
        )
        start = updated.prefix + updated.quote
        return updated.with_changes(value=f"{start}{fixed}{updated.quote}")


FIX_KINDS: tuple[type[Fix], ...] = (
    RenameAttribute,
    MoveModule,
    RenameKeyword,
    AddKeyword,
    ReplaceCall,
    RenameMethod,
    ReplaceStringArgument,
    SwapModule,
    RewriteExpression,
    FixInvalidEscapes,
    Prologue,
)
"""Every fix kind, by its `kind` name: recipes choose from these."""


def fix_for(kind: str, settings: Mapping[str, Any]) -> Fix:
    for cls in FIX_KINDS:
        if cls.kind == kind:
            return cls(settings=settings)
    known = ", ".join(cls.kind for cls in FIX_KINDS)
    raise RecipeError(f"unknown fix kind '{kind}' (known: {known})")


def mentions_any(text: str, words: Iterable[str]) -> bool:
    """Whether the text has one of the words as a whole word (`imp`, not `import`)."""
    return _words_pattern(tuple(words)).search(text) is not None


@functools.lru_cache(maxsize=4096)
def _words_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    def bounded(word: str) -> str:
        start = r"(?<!\w)" if word[:1].isalnum() or word[:1] == "_" else ""
        end = r"(?!\w)" if word[-1:].isalnum() or word[-1:] == "_" else ""
        return f"{start}{re.escape(word)}{end}"

    ordered = sorted(set(words), key=len, reverse=True)
    return re.compile("|".join(bounded(w) for w in ordered if w) or r"(?!)")
