"""`setup.py` (read with `ast`, never run) and `setup.cfg`.

An old repo's setup.py may do anything when run (download, compile, `sys.exit`), so it is only
ever parsed. The usual ways of listing requirements are understood: literal lists, names bound
at module level (also by `with open(...) as f:`), `+` of lists, `**kwargs` dicts, and reading
a requirements file (`open("requirements.txt").read().splitlines()`, a helper function that
does, `os.path.join(here, "requirements.txt")`); the file read comes back as an `Include`.
Anything else is reported as `setup-py-dynamic`.
"""

from __future__ import annotations

import ast
import configparser
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

from envfix.model import Location
from envfix.scanner.reqcommon import (
    SETUP_PY_DYNAMIC,
    UNREADABLE_FILE,
    Collector,
    Include,
    Parsed,
    TextLines,
    dirname,
)

# setup() keywords that list requirements, with the group they belong to. setup_requires is
# left out: it is what building needs (mostly pytest-runner, cython), not what the code imports.
_REQUIREMENT_KEYWORDS = {"install_requires": None, "tests_require": "test"}
_MAX_DEPTH = 20
# A string that names a requirements file: `requirements.txt`, `reqs/base.in`, `deps.pip`.
_REQUIREMENTS_PATH = re.compile(r"^[\w./\\-]*(?:\.(?:txt|in|pip)|requirements[\w.-]*)$")
_NOT_REQUIREMENTS = re.compile(r"(?i)(?:^|/)(?:readme|license|licence|version|changelog|authors)")
_FALLBACK_LIST = re.compile(r"\b(install_requires|tests_require)\s*=\s*(\[[^\]]*\])", re.DOTALL)


@dataclass
class _Value:
    """What an expression statically evaluates to, as far as it can be read."""

    strings: list[tuple[str, int]] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)
    dynamic: list[int] = field(default_factory=list)

    def merge(self, other: _Value) -> _Value:
        self.strings += other.strings
        self.files += other.files
        self.dynamic += other.dynamic
        return self


class _Module:
    """Module-level bindings of a setup.py, to follow names used in the setup() call."""

    def __init__(self, tree: ast.Module) -> None:
        self.bindings: dict[str, list[ast.expr]] = {}
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self._collect(tree.body)

    def _collect(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions[stmt.name] = stmt
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self.bindings[target.id] = [stmt.value]
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                if isinstance(stmt.target, ast.Name):
                    self.bindings[stmt.target.id] = [stmt.value]
            elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                self.bindings.setdefault(stmt.target.id, []).append(stmt.value)
            elif isinstance(stmt, ast.Expr):
                self._collect_mutation(stmt.value)
            elif isinstance(stmt, ast.With | ast.AsyncWith):
                for item in stmt.items:
                    if isinstance(item.optional_vars, ast.Name):
                        self.bindings[item.optional_vars.id] = [item.context_expr]
                self._collect(stmt.body)
            elif isinstance(stmt, ast.Try):
                # The try branch is what normally runs.
                self._collect(stmt.body)

    def _collect_mutation(self, expr: ast.expr) -> None:
        """`REQS.append("x")` / `REQS.extend([...])` at module level."""
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and isinstance(expr.func.value, ast.Name)
            and expr.func.attr in ("append", "extend")
            and len(expr.args) == 1
            and expr.func.value.id in self.bindings
        ):
            arg = expr.args[0]
            added = ast.List(elts=[arg], ctx=ast.Load()) if expr.func.attr == "append" else arg
            ast.copy_location(added, arg)
            self.bindings[expr.func.value.id].append(added)


class _Reader:
    """Statically evaluates the arguments of one setup.py's setup() calls."""

    def __init__(self, module: _Module) -> None:
        self.module = module

    def strings(self, node: ast.expr, depth: int = 0) -> _Value:
        """The list of strings `node` evaluates to; files it reads; lines it computes."""
        if depth > _MAX_DEPTH:
            return _Value(dynamic=[node.lineno])
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return _Value(strings=_string_lines(node))
            return _Value() if node.value is None else _Value(dynamic=[node.lineno])
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            value = _Value()
            for element in node.elts:
                inner = element.value if isinstance(element, ast.Starred) else element
                value.merge(self.strings(inner, depth + 1))
            return value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.strings(node.left, depth + 1).merge(self.strings(node.right, depth + 1))
        if isinstance(node, ast.Name) and node.id in self.module.bindings:
            value = _Value()
            for bound in self.module.bindings[node.id]:
                value.merge(self.strings(bound, depth + 1))
            return value
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("list", "tuple", "sorted", "set")
            and len(node.args) == 1
            and isinstance(node.args[0], ast.List | ast.Tuple | ast.Set | ast.Name | ast.BinOp)
        ):
            return self.strings(node.args[0], depth + 1)
        files = self.files_read(node)
        return _Value(files=files) if files else _Value(dynamic=[node.lineno])

    def mapping(self, node: ast.expr, depth: int = 0) -> Iterator[tuple[str | None, ast.expr]]:
        """Key and value expressions of a dict literal, `dict(...)` call or a name bound to
        one; a key of None means the entry could not be read."""
        if depth > _MAX_DEPTH:
            yield None, node
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:
                    yield from self.mapping(value, depth + 1)
                elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                    yield key.value, value
                else:
                    yield None, value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and (node.func.id == "dict" and not node.args)
        ):
            for keyword in node.keywords:
                if keyword.arg is None:
                    yield from self.mapping(keyword.value, depth + 1)
                else:
                    yield keyword.arg, keyword.value
        elif isinstance(node, ast.Name) and len(self.module.bindings.get(node.id, ())) == 1:
            yield from self.mapping(self.module.bindings[node.id][0], depth + 1)
        else:
            yield None, node

    def files_read(self, node: ast.expr) -> list[tuple[str, int]]:
        """Requirements files an expression reads, looking into the names and the helper
        functions it uses: `[l.strip() for l in open("requirements.txt")]`."""
        found: dict[str, int] = {}
        for tree in self._related(node):
            for path in _paths_in(tree):
                found.setdefault(path, node.lineno)
        return list(found.items())

    def _related(self, node: ast.AST) -> list[ast.AST]:
        seen: list[ast.AST] = []
        todo: list[ast.AST] = [node]
        while todo and len(seen) < 50:
            current = todo.pop()
            if any(current is s for s in seen):
                continue
            seen.append(current)
            for child in ast.walk(current):
                if isinstance(child, ast.Name):
                    todo.extend(self.module.bindings.get(child.id, ()))
                    if child.id in self.module.functions:
                        todo.append(self.module.functions[child.id])
        return seen


def _string_lines(node: ast.Constant) -> list[tuple[str, int]]:
    # setuptools accepts one string with a requirement per line.
    return [
        (line.strip(), node.lineno + offset)
        for offset, line in enumerate(str(node.value).splitlines())
        if line.strip() and not line.strip().startswith("#")
    ]


def _paths_in(tree: ast.AST) -> list[str]:
    """Requirements-file paths named in `tree`, with `os.path.join("reqs", "base.txt")`
    and `Path(...) / "reqs" / "base.txt"` pieces joined."""
    found: list[str] = []
    consumed: set[int] = set()
    for node in ast.walk(tree):
        parts: list[ast.expr] = []
        if isinstance(node, ast.Call) and _callee(node.func) in ("join", "joinpath", "Path"):
            parts = list(node.args)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts = _division_chain(node)
        literals = [p for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str)]
        if literals and any(id(p) in consumed for p in literals):
            continue
        if literals and _is_requirements_path(str(literals[-1].value)):
            found.append("/".join(str(p.value).strip("/") for p in literals))
            consumed.update(id(p) for p in literals)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in consumed
            and _is_requirements_path(node.value)
        ):
            found.append(node.value)
    return [path.replace("\\", "/").removeprefix("./") for path in found]


def _is_requirements_path(text: str) -> bool:
    return bool(_REQUIREMENTS_PATH.match(text)) and not _NOT_REQUIREMENTS.search(text)


def _division_chain(node: ast.BinOp) -> list[ast.expr]:
    left = node.left
    head = (
        _division_chain(left)
        if isinstance(left, ast.BinOp) and isinstance(left.op, ast.Div)
        else [left]
    )
    return [*head, node.right]


def _callee(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _setup_calls(tree: ast.AST) -> list[ast.Call]:
    """`setup(...)`, `setuptools.setup(...)`, wherever they are (often under `if __name__`)."""
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _callee(n.func) == "setup"]


def parse_setup_py(relpath: str, text: str) -> Parsed:
    """Requirements of a setup.py, read without running it."""
    out = Collector()
    try:
        with warnings.catch_warnings():
            # Old code is full of invalid escapes ("\d"), and warnings must not reach stderr.
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=relpath)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        out.finding(
            UNREADABLE_FILE,
            f"setup.py is not valid Python 3 ({type(exc).__name__}); only literal lists were read",
            Location(relpath, line if isinstance(line, int) else None),
        )
        _fallback_lists(relpath, text, out)
        return out.result()
    try:
        reader = _Reader(_Module(tree))
        for call in _setup_calls(tree):
            _read_setup_call(call, reader, relpath, out)
    except RecursionError:
        out.finding(SETUP_PY_DYNAMIC, "setup.py is too deeply nested to read", Location(relpath))
    return out.result()


def _read_setup_call(call: ast.Call, reader: _Reader, relpath: str, out: Collector) -> None:
    for name, value in _keywords(call, reader):
        if name is None:
            _dynamic(out, relpath, value.lineno, "builds the arguments of setup()")
        elif name in _REQUIREMENT_KEYWORDS:
            _add_list(reader.strings(value), relpath, out, _REQUIREMENT_KEYWORDS[name], name)
        elif name == "extras_require":
            _add_extras(value, reader, relpath, out)
        elif name == "name" and isinstance(value, ast.Constant):
            out.project_name(value.value)
        elif name == "python_requires":
            result = reader.strings(value)
            for version, line in result.strings:
                out.python_version(version, Location(relpath, line))


def _keywords(call: ast.Call, reader: _Reader) -> Iterator[tuple[str | None, ast.expr]]:
    for keyword in call.keywords:
        if keyword.arg is None:
            yield from reader.mapping(keyword.value)
        else:
            yield keyword.arg, keyword.value


def _add_extras(value: ast.expr, reader: _Reader, relpath: str, out: Collector) -> None:
    for key, requirements in reader.mapping(value):
        if key is None:
            _dynamic(out, relpath, requirements.lineno, "computes extras_require")
            continue
        # setuptools reads `"extra:marker"` keys, and `":marker"` for conditional main ones.
        extra, _, marker = key.partition(":")
        _add_list(
            reader.strings(requirements),
            relpath,
            out,
            extra.strip() or None,
            "extras_require",
            marker.strip() or None,
        )


def _add_list(
    value: _Value,
    relpath: str,
    out: Collector,
    group: str | None,
    keyword: str,
    marker: str | None = None,
) -> None:
    for text, line in value.strings:
        out.add_pep508(text, Location(relpath, line), "setup.py", group=group, extra_marker=marker)
    for path, line in value.files:
        out.includes.append(
            Include(path, Location(relpath, line), (dirname(relpath),), group=group)
        )
    for line in sorted(set(value.dynamic)):
        _dynamic(out, relpath, line, f"computes {keyword}")


def _dynamic(out: Collector, relpath: str, line: int, what: str) -> None:
    out.finding(
        SETUP_PY_DYNAMIC,
        f"setup.py {what} at run time; not executed, so those requirements are unknown",
        Location(relpath, line),
    )


def _fallback_lists(relpath: str, text: str, out: Collector) -> None:
    """Literal `install_requires=[...]` lists of a setup.py that does not parse (Python 2)."""
    for m in _FALLBACK_LIST.finditer(text):
        try:
            items = ast.literal_eval(m[2])
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if not isinstance(items, list):
            continue
        group = _REQUIREMENT_KEYWORDS[m[1]]
        for item in items:
            if isinstance(item, str):
                offset = text.find(item, m.start(2))
                line = text.count("\n", 0, offset if offset >= 0 else m.start(2)) + 1
                out.add_pep508(item, Location(relpath, line), "setup.py", group=group)


# --- setup.cfg ---------------------------------------------------------------------------


def parse_setup_cfg(relpath: str, text: str) -> Parsed:
    """`[options] install_requires`, `tests_require`, `python_requires` and
    `[options.extras_require]` of a setup.cfg."""
    out = Collector()
    parser = _ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=relpath)
    except (configparser.Error, ValueError, UnicodeError) as exc:
        out.finding(
            UNREADABLE_FILE, f"not a valid setup.cfg: {_first_line(exc)}", Location(relpath)
        )
        return out.result()
    lines = TextLines(text)
    if parser.has_section("metadata"):
        out.project_name(parser["metadata"].get("name"))
    if parser.has_section("options"):
        start = lines.match(re.compile(r"^\s*\[options\]")) or 1
        options = parser["options"]
        for key, group in _REQUIREMENT_KEYWORDS.items():
            if key in options:
                _add_cfg_list(options[key], key, start, lines, relpath, out, group)
        if "python_requires" in options:
            line = lines.match(re.compile(r"^\s*python_requires\s*[=:]"), start)
            out.python_version(options["python_requires"], Location(relpath, line))
    if parser.has_section("options.extras_require"):
        start = lines.match(re.compile(r"^\s*\[options\.extras_require\]")) or 1
        for extra, value in parser["options.extras_require"].items():
            _add_cfg_list(value, extra, start, lines, relpath, out, extra)
    return out.result()


class _ConfigParser(configparser.ConfigParser):
    def optionxform(self, optionstr: str) -> str:
        # Keep the case of extras' names; setuptools' own keys are lower case anyway.
        return optionstr


def _add_cfg_list(
    value: str,
    key: str,
    start: int,
    lines: TextLines,
    relpath: str,
    out: Collector,
    group: str | None,
) -> None:
    key_line = lines.match(re.compile(rf"^\s*{re.escape(key)}\s*[=:]", re.IGNORECASE), start)
    key_line = key_line or start
    if value.strip().startswith("file:"):
        for path in value.strip()[len("file:") :].split(","):
            if path.strip():
                out.includes.append(
                    Include(
                        path.strip(), Location(relpath, key_line), (dirname(relpath),), group=group
                    )
                )
        return
    # Like setuptools: one requirement per line, or `;`-separated on a single line.
    items = value.splitlines() if "\n" in value.strip() else value.split(";")
    for item in items:
        item = item.strip()
        if item and not item.startswith("#"):
            line = lines.find(item, key_line) or key_line
            out.add_pep508(item, Location(relpath, line), "setup.cfg", group=group)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
