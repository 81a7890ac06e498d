"""The values that pass between envfix's stages.

Every type here is a frozen dataclass built from smaller ones: `Location` is used by
`ImportUse`, `DeclaredRequirement` and `Finding`, which make up an `Inventory`. Stages take
these values and return new ones; nothing is mutated after it is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

SCHEMA_VERSION = 1
"""Version of the JSON that `--json` prints; bumped when a field changes meaning or goes."""

Severity = Literal["info", "warning", "error"]


@dataclass(frozen=True, order=True)
class Location:
    """Where something was found: a file relative to the workspace root, and a line in it.

    For a notebook, `cell` is the cell number counted from 1 over all cells (as a reader
    counts them) and `line` is the line inside that cell.
    """

    path: str
    line: int | None = None
    cell: int | None = None

    def __str__(self) -> str:
        if self.cell is not None:
            where = f"{self.path} cell {self.cell}"
            return f"{where}, line {self.line}" if self.line is not None else where
        return f"{self.path}:{self.line}" if self.line is not None else self.path


ImportVia = Literal["import", "dynamic", "magic"]


@dataclass(frozen=True)
class ImportUse:
    """One `import x` / `from x import y` in the repo's code."""

    module: str
    """The absolute module path as written, e.g. `sklearn.externals.joblib`."""
    location: Location
    optional: bool = False
    """Inside `try/except ImportError` or under an `if`: the code runs without it."""
    name: str | None = None
    """Canonical distribution name that provides the module, once the scan mapped it."""
    via: ImportVia = "import"
    """How the code asks for it: an import statement, `importlib.import_module("x")`, or an
    IPython magic that needs a package (`%matplotlib` needs matplotlib)."""

    @property
    def top_level(self) -> str:
        return self.module.partition(".")[0]


RequirementKind = Literal["registry", "url", "local"]


@dataclass(frozen=True)
class DeclaredRequirement:
    """A requirement the repo states somewhere (requirements file, setup.py, README, ...)."""

    name: str
    """Canonical (PEP 503) distribution name; empty for a URL whose project is unknown."""
    location: Location
    source: str
    """The format it was read from: requirements, setup.py, setup.cfg, pyproject, poetry,
    conda, pipfile, notebook, readme."""
    specifier: str = ""
    extras: tuple[str, ...] = ()
    marker: str | None = None
    url: str | None = None
    kind: RequirementKind = "registry"
    editable: bool = False
    group: str | None = None
    """An optional group: an extra's name, `dev`, `test`. None for the main requirements."""
    original: str = ""
    """The text as the repo wrote it (`pytorch=1.4` in a conda file)."""

    @property
    def requirement(self) -> str:
        """The PEP 508 form, e.g. `numpy==1.16.4; python_version < "3.8"`."""
        if self.kind != "registry":
            text = f"{self.name} @ {self.url}" if self.name and self.url else (self.url or "")
        else:
            extras = f"[{','.join(self.extras)}]" if self.extras else ""
            text = f"{self.name}{extras}{self.specifier}"
        return f"{text}; {self.marker}" if self.marker else text


@dataclass(frozen=True)
class Finding:
    """Something the user should know; never by itself a failure of the command."""

    code: str
    """A stable slug such as `undeclared-import`; see `envfix.findings` for the list."""
    message: str
    location: Location | None = None
    severity: Severity = "warning"


MappingSource = Literal["local", "live-env", "import-map", "same-name", "stdlib"]


@dataclass(frozen=True)
class NameMapping:
    """How an import name was mapped to the distribution that provides it."""

    module: str
    """The import name (a top-level module, or a dotted prefix such as `google.protobuf`)."""
    name: str
    """The chosen distribution (canonical name)."""
    source: MappingSource
    candidates: tuple[str, ...] = ()
    """Every distribution known to provide the module, when there is more than one."""
    reason: str = ""


@dataclass(frozen=True)
class Inventory:
    """What a repo needs, as read from its files: the result of the scan stage."""

    root: str
    target: str
    """Name of the runtime the scan was made for (its Python decides what is stdlib)."""
    python_version: str
    files_scanned: int
    imports: tuple[ImportUse, ...]
    requirements: tuple[DeclaredRequirement, ...]
    mappings: tuple[NameMapping, ...]
    local_modules: tuple[str, ...]
    python2_files: tuple[str, ...]
    findings: tuple[Finding, ...]
    project_names: tuple[str, ...] = ()
    """The distribution names the repo itself publishes (setup.py `name=`, pyproject)."""

    @cached_property
    def imported_names(self) -> frozenset[str]:
        return frozenset(use.name for use in self.imports if use.name)

    @cached_property
    def required_imported_names(self) -> frozenset[str]:
        """Distributions imported somewhere without a fallback (not only optionally)."""
        return frozenset(use.name for use in self.imports if use.name and not use.optional)

    @cached_property
    def declared_names(self) -> frozenset[str]:
        return frozenset(req.name for req in self.requirements if req.name)

    @property
    def declared_and_imported(self) -> tuple[str, ...]:
        return tuple(sorted(self.declared_names & self.imported_names))

    @property
    def undeclared(self) -> tuple[str, ...]:
        """Imported (not only optionally) but declared nowhere."""
        return tuple(sorted(self.required_imported_names - self.declared_names))

    @property
    def declared_unused(self) -> tuple[str, ...]:
        """Declared but never imported: kept, since it may be a plugin or a runtime need."""
        return tuple(sorted(self.declared_names - self.imported_names))


@dataclass(frozen=True, order=True)
class InstalledDistribution:
    """A distribution installed in a runtime, as `pip freeze` shows it."""

    name: str
    """Canonical (PEP 503) name."""
    version: str | None
    """The installed version, local label kept (`2.11.0+cpu`); None when only a VCS URL is
    known."""
    url: str | None = None
    """Where it was installed from, when not from PyPI (`torch @ https://download.pytorch...`)."""
    display_name: str = ""


AcceleratorKind = Literal["cpu", "gpu"]


@dataclass(frozen=True)
class Runtime:
    """What the code will run on: Python, platform, installed distributions, CPU or GPU."""

    name: str
    """`live`, a bundled profile (`colab`, `colab-2026.07-gpu`), or the path it was read from."""
    python_version: str
    """Full version, e.g. `3.13.15`."""
    platforms: tuple[str, ...]
    """Platform tags, most specific first: `manylinux_2_35_x86_64` ... `linux_x86_64`."""
    distributions: tuple[InstalledDistribution, ...]
    accelerator: AcceleratorKind = "cpu"
    cuda: str | None = None
    source: str = ""
    """Where the facts came from, for a human: a file, the running interpreter, ..."""
    is_colab: bool = False
    os: str | None = None
    released: str | None = None
    """The date of the Colab snapshot, for a bundled profile."""
    interpreter: str | None = None
    """Path of the Python executable, when the runtime is a real interpreter on this machine."""
    notes: tuple[str, ...] = field(default=())

    @property
    def python_minor(self) -> str:
        """`3.13` for Python 3.13.15."""
        major, minor, *_ = self.python_version.split(".")
        return f"{major}.{minor}"

    @cached_property
    def installed(self) -> dict[str, InstalledDistribution]:
        return {dist.name: dist for dist in self.distributions}

    def version_of(self, name: str) -> str | None:
        dist = self.installed.get(name)
        return dist.version if dist else None


ChangeKind = Literal["add", "upgrade", "downgrade", "keep"]
PinRule = Literal["declared", "runtime", "relaxed", "date", "newest", "dependency", "url"]
RelaxCause = Literal["no-wheel", "binary-incompatible", "breaks-preinstalled", "conflict"]
"""Why a pin was relaxed: nothing matching installs on the target's Python and platform;
the versions asked for do not work with a compiled dependency of the target (NumPy 2);
honouring it would break a preinstalled package; the resolver found it impossible with the
rest."""


@dataclass(frozen=True)
class Need:
    """A distribution the code needs, with every reason and the versions the repo asks for:
    the plan stage's output, one per distribution."""

    name: str
    specifier: str = ""
    """The declared specifiers that apply, combined (`==1.16.4`, `<2,>=1.2`); empty if none."""
    reasons: tuple[str, ...] = ()
    """Where the need comes from: `requirements.txt:3 asks numpy==1.16.4`, `imported in ...`."""
    locations: tuple[Location, ...] = ()
    imported: bool = False
    declared: bool = False
    url: str | None = None
    """A direct URL the repo installs it from (`git+https://...`), passed through as is."""
    alternatives: tuple[str, ...] = ()
    """Each declaration's own specifier, when several files declare it: they may disagree
    (a CPU and a GPU environment file), and then any of them will do."""
    extras: tuple[str, ...] = ()
    """The extras the declarations ask for (`gymnasium[classic-control]`), merged, normalised
    (PEP 685) and sorted."""


@dataclass(frozen=True)
class Decision:
    """What envfix asks the resolver for one need, and the rule that chose it."""

    name: str
    requirement: str
    """The line given to the resolver: `tqdm==4.67.3`, `tensorboardx==1.2`, `scipy<2`."""
    rule: PinRule
    reason: str
    relaxed_from: str | None = None
    """The declared requirement that could not be honoured (`numpy==1.16.4`), if any."""
    relaxed_because: RelaxCause | None = None
    extras: tuple[str, ...] = ()
    """The need's extras: the resolver is asked for `name[extra,...]` plus `requirement`'s
    versions, so that what the extras bring in is locked too. Kept apart from `requirement`,
    which stays `name<versions>`."""


@dataclass(frozen=True)
class Change:
    """One difference between the runtime and the lock."""

    name: str
    kind: ChangeKind
    old: str | None
    new: str
    reason: str
    breaks: tuple[str, ...] = ()
    """Preinstalled distributions whose requirements exclude the new version."""


@dataclass(frozen=True)
class Lock:
    """The lock stage's result: what to install on top of the runtime, and why."""

    target: str
    backend: str
    python_version: str
    changes: tuple[Change, ...]
    decisions: tuple[Decision, ...]
    direct_urls: tuple[Need, ...]
    findings: tuple[Finding, ...]
    restart: tuple[str, ...]
    """Preinstalled distributions the install changes: any of them loaded in a running
    kernel means the runtime must be restarted after the install."""
    requirements_file: str | None = None
    reused: bool = False
    suggestion: str | None = None
    """A past Colab runtime that needs fewer changes, when the target needs large ones."""
    interpreter: str | None = None
    """The Python the pins were made for, when the target is an interpreter on this machine
    (the run's virtual environment): such pins are not for pasting into Colab."""

    @property
    def installs(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind != "keep")

    @property
    def relaxed(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.relaxed_from)


@dataclass(frozen=True)
class Patch:
    """One recipe applied to the repo: a commit on the patch branch."""

    recipe: str
    title: str
    files: tuple[str, ...]
    changes: int
    review: bool = False
    """Mechanical, but worth a look: the summary lists it under "check this"."""
    requires: tuple[str, ...] = ()
    commit: str | None = None
    note: str = ""


@dataclass(frozen=True)
class PatchResult:
    """The patch stage's result."""

    branch: str
    base: str | None
    """The commit the patch branch started from: `git diff <base>` shows every change."""
    patches: tuple[Patch, ...]
    findings: tuple[Finding, ...]
    diff: str
    dry_run: bool = False

    @property
    def requires(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for p in self.patches for r in p.requires))


EntryKind = Literal["notebook", "script"]


@dataclass(frozen=True)
class Entry:
    """What to run to prove the code works: the baseline notebook, or a script and its
    arguments, and why it was chosen."""

    kind: EntryKind
    path: str
    """Relative to the workspace root."""
    reason: str
    args: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    """The other notebooks or scripts that could have been chosen."""


OutcomeStatus = Literal["runs", "started", "blocked"]

FailureClass = Literal[
    "missing-module",
    "removed-api",
    "binary-incompatible",
    "version-conflict",
    "needs-gpu",
    "needs-network",
    "needs-data",
    "needs-colab",
    "python2-syntax",
    "timeout",
    "kernel-died",
    "needs-input",
    "repo-bug",
]


@dataclass(frozen=True)
class Failure:
    """The first error of a run, classified."""

    kind: FailureClass
    ename: str
    evalue: str
    traceback: str
    """The traceback as text, ANSI colour codes removed."""
    location: Location | None = None
    """The failing cell (counted from 1) or the script's failing line."""
    module: str | None = None
    """For a missing module: the module that could not be imported."""
    recipe: str | None = None
    """The recipe whose error pattern matches, when one does."""
    package: str | None = None
    """The installed distribution in whose code the error was raised, when known."""
    explanation: str = ""
    suspects: tuple[str, ...] = ()
    """Modules the error points at, most likely first: the library that raised it, those
    the failing line uses, the module an AttributeError names."""


@dataclass(frozen=True)
class Execution:
    """One run of the entry from the start."""

    status: OutcomeStatus
    entry: Entry
    cells_total: int
    """Code cells in the notebook (0 for a script)."""
    cells_passed: int
    seconds: float
    failure: Failure | None = None
    executed_path: str | None = None
    """The executed notebook, with its outputs, under `.envfix/executed/`."""


@dataclass(frozen=True)
class InstallReport:
    """What installing the lock into the target did, and what `pip check` and pipdeptree
    say about the environment afterwards."""

    python: str
    installed: tuple[str, ...]
    """Requirement lines given to pip (`name==version`)."""
    conflicts: tuple[str, ...]
    seconds: float
    added_kernel: bool = False


@dataclass(frozen=True)
class Round:
    """One round of the repair loop: the run, and what was changed because of it."""

    number: int
    execution: Execution
    install: InstallReport | None
    actions: tuple[str, ...]
    """What was changed after this round's run ("added requirement tqdm", "applied recipe
    numpy-aliases"); empty for the last round."""


@dataclass(frozen=True)
class RunResult:
    """The run stage's result: the rounds and the honest outcome of the last one."""

    environment: str
    """Which environment the run proved ("the Colab runtime", "the virtual environment
    .envfix/venv", "the interpreter /usr/bin/python3")."""
    python: str
    entry: Entry
    rounds: tuple[Round, ...]

    @property
    def final(self) -> Execution:
        return self.rounds[-1].execution

    @property
    def outcome(self) -> OutcomeStatus:
        return self.final.status


@dataclass(frozen=True)
class PackageVersion:
    """A distribution and the version the run had, for the report."""

    name: str
    version: str


@dataclass(frozen=True)
class Report:
    """The report stage's result: what blocks (or the proof that it runs), with every fact a
    teaching assistant needs to answer a forum post without a follow-up question. Every text
    in it has been through redaction."""

    title: str
    outcome: OutcomeStatus
    failure_class: FailureClass | None
    meaning: str
    """What the outcome class usually means, in one sentence."""
    next_step: str
    """What to do about it, in one sentence."""
    repo: str
    commit: str | None
    """The commit of the paper's code that was checked out, before envfix's patches."""
    entry: str
    """The notebook or script that was run (`demo.ipynb`, `python train.py --epochs 1`)."""
    where: str | None
    """`cell 3 of demo.ipynb`, or `train.py, line 12`."""
    environment: str
    runtime: str
    """The target in one line: `Colab 2026.07: Python 3.12.13, GPU (CUDA 12.8)`."""
    cells_passed: int
    cells_total: int
    packages: tuple[PackageVersion, ...]
    """The versions of the packages the traceback goes through."""
    code: str | None
    """The failing cell's code (or the script's lines around the failing one), trimmed."""
    traceback: str | None
    """The traceback trimmed to the repo's frames and the last library frames."""
    changes: tuple[str, ...]
    """The pins envfix changed and why."""
    recipes: tuple[str, ...]
    """The recipes envfix applied, with the files they changed."""
    rounds: tuple[str, ...]
    """One line per round of the repair loop."""
    install_cell: str
    command: str
    """The envfix command that reproduces the run."""
    redacted: tuple[tuple[str, int], ...] = ()
    """What redaction removed: (category, count), never the values."""
    logs: str = ".envfix/"
    pins_for_colab: bool = True
    """Were the pins made for a Colab runtime? Off Colab they are for the environment the
    run used, and pasting them into Colab would be wrong."""


@dataclass(frozen=True)
class RunRecord:
    """What a run leaves behind for the report (`.envfix/run.json`), so that `envfix report`
    can write it later, from the facts of the run and not from a new one."""

    run: RunResult
    runtime: Runtime
    """The environment the code ran in, as inspected before envfix installed anything."""
    lock: Lock
    """The lock as the run left it, after its repairs: what was installed on top."""
    source: str
    """The repo's URL (or the folder it came from)."""
    commit: str | None
    """The paper's own commit, before envfix's patches."""
    patches: tuple[Patch, ...] = ()
    """The patch commits on the branch, oldest first."""


BatchOutcome = Literal["runs", "started", "blocked", "locked", "failed", "timeout"]
"""A batch row's outcome: the run's three, `locked` (lock and patch done, not run), `failed`
(envfix stopped at a stage with an error) or `timeout` (the repo's time limit ended it)."""


@dataclass(frozen=True)
class BatchItem:
    """One line of a batch's repo list: a repo, and optionally its ref and notebook."""

    source: str
    """A URL or `owner/name` as the line gives it, or a local path made absolute (relative
    paths are read from the list's folder)."""
    slug: str
    """A folder name for it, unique in the batch (`owner__name`)."""
    ref: str | None = None
    notebook: str | None = None
    line: int = 0
    """The line of the list it came from, counted from 1."""


@dataclass(frozen=True)
class BatchRow:
    """What envfix did with one repo of a batch: a row of the summary."""

    source: str
    slug: str
    outcome: BatchOutcome
    framework: str
    """`pytorch`, `tensorflow`, `keras`, `jax`, `scikit-learn`, `numpy`, or `other`."""
    seconds: float
    changes: int = 0
    """Packages installed or changed on top of the runtime."""
    relaxed: int = 0
    """Declared pins envfix could not honour."""
    recipes: tuple[str, ...] = ()
    rounds: int = 0
    blocker: str | None = None
    """The report's title when blocked, or the stage error when failed, redacted."""
    failure_class: FailureClass | None = None
    report: str | None = None
    """The report file, relative to the batch's output folder."""
