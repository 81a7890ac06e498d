"""The scan stage: walk a repo once and build its `Inventory` of imports and requirements."""

from __future__ import annotations

import os
import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from envfix.model import (
    DeclaredRequirement,
    Finding,
    ImportUse,
    Inventory,
    Location,
    NameMapping,
    Runtime,
)
from envfix.scanner.declared import is_declaration_file, parse_pip_command, read_declared
from envfix.scanner.imports import CodeScan, scan_notebook_file, scan_python_file
from envfix.scanner.names import (
    OBSOLETE_BACKPORTS,
    STDLIB_BACKPORTS,
    NameResolver,
    describe_former_stdlib,
)

UNDECLARED_IMPORT = "undeclared-import"
FORMER_STDLIB = "former-stdlib-module"
PYTHON_VERSION = "python-version"
GUESSED_DISTRIBUTION = "guessed-distribution"
MISSING_REQUIREMENTS_FILE = "missing-requirements-file"
INSTALLS_ITSELF = "installs-itself"
STDLIB_BACKPORT = "stdlib-backport"

# Folders that hold no code of the repo's own: VCS data, caches, installed environments.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".envfix",
        "__pycache__",
        "node_modules",
        ".tox",
        ".nox",
        ".ipynb_checkpoints",
        "site-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }
)
# Files whose imports are build or documentation tooling, not needs of the code.
_TOOLING_FILES = re.compile(r"(^|/)setup\.py$|(^|/)docs?/(source/)?conf\.py$")
# Test code: its imports are needed to run the tests, not the paper's code.
_TEST_FILES = re.compile(r"(^|/)(tests?|testing)/|(^|/)(test_[^/]*|[^/]*_test|conftest)\.py$")
_EXTENSION = re.compile(r"^([A-Za-z_]\w*)\.(?:[\w-]+\.)?(?:so|pyd)$")
_SOURCE_ROOTS = ("", "src", "lib")
# Files envfix itself writes into a repo: its own output is not the repo's declaration.
GENERATED_FILES = frozenset({"requirements.envfix.txt"})


def walk_repo(root: Path) -> list[str]:
    """Every file of the repo as a sorted POSIX path relative to `root`.

    Skips VCS folders, caches and virtual environments, and symlinks that lead outside.
    """
    found: list[str] = []
    resolved_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIP_DIRS and not (here / d / "pyvenv.cfg").exists()
        )
        rel_dir = here.relative_to(root).as_posix()
        for filename in filenames:
            if filename in GENERATED_FILES:
                continue
            path = here / filename
            if path.is_symlink() and not path.resolve().is_relative_to(resolved_root):
                continue
            found.append(filename if rel_dir == "." else f"{rel_dir}/{filename}")
    return sorted(found)


class LocalModules:
    """Modules the repo itself provides, so that imports of them are not requirements."""

    def __init__(self, files: Iterable[str], scans: dict[str, CodeScan]) -> None:
        self.by_dir: dict[str, set[str]] = defaultdict(set)
        self.packages: set[str] = set()
        for rel in files:
            directory, _, filename = rel.rpartition("/")
            if filename == "__init__.py":
                self.packages.add(directory)
            name = _module_name(filename)
            if name is None:
                continue
            parts = rel.split("/")
            self.by_dir["/".join(parts[:-1])].add(name)
            for depth in range(len(parts) - 1):
                if parts[depth].isidentifier():
                    self.by_dir["/".join(parts[:depth])].add(parts[depth])
        self.roots: set[str] = set(_SOURCE_ROOTS)
        self.written: set[str] = set()
        for rel, code in scans.items():
            file_dir = posixpath.dirname(rel)
            for directory in code.search_dirs:
                joined = posixpath.normpath(posixpath.join(file_dir, directory))
                if not joined.startswith(".."):
                    self.roots.add("" if joined == "." else joined)
            self.written.update(code.written_modules)
        self.anywhere = frozenset(name for names in self.by_dir.values() for name in names)

    def is_local(self, top: str, file_dir: str, *, folder_on_path: bool = False) -> bool:
        """Whether `import top` in a file of `file_dir` finds a module of the repo.

        A file's own folder is on the import path when the file runs as a script; inside a
        package (`__init__.py`), an absolute import does not look there, so `import optax`
        in `pkg/optax.py` means the optax distribution. `folder_on_path` says the folder
        counts anyway: a notebook's working folder, Python 2's implicit relative imports.
        Else only the import roots count: the repo root, `src/`, `lib/`, folders the code
        adds to `sys.path`.
        """
        sibling = folder_on_path or file_dir not in self.packages
        return (
            top in self.written
            or (sibling and top in self.by_dir.get(file_dir, ()))
            or any(top in self.by_dir.get(r, ()) for r in self.roots)
        )


def _module_name(filename: str) -> str | None:
    stem, dot, suffix = filename.rpartition(".")
    if dot and suffix in ("py", "pyx") and stem.isidentifier():
        return stem
    m = _EXTENSION.match(filename)
    return m[1] if m else None


def scan(root: Path, runtime: Runtime, resolver: NameResolver | None = None) -> Inventory:
    """Read the repo at `root` and say what it imports and declares, for `runtime`."""
    resolver = resolver or NameResolver(runtime)
    files = walk_repo(root)
    scans: dict[str, CodeScan] = {}
    for rel in files:
        if rel.endswith(".py"):
            scans[rel] = scan_python_file(root, rel)
        elif rel.endswith(".ipynb"):
            scans[rel] = scan_notebook_file(root, rel)
    declared = read_declared(root, [rel for rel in files if is_declaration_file(rel)])
    findings: list[Finding] = [f for code in scans.values() for f in code.findings]
    findings.extend(declared.findings)
    own = set(declared.project_names)
    requirements = [r for r in declared.requirements if r.name not in own]
    findings.extend(_installs_itself(declared.requirements, own))
    file_set = set(files)
    for code in scans.values():
        for command in code.pip_commands:
            reqs, command_findings, includes = parse_pip_command(
                command.text, command.location, "notebook"
            )
            requirements.extend(r for r in reqs if r.name not in own)
            findings.extend(_installs_itself(reqs, own))
            findings.extend(command_findings)
            findings.extend(_missing_includes(includes, command.location, file_set))
    requirements, backport_findings = _without_obsolete_backports(requirements, resolver, runtime)
    findings.extend(backport_findings)
    local = LocalModules(files, scans)
    declared_names = frozenset(r.name for r in requirements if r.name)
    imports, mappings, local_names, import_findings = _classify_imports(
        scans, local, resolver, runtime, declared_names
    )
    findings.extend(import_findings)
    for version, location in declared.python_versions:
        findings.append(
            Finding(
                PYTHON_VERSION,
                f"the repo asks for Python {version}; {runtime.name} has {runtime.python_version}",
                location,
                severity="info",
            )
        )
    inventory = Inventory(
        root=str(root),
        target=runtime.name,
        python_version=runtime.python_version,
        files_scanned=len(scans),
        imports=tuple(sorted(imports, key=lambda u: (u.location, u.module))),
        requirements=tuple(requirements),
        mappings=tuple(sorted(mappings.values(), key=lambda m: m.module)),
        local_modules=tuple(sorted(local_names)),
        python2_files=tuple(sorted(rel for rel, code in scans.items() if code.python2)),
        findings=(),
        project_names=declared.project_names,
    )
    findings.extend(_undeclared_findings(inventory, runtime))
    findings.extend(
        Finding(GUESSED_DISTRIBUTION, f"'{m.module}' -> {m.name}: {m.reason}", severity="info")
        for m in inventory.mappings
        if m.source == "same-name"
        and m.name not in runtime.installed
        and m.name not in declared_names
    )
    return replace(inventory, findings=tuple(findings))


def _without_obsolete_backports(
    requirements: list[DeclaredRequirement], resolver: NameResolver, runtime: Runtime
) -> tuple[list[DeclaredRequirement], list[Finding]]:
    """The requirements minus backports of what the target's standard library has
    (`typing`, `enum34`), and a finding for each one dropped that no marker already limits
    to old Pythons."""
    kept: list[DeclaredRequirement] = []
    findings: list[Finding] = []
    for req in requirements:
        module = OBSOLETE_BACKPORTS.get(req.name)
        if module is None or req.kind != "registry" or not resolver.is_stdlib(module):
            kept.append(req)
            continue
        if not req.marker:
            findings.append(
                Finding(
                    STDLIB_BACKPORT,
                    f"{req.name} backports '{module}', which is in the standard library of"
                    f" Python {runtime.python_minor}; not installed",
                    req.location,
                    severity="info",
                )
            )
    return kept, findings


def _installs_itself(requirements: Iterable[DeclaredRequirement], own: set[str]) -> list[Finding]:
    """Findings for `pip install <the repo's own name>` lines: the checkout is used instead."""
    return [
        Finding(
            INSTALLS_ITSELF,
            f"installs {req.name}, the repo's own package, from PyPI; the checkout is used instead",
            req.location,
            severity="info",
        )
        for req in requirements
        if req.name in own and req.kind == "registry"
    ]


def _missing_includes(
    includes: Iterable[str], location: Location, files: set[str]
) -> list[Finding]:
    """Findings for `-r file` includes of notebook commands that name no file of the repo."""
    missing = []
    base = posixpath.dirname(location.path)
    for include in includes:
        candidates = {
            posixpath.normpath(posixpath.join(base, include)),
            posixpath.normpath(include),
        }
        if not candidates & files:
            missing.append(
                Finding(
                    MISSING_REQUIREMENTS_FILE,
                    f"installs from '{include}', which the repo does not have",
                    location,
                )
            )
    return missing


def _classify_imports(
    scans: dict[str, CodeScan],
    local: LocalModules,
    resolver: NameResolver,
    runtime: Runtime,
    declared: frozenset[str] = frozenset(),
) -> tuple[list[ImportUse], dict[str, NameMapping], set[str], list[Finding]]:
    imports: list[ImportUse] = []
    mappings: dict[str, NameMapping] = {}
    local_names: set[str] = set()
    findings: list[Finding] = []
    reported: set[tuple[str, str]] = set()
    resolved: dict[str, NameMapping] = {}
    for rel, code in scans.items():
        if _TOOLING_FILES.search(rel):
            continue
        file_dir = posixpath.dirname(rel)
        folder_on_path = code.python2 or rel.endswith(".ipynb")
        test_code = _TEST_FILES.search(rel) is not None
        for use in code.imports:
            if test_code and not use.optional:
                use = replace(use, optional=True)
            top = use.top_level
            if resolver.is_stdlib(top):
                continue
            if local.is_local(top, file_dir, folder_on_path=folder_on_path) or (
                top in local.anywhere and not resolver.knows(top, declared)
            ):
                local_names.add(top)
                continue
            if top in resolver.former_stdlib:
                if (rel, top) not in reported:
                    reported.add((rel, top))
                    findings.append(
                        Finding(
                            FORMER_STDLIB,
                            describe_former_stdlib(top, runtime.python_minor),
                            use.location,
                        )
                    )
                backport = STDLIB_BACKPORTS.get(top)
                if backport:
                    mappings.setdefault(
                        top,
                        NameMapping(top, backport, "stdlib", reason=f"backport of '{top}'"),
                    )
                    imports.append(replace(use, name=backport))
                continue
            mapping = resolved.get(use.module)
            if mapping is None:
                mapping = resolved[use.module] = resolver.resolve(use.module, declared)
                mappings.setdefault(mapping.module, mapping)
            imports.append(replace(use, name=mapping.name))
    return imports, mappings, local_names, findings


def _undeclared_findings(inventory: Inventory, runtime: Runtime) -> list[Finding]:
    first_use: dict[str, ImportUse] = {}
    for use in inventory.imports:
        if use.name and not use.optional:
            first_use.setdefault(use.name, use)
    findings = []
    for name in inventory.undeclared:
        use = first_use[name]
        version = runtime.version_of(name)
        has = f"; {runtime.name} has {version}" if version else f"; {runtime.name} lacks it"
        findings.append(
            Finding(
                UNDECLARED_IMPORT,
                f"{name} is imported (as '{use.module}') but no requirement declares it{has}",
                use.location,
            )
        )
    return findings
