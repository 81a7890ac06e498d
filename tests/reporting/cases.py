"""Runs of a fixture paper repo, one per outcome: what the report stage is given.

Each case is a `RunRecord` as the run stage leaves it, over a notebook `demo.ipynb` whose
cells are below, on a Colab-like runtime. Tracebacks are in IPython 9's format, as nbclient
returns them (ANSI colours included where a real run has them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from envfix.model import (
    Change,
    Decision,
    Entry,
    Execution,
    Failure,
    FailureClass,
    InstalledDistribution,
    InstallReport,
    Location,
    Lock,
    OutcomeStatus,
    Patch,
    Round,
    RunRecord,
    RunResult,
    Runtime,
)
from tests.helpers import notebook

SITE = "/usr/local/lib/python3.12/dist-packages"
CELLS = (
    "import numpy as np\nimport pandas as pd\nimport torch",
    "import tensorflow as tf\nfrom sfn.model import SparseNet",
    "data = np.load('data/features.npy')\nlabels = pd.read_csv('data/labels.csv')",
    "x = np.asarray(data, dtype=np.float64)\nmodel = SparseNet(x.shape[1])",
    "model.fit(x, labels, epochs=100)",
)
README = """# Sparse features (NeurIPS 2018)

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/jane/sfn/blob/master/demo.ipynb)

## Data

Download the preprocessed features from https://zenodo.org/record/1234/files/features.npy
and put them in `data/`.
"""

RUNTIME = Runtime(
    name="colab",
    python_version="3.12.13",
    platforms=("manylinux_2_35_x86_64",),
    distributions=tuple(
        InstalledDistribution(name, version)
        for name, version in (
            ("numpy", "2.0.2"),
            ("pandas", "2.2.2"),
            ("torch", "2.8.0+cu126"),
            ("tensorflow", "2.19.0"),
            ("protobuf", "5.29.5"),
            ("scikit-learn", "1.6.1"),
        )
    ),
    accelerator="cpu",
    is_colab=True,
    released="2026-08-19",
    interpreter="/usr/bin/python3",
)

LOCK = Lock(
    target="live",
    backend="pip-tools",
    python_version="3.12.13",
    changes=(
        Change("tensorboardx", "add", None, "2.6.4", "README.md:14 asks for tensorboardX==1.2"),
        Change("tqdm", "add", None, "4.67.1", "requirements.txt:8 asks for tqdm==4.19.5"),
        Change("joblib", "add", None, "1.5.2", "recipe sklearn-externals-joblib needs it"),
        Change("six", "add", None, "1.17.0", "needed by tensorboardx"),
        Change("cloudpickle", "add", None, "3.1.3", "needed by joblib"),
        Change("pandas", "downgrade", "2.2.2", "2.1.4", "requirements.txt:2 asks for pandas<2.2"),
    ),
    decisions=(
        Decision(
            "tensorboardx",
            "tensorboardx>1.2",
            "relaxed",
            "the run showed 1.2 fails at import under today's protobuf",
            relaxed_from="tensorboardx==1.2",
            relaxed_because="conflict",
        ),
        Decision(
            "torch",
            "torch==2.8.0+cu126",
            "relaxed",
            "no wheel for cp312; API differences are handled by recipes",
            relaxed_from="torch==1.4.0",
            relaxed_because="no-wheel",
        ),
    ),
    direct_urls=(),
    findings=(),
    restart=(),
    requirements_file="/content/sfn/requirements.envfix.txt",
)

PATCHES = (
    Patch(
        "numpy-aliases", "np.float, np.int... were removed: use the builtins", ("demo.ipynb",), 1
    ),
    Patch("sklearn-externals-joblib", "sklearn.externals.joblib was removed", ("sfn/model.py",), 1),
)


def ipython_traceback(cell: int, line: int, code: str, *frames: str, error: str) -> str:
    head = (
        "\x1b[31m---------------------------------------------------------------------------"
        "\x1b[39m\n"
        f"\x1b[31m{error.split(':')[0]}\x1b[39m                            Traceback (most recent"
        " call last)\n"
        f"\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[{cell}]\x1b[39m\x1b[32m, line "
        f"\x1b[39m\x1b[32m{line}\x1b[39m\n"
        f"\x1b[32m----> \x1b[39m\x1b[32m{line}\x1b[39m {code}\n"
    )
    return head + "".join(f"\n{frame}\n" for frame in frames) + f"\n\x1b[31m{error}\x1b[39m"


def library_frame(path: str, line: int, function: str, code: str) -> str:
    return f"File \x1b[32m{path}:{line}\x1b[39m, in \x1b[36m{function}\x1b[39m\n--> {line} {code}"


@dataclass(frozen=True)
class Case:
    name: str
    status: OutcomeStatus
    kind: FailureClass | None = None
    ename: str = ""
    evalue: str = ""
    traceback: str = ""
    cell: int | None = None
    module: str | None = None
    package: str | None = None
    suspects: tuple[str, ...] = ()
    passed: int = 0
    actions: tuple[tuple[str, ...], ...] = field(default=())
    """The repair actions of the rounds before the last one."""


def _error(cell: int, line: int, ename: str, evalue: str, *frames: str) -> dict[str, object]:
    code = CELLS[cell - 1].splitlines()[line - 1]
    return {
        "ename": ename,
        "evalue": evalue,
        "traceback": ipython_traceback(cell, line, code, *frames, error=f"{ename}: {evalue}"),
        "cell": cell,
        "passed": cell - 1,
    }


CASES = (
    Case("runs", "runs", passed=5, actions=(("relaxed the old pin tensorboardx==1.2",),)),
    Case(
        "started",
        "started",
        "timeout",
        ename="Timeout",
        evalue="cell 5 was still running at its time limit (600 s)",
        cell=5,
        passed=4,
    ),
    Case(
        "missing-module",
        "blocked",
        "missing-module",
        module="sfn_ops",
        **_error(
            2,
            2,
            "ModuleNotFoundError",
            "No module named 'sfn_ops'",
            "File \x1b[32m/content/sfn/sfn/model.py:3\x1b[39m\n----> 3 import sfn_ops",
        ),
    ),
    Case(
        "removed-api",
        "blocked",
        "removed-api",
        package="tensorflow",
        suspects=("tensorflow",),
        **_error(
            2,
            2,
            "AttributeError",
            "module 'tensorflow' has no attribute 'contrib'",
            "File \x1b[32m/content/sfn/sfn/model.py:12\x1b[39m, in \x1b[36m<module>\x1b[39m\n"
            "---> 12 layers = tf.contrib.layers",
        ),
    ),
    Case(
        "binary-incompatible",
        "blocked",
        "binary-incompatible",
        package="torch",
        suspects=("torch", "numpy"),
        **_error(
            1,
            3,
            "ImportError",
            "numpy.core.multiarray failed to import",
            library_frame(
                f"{SITE}/torch/__init__.py", 1477, "<module>", "from .functional import *"
            ),
        ),
    ),
    Case(
        "version-conflict",
        "blocked",
        "version-conflict",
        package="protobuf",
        suspects=("tensorboardX", "google.protobuf"),
        **_error(
            2,
            2,
            "TypeError",
            "Descriptors cannot be created directly.",
            library_frame(
                f"{SITE}/google/protobuf/descriptor.py", 621, "__new__", "_message.Message._Check"
            ),
        ),
    ),
    Case(
        "needs-gpu",
        "blocked",
        "needs-gpu",
        package="torch",
        suspects=("torch",),
        **_error(
            4,
            2,
            "AssertionError",
            "Torch not compiled with CUDA enabled",
            library_frame(
                f"{SITE}/torch/cuda/__init__.py", 310, "_lazy_init", "raise AssertionError"
            ),
        ),
    ),
    Case(
        "needs-network",
        "blocked",
        "needs-network",
        package="urllib",
        **_error(
            3,
            1,
            "URLError",
            "<urlopen error [Errno -3] Temporary failure in name resolution>"
            " (https://example.org/sfn/features.npy)",
        ),
    ),
    Case(
        "needs-data",
        "blocked",
        "needs-data",
        package="numpy",
        suspects=("numpy",),
        **_error(
            3,
            1,
            "FileNotFoundError",
            "[Errno 2] No such file or directory: 'data/features.npy'",
            library_frame(f"{SITE}/numpy/lib/_npyio_impl.py", 455, "load", "fid = open(file)"),
        ),
    ),
    Case(
        "needs-colab",
        "blocked",
        "needs-colab",
        module="google.colab",
        **_error(1, 1, "ModuleNotFoundError", "No module named 'google.colab'"),
    ),
    Case(
        "python2-syntax",
        "blocked",
        "python2-syntax",
        ename="SyntaxError",
        evalue="Missing parentheses in call to 'print'. Did you mean print(...)? (utils.py, line 4)",
        traceback='  File "/content/sfn/sfn/utils.py", line 4\n    print "loading"\n    ^\n'
        "SyntaxError: Missing parentheses in call to 'print'.",
        cell=2,
        passed=1,
    ),
    Case(
        "timeout",
        "blocked",
        "timeout",
        ename="Timeout",
        evalue="cell 5 was still running at its time limit (600 s)",
        cell=5,
        passed=4,
    ),
    Case(
        "kernel-died",
        "blocked",
        "kernel-died",
        ename="DeadKernelError",
        evalue="Kernel died while waiting for execute reply.",
        traceback="[W 12:01:13] malloc: can't allocate region\nKilled",
        cell=4,
        passed=3,
    ),
    Case(
        "repo-bug",
        "blocked",
        "repo-bug",
        **_error(
            4,
            2,
            "IndexError",
            "tuple index out of range",
            "File \x1b[32m/content/sfn/sfn/model.py:40\x1b[39m, in \x1b[36mSparseNet.__init__\x1b[39m"
            "\n---> 40 self.width = shape[1]",
        ),
    ),
)


def write_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "demo.ipynb").write_text(notebook(*CELLS), encoding="utf-8")
    (root / "README.md").write_text(README, encoding="utf-8")
    return root


def record(case: Case, root: Path) -> RunRecord:
    entry = Entry("notebook", "demo.ipynb", "the README links it")
    failure = None
    if case.status != "runs":
        failure = Failure(
            kind=case.kind or "timeout",
            ename=case.ename,
            evalue=case.evalue,
            traceback=case.traceback,
            location=Location("demo.ipynb", cell=case.cell) if case.cell else None,
            module=case.module,
            package=case.package,
            suspects=case.suspects,
        )
    install = InstallReport("/usr/bin/python3", ("tqdm==4.67.1",), (), 12.5)
    rounds = [
        Round(
            number,
            Execution("blocked", entry, 5, 2, 4.0, _first_failure(entry)),
            install if number == 1 else None,
            actions,
        )
        for number, actions in enumerate(case.actions, start=1)
    ]
    last = Execution(case.status, entry, 5, case.passed, 8.5, failure, None)
    rounds.append(Round(len(rounds) + 1, last, install if not rounds else None, ()))
    run = RunResult(
        "the Colab runtime (/usr/bin/python3)", "/usr/bin/python3", entry, tuple(rounds)
    )
    return RunRecord(
        run, RUNTIME, LOCK, "https://github.com/jane/sfn", "5723763cb172a9d1e0", PATCHES
    )


def _first_failure(entry: Entry) -> Failure:
    return Failure(
        "version-conflict",
        "TypeError",
        "Descriptors cannot be created directly.",
        "",
        Location(entry.path, cell=2),
    )
