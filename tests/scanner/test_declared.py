"""envfix.scanner.declared: every place a repo declares its requirements."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from envfix.model import DeclaredRequirement, Location
from envfix.scanner import declared
from envfix.scanner.conda import parse_environment_file
from envfix.scanner.declared import (
    CONDA_SYSTEM_PACKAGE,
    CUSTOM_INDEX,
    FINDING_CODES,
    INCLUDE_CYCLE,
    INCLUDE_OUTSIDE_REPO,
    MISSING_REQUIREMENTS_FILE,
    SETUP_PY_DYNAMIC,
    UNPARSABLE_REQUIREMENT,
    UNREADABLE_FILE,
    DeclaredResult,
    is_declaration_file,
    parse_pip_command,
    read_declared,
)
from envfix.scanner.readme import parse_readme
from envfix.scanner.reqcommon import Parsed
from envfix.scanner.reqfile import parse_requirements_file
from envfix.scanner.setuppy import parse_setup_cfg, parse_setup_py
from envfix.scanner.tomldeps import parse_pipfile, parse_pyproject, poetry_to_pep440
from tests.helpers import Files, write_files

AT = Location("demo.ipynb", 2, cell=3)


def read(root: Path, files: Files) -> DeclaredResult:
    write_files(root, files)
    relpaths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return read_declared(root, relpaths)


def rows(result: DeclaredResult | list[DeclaredRequirement]) -> list[tuple[str, str, str]]:
    """(name, specifier, location) of each requirement."""
    reqs = result.requirements if isinstance(result, DeclaredResult) else result
    return [(r.name, r.specifier, str(r.location)) for r in reqs]


def by_name(result: DeclaredResult) -> dict[str, DeclaredRequirement]:
    return {r.name or (r.url or ""): r for r in result.requirements}


def findings(result: DeclaredResult, code: str) -> list[str]:
    return [str(f.location) for f in result.findings if f.code == code]


# --- which files are read ------------------------------------------------------------------


@pytest.mark.parametrize(
    "relpath",
    [
        "requirements.txt",
        "requirements-dev.txt",
        "requirements_gpu.txt",
        "dev-requirements.txt",
        "sub/dir/requirements.txt",
        "requirements/base.txt",
        "requirements/test.in",
        "requirements.in",
        "constraints.txt",
        "constraints-py36.txt",
        "setup.py",
        "pkg/setup.py",
        "setup.cfg",
        "pyproject.toml",
        "Pipfile",
        "environment.yml",
        "environment.yaml",
        "conda/env-gpu.yml",
        "conda_env.yaml",
        "env.yml",
        "README.md",
        "README",
        "readme.rst",
        "README.txt",
        "README.zh-CN.md",
        "docs/README.md",
        "INSTALL",
        "INSTALL.md",
        "docs/installation.rst",
    ],
)
def test_declaration_files(relpath: str) -> None:
    assert is_declaration_file(relpath)


@pytest.mark.parametrize(
    "relpath",
    [
        "train.py",
        "config.yaml",
        "data/labels.txt",
        "Pipfile.lock",
        "setup.sh",
        "README.html",
        "src/pkg/README.md",
        "INSTALL.sh",
        "docs/api.md",
        "notes.txt",
        "poetry.lock",
        ".github/workflows/ci.yml",
        "requirements.txt.bak",
    ],
)
def test_other_files(relpath: str) -> None:
    assert not is_declaration_file(relpath)


def test_every_format_has_a_parser_in_the_table() -> None:
    assert [fmt.name for fmt in declared.FORMATS] == [
        "requirements",
        "setup.py",
        "setup.cfg",
        "pyproject",
        "pipfile",
        "conda",
        "readme",
    ]


# --- requirements files --------------------------------------------------------------------

REQUIREMENTS = """\
# Versions used in the paper
numpy==1.16.4  # pinned
torch>=1.4,<1.5 ; python_version < "3.8"
scipy \\
    >=1.2
Pillow[jpeg,Avif]==6.2.1 --hash=sha256:abcdef
-e .
./lib
-e git+https://github.com/owner/repo.git@v1.0#egg=Some_Pkg
git+https://github.com/owner/other.git
https://files.example.org/pkg-1.0-py3-none-any.whl
mypkg @ https://example.org/mypkg.zip
--index-url https://pypi.example.org/simple
--extra-index-url https://extra.example.org/simple
-f https://download.pytorch.org/whl/torch_stable.html
this is not a requirement
torch==${TORCH_VERSION}
"""


def test_requirements_file(tmp_path: Path) -> None:
    result = read(tmp_path, {"requirements.txt": REQUIREMENTS})
    got = [
        (r.name, r.specifier, r.extras, r.marker, r.kind, r.url, r.editable, r.location.line)
        for r in result.requirements
    ]
    assert got == [
        ("numpy", "==1.16.4", (), None, "registry", None, False, 2),
        ("torch", "<1.5,>=1.4", (), 'python_version < "3.8"', "registry", None, False, 3),
        ("scipy", ">=1.2", (), None, "registry", None, False, 4),
        ("pillow", "==6.2.1", ("Avif", "jpeg"), None, "registry", None, False, 6),
        ("", "", (), None, "local", ".", True, 7),
        ("", "", (), None, "local", "./lib", False, 8),
        (
            "some-pkg",
            "",
            (),
            None,
            "url",
            "git+https://github.com/owner/repo.git@v1.0#egg=Some_Pkg",
            True,
            9,
        ),
        ("", "", (), None, "url", "git+https://github.com/owner/other.git", False, 10),
        (
            "pkg",
            "==1.0",
            (),
            None,
            "url",
            "https://files.example.org/pkg-1.0-py3-none-any.whl",
            False,
            11,
        ),
        ("mypkg", "", (), None, "url", "https://example.org/mypkg.zip", False, 12),
    ]
    assert {r.source for r in result.requirements} == {"requirements"}
    assert {r.group for r in result.requirements} == {None}
    assert result.requirements[0].original == "numpy==1.16.4"
    assert findings(result, CUSTOM_INDEX) == [
        "requirements.txt:13",
        "requirements.txt:14",
        "requirements.txt:15",
    ]
    assert all(f.severity == "info" for f in result.findings if f.code == CUSTOM_INDEX)
    assert findings(result, UNPARSABLE_REQUIREMENT) == [
        "requirements.txt:16",
        "requirements.txt:17",
    ]
    variable = [f for f in result.findings if f.location == Location("requirements.txt", 17)]
    assert "environment variable" in variable[0].message


@pytest.mark.parametrize(
    ("relpath", "group"),
    [
        ("requirements.txt", None),
        ("requirements-gpu.txt", None),
        ("requirements-dev.txt", "dev"),
        ("dev-requirements.txt", "dev"),
        ("requirements_test.txt", "test"),
        ("requirements/tests.txt", "test"),
        ("requirements/base.txt", None),
        ("docs/requirements.txt", "docs"),
        ("constraints.txt", "constraints"),
    ],
)
def test_requirements_file_groups(tmp_path: Path, relpath: str, group: str | None) -> None:
    result = read(tmp_path, {relpath: "numpy\n"})
    assert [(r.name, r.group) for r in result.requirements] == [("numpy", group)]


def test_includes_are_followed_once_relative_to_the_including_file(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        {
            "requirements.txt": "-r requirements/base.txt\ntorch==1.4\n",
            "requirements-dev.txt": "-r requirements.txt\n-r requirements/base.txt\npytest\n",
            "requirements/base.txt": "-r common.pip\nnumpy\n",
            "requirements/common.pip": "scipy\n-c ../pins.cfg\n",
            "pins.cfg": "scipy<1.3\n",
        },
    )
    assert sorted((name, loc) for name, _, loc in rows(result)) == [
        ("numpy", "requirements/base.txt:2"),
        ("pytest", "requirements-dev.txt:3"),
        ("scipy", "pins.cfg:1"),
        ("scipy", "requirements/common.pip:1"),
        ("torch", "requirements.txt:2"),
    ]
    groups = {(r.name, r.location.path): r.group for r in result.requirements}
    assert groups[("scipy", "pins.cfg")] == "constraints"
    assert groups[("scipy", "requirements/common.pip")] is None
    assert groups[("pytest", "requirements-dev.txt")] == "dev"
    assert result.findings == ()


def test_include_cycles_missing_files_and_files_outside(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "secret.txt").write_text("stolen\n")
    (tmp_path / "repo" / "link.txt").symlink_to(tmp_path / "secret.txt")
    result = read(
        tmp_path / "repo",
        {
            "requirements.txt": "-r a.txt\nnumpy\n",
            "a.txt": "-r b.txt\nscipy\n",
            "b.txt": "-r a.txt\n-r requirements.txt\n-r missing.txt\n-r ../secret.txt\n"
            "-r link.txt\n-r /etc/passwd\n-r https://example.org/requirements.txt\npandas\n",
            "requirements-self.txt": "-r requirements-self.txt\ntqdm\n",
        },
    )
    assert sorted(name for name, _, _ in rows(result)) == ["numpy", "pandas", "scipy", "tqdm"]
    assert findings(result, INCLUDE_CYCLE) == [
        "b.txt:1",
        "requirements.txt:1",
        "requirements-self.txt:1",
    ]
    cycle = next(f for f in result.findings if f.code == INCLUDE_CYCLE)
    assert cycle.message.endswith("a.txt -> b.txt -> a.txt")
    assert findings(result, MISSING_REQUIREMENTS_FILE) == ["b.txt:3"]
    assert findings(result, INCLUDE_OUTSIDE_REPO) == ["b.txt:4", "b.txt:5", "b.txt:6", "b.txt:7"]
    assert "stolen" not in str(result)


def test_a_file_found_by_the_walk_keeps_its_own_group(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        {
            "requirements-dev.txt": "-r requirements.txt\n",
            "requirements.txt": "numpy\n",
        },
    )
    assert [(r.name, r.group) for r in result.requirements] == [("numpy", None)]


# --- setup.py ------------------------------------------------------------------------------

SETUP_PY = """\
import os
from setuptools import setup, find_packages

BASE = ["numpy>=1.14", "scipy"]
EXTRA = BASE + ["pandas<1"]
EXTRA.append("tqdm")
VISION = ("pillow",)

setup(
    name="paper",
    packages=find_packages(),
    install_requires=EXTRA + [
        "torch==1.4.0",
        *VISION,
    ],
    extras_require={
        "gpu": ["cupy>=7"],
        ":python_version < '3.7'": ["dataclasses"],
        "viz:sys_platform == 'linux'": "matplotlib\\nseaborn",
    },
    tests_require=["pytest"],
    setup_requires=["pytest-runner"],
    python_requires=">=3.6",
)
"""


def test_setup_py_literals_and_names(tmp_path: Path) -> None:
    result = read(tmp_path, {"setup.py": SETUP_PY})
    got = [(r.name, r.specifier, r.group, r.marker, r.location.line) for r in result.requirements]
    assert got == [
        ("numpy", ">=1.14", None, None, 4),
        ("scipy", "", None, None, 4),
        ("pandas", "<1", None, None, 5),
        ("tqdm", "", None, None, 6),
        ("torch", "==1.4.0", None, None, 13),
        ("pillow", "", None, None, 7),
        ("cupy", ">=7", "gpu", None, 17),
        ("dataclasses", "", None, 'python_version < "3.7"', 18),
        ("matplotlib", "", "viz", 'sys_platform == "linux"', 19),
        ("seaborn", "", "viz", 'sys_platform == "linux"', 20),
        ("pytest", "", "test", None, 21),
    ]
    assert {r.source for r in result.requirements} == {"setup.py"}
    assert result.python_versions == ((">=3.6", Location("setup.py", 23)),)
    assert result.findings == ()


def test_setup_py_reading_requirements_files(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        {
            "pkg/setup.py": (
                "import os\nfrom setuptools import setup\n"
                "here = os.path.dirname(__file__)\n"
                "def read_reqs(name):\n"
                "    with open(os.path.join(here, name)) as f:\n"
                "        return [l.strip() for l in f if l.strip()]\n"
                "def test_reqs():\n"
                "    return open(os.path.join(here, 'reqs', 'test.pip')).read().splitlines()\n"
                "with open('base.pip') as fh:\n"
                "    BASE = fh.read().splitlines()\n"
                "setup(\n"
                "    install_requires=BASE + read_reqs('extra.pip'),\n"
                "    tests_require=test_reqs(),\n"
                "    extras_require={'docs': [l for l in open('docs.pip')]},\n"
                ")\n"
            ),
            "pkg/base.pip": "numpy\n",
            "pkg/extra.pip": "scipy\n",
            "pkg/reqs/test.pip": "pytest\n",
        },
    )
    assert [(r.name, r.group, str(r.location)) for r in result.requirements] == [
        ("numpy", None, "pkg/base.pip:1"),
        ("scipy", None, "pkg/extra.pip:1"),
        ("pytest", "test", "pkg/reqs/test.pip:1"),
    ]
    assert findings(result, MISSING_REQUIREMENTS_FILE) == ["pkg/setup.py:14"]


def test_setup_py_computed_requirements_are_reported(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        {
            "setup.py": (
                "from setuptools import setup\n"
                "import subprocess\n"
                "def cuda_reqs():\n"
                "    return ['cupy-cuda' + subprocess.check_output(['nvcc']).decode()]\n"
                "setup(\n"
                "    install_requires=['numpy'] + cuda_reqs(),\n"
                "    extras_require={k: [k] for k in ('a', 'b')},\n"
                "    **get_kwargs()\n"
                ")\n"
            ),
        },
    )
    assert rows(result) == [("numpy", "", "setup.py:6")]
    assert findings(result, SETUP_PY_DYNAMIC) == ["setup.py:6", "setup.py:7", "setup.py:8"]
    message = result.findings[0].message
    assert "install_requires at run time" in message and "not executed" in message


def test_setup_py_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    result = read(
        tmp_path / "repo",
        {
            "setup.py": (
                f"open({str(marker)!r}, 'w').write('ran')\n"
                "import sys\n"
                "raise SystemExit('setup.py must not run')\n"
                "from setuptools import setup\n"
                "setup(install_requires=['numpy'])\n"
            ),
        },
    )
    assert not marker.exists()
    assert rows(result) == [("numpy", "", "setup.py:5")]


def test_setup_py_kwargs_dict_and_python2_fallback(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        {
            "setup.py": (
                "import setuptools\n"
                "ARGS = dict(install_requires=['numpy'], extras_require={'x': ['scipy']})\n"
                "setuptools.setup(name='p', **ARGS)\n"
            ),
            "old/setup.py": (
                "from distutils.core import setup\n"
                "print 'installing'\n"
                "setup(name='old',\n"
                "      install_requires=['theano==0.9',\n"
                "                        'lasagne'])\n"
            ),
        },
    )
    assert [(r.name, r.group, str(r.location)) for r in result.requirements] == [
        ("theano", None, "old/setup.py:4"),
        ("lasagne", None, "old/setup.py:5"),
        ("numpy", None, "setup.py:2"),
        ("scipy", "x", "setup.py:2"),
    ]
    assert findings(result, UNREADABLE_FILE) == ["old/setup.py:2"]


# --- setup.cfg -----------------------------------------------------------------------------

SETUP_CFG = """\
[metadata]
name = paper

[options]
packages = find:
python_requires = >=3.6
install_requires =
    numpy>=1.16
    # a comment
    torch==1.4.0; platform_system != "Darwin"
tests_require = pytest

[options.extras_require]
GPU =
    cupy
docs = file: docs/requirements.in
"""


def test_setup_cfg(tmp_path: Path) -> None:
    result = read(tmp_path, {"setup.cfg": SETUP_CFG, "docs/requirements.in": "sphinx\n"})
    got = [
        (r.name, r.specifier, r.group, r.marker, str(r.location), r.source)
        for r in result.requirements
    ]
    assert got == [
        ("sphinx", "", "docs", None, "docs/requirements.in:1", "requirements"),
        ("numpy", ">=1.16", None, None, "setup.cfg:8", "setup.cfg"),
        ("torch", "==1.4.0", None, 'platform_system != "Darwin"', "setup.cfg:10", "setup.cfg"),
        ("pytest", "", "test", None, "setup.cfg:11", "setup.cfg"),
        ("cupy", "", "GPU", None, "setup.cfg:15", "setup.cfg"),
    ]
    assert result.python_versions == ((">=3.6", Location("setup.cfg", 6)),)


def test_broken_setup_cfg_is_a_finding(tmp_path: Path) -> None:
    result = read(tmp_path, {"setup.cfg": "install_requires = numpy\n"})
    assert findings(result, UNREADABLE_FILE) == ["setup.cfg"]


# --- pyproject.toml ------------------------------------------------------------------------

PYPROJECT = """\
[build-system]
requires = ["setuptools>=40", "wheel", "cython"]

[project]
name = "paper"
requires-python = ">=3.8"
dependencies = [
    "numpy>=1.20",
    'torch[cuda] >=1.8 ; sys_platform == "linux"',
]

[project.optional-dependencies]
viz = ["matplotlib"]

[dependency-groups]
test = ["pytest>=7", {include-group = "lint"}]
lint = ["ruff"]
loop = [{include-group = "Loop"}]
"""


def test_pyproject_pep621_and_dependency_groups(tmp_path: Path) -> None:
    result = read(tmp_path, {"pyproject.toml": PYPROJECT})
    got = [
        (r.name, r.specifier, r.extras, r.marker, r.group, r.location.line)
        for r in result.requirements
    ]
    assert got == [
        ("numpy", ">=1.20", (), None, None, 8),
        ("torch", ">=1.8", ("cuda",), 'sys_platform == "linux"', None, 9),
        ("matplotlib", "", (), None, "viz", 13),
        ("pytest", ">=7", (), None, "test", 16),
        ("ruff", "", (), None, "test", 17),
        ("ruff", "", (), None, "lint", 17),
    ]
    assert {r.source for r in result.requirements} == {"pyproject"}
    assert result.python_versions == ((">=3.8", Location("pyproject.toml", 6)),)
    assert findings(result, INCLUDE_CYCLE) == ["pyproject.toml:18"]


def test_pyproject_setuptools_dynamic_files(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        {
            "pyproject.toml": (
                '[project]\nname = "p"\ndynamic = ["dependencies", "optional-dependencies"]\n'
                "[tool.setuptools.dynamic]\n"
                'dependencies = {file = ["deps.txt"]}\n'
                'optional-dependencies.gpu = {file = "gpu.txt"}\n'
            ),
            "deps.txt": "numpy\n",
            "gpu.txt": "cupy\n",
        },
    )
    assert [(r.name, r.group, str(r.location)) for r in result.requirements] == [
        ("numpy", None, "deps.txt:1"),
        ("cupy", "gpu", "gpu.txt:1"),
    ]


@pytest.mark.parametrize(
    ("constraint", "specifier"),
    [
        ("^1.2.3", "<2.0.0,>=1.2.3"),
        ("^0.2.3", "<0.3.0,>=0.2.3"),
        ("^0.0.3", "<0.0.4,>=0.0.3"),
        ("^1.2", "<2.0,>=1.2"),
        ("^0", "<1,>=0"),
        ("~1.2.3", "<1.3.0,>=1.2.3"),
        ("~1.2", "<1.3,>=1.2"),
        ("~1", "<2,>=1"),
        ("~=1.2", "~=1.2"),
        ("*", ""),
        ("1.2.*", "==1.2.*"),
        ("1.2", "==1.2"),
        ("=1.2", "==1.2"),
        (">= 1.2, < 1.5", "<1.5,>=1.2"),
        (">=1.2 <1.5", "<1.5,>=1.2"),
        ("!=1.3", "!=1.3"),
    ],
)
def test_poetry_constraints(constraint: str, specifier: str) -> None:
    assert poetry_to_pep440(constraint) == specifier


POETRY = """\
[tool.poetry]
name = "paper"

[tool.poetry.dependencies]
python = "^3.7"
numpy = "^1.18"
"Torch" = { version = "~1.4", extras = ["cuda"], markers = "sys_platform == 'linux'" }
scipy = { version = ">=1.4", python = "<3.9" }
mylib = { git = "https://github.com/owner/mylib.git", tag = "v1.0" }
local = { path = "../local", develop = true }
archive = { url = "https://example.org/archive-1.0.tar.gz" }
tensorflow = [
    { version = "^2.2", python = "^3.8" },
    { version = "~1.15", python = "3.7" },
]
cupy = { version = "*", optional = true }
bad = "^not.a.version"

[tool.poetry.extras]
gpu = ["cupy"]

[tool.poetry.dev-dependencies]
pytest = "^6.0"

[tool.poetry.group.docs.dependencies]
sphinx = "3.*"
"""


def test_poetry(tmp_path: Path) -> None:
    result = read(tmp_path, {"pyproject.toml": POETRY})
    got = {
        r.original.split(" ")[0] + (f"/{r.specifier}" if r.name == "tensorflow" else ""): (
            r.name,
            r.specifier,
            r.extras,
            r.marker,
            r.kind,
            r.url,
            r.editable,
            r.group,
            r.location.line,
        )
        for r in result.requirements
    }
    assert got == {
        "numpy": ("numpy", "<2.0,>=1.18", (), None, "registry", None, False, None, 6),
        "Torch": (
            "torch",
            "<1.5,>=1.4",
            ("cuda",),
            'sys_platform == "linux"',
            "registry",
            None,
            False,
            None,
            7,
        ),
        "scipy": ("scipy", ">=1.4", (), 'python_version < "3.9"', "registry", None, False, None, 8),
        "mylib": (
            "mylib",
            "",
            (),
            None,
            "url",
            "git+https://github.com/owner/mylib.git@v1.0",
            False,
            None,
            9,
        ),
        "local": ("local", "", (), None, "local", "../local", True, None, 10),
        "archive": (
            "archive",
            "",
            (),
            None,
            "url",
            "https://example.org/archive-1.0.tar.gz",
            False,
            None,
            11,
        ),
        "tensorflow/<3.0,>=2.2": (
            "tensorflow",
            "<3.0,>=2.2",
            (),
            'python_version >= "3.8" and python_version < "4.0"',
            "registry",
            None,
            False,
            None,
            12,
        ),
        "tensorflow/<1.16,>=1.15": (
            "tensorflow",
            "<1.16,>=1.15",
            (),
            'python_version == "3.7"',
            "registry",
            None,
            False,
            None,
            12,
        ),
        "cupy": ("cupy", "", (), None, "registry", None, False, "gpu", 16),
        "pytest": ("pytest", "<7.0,>=6.0", (), None, "registry", None, False, "dev", 23),
        "sphinx": ("sphinx", "==3.*", (), None, "registry", None, False, "docs", 26),
    }
    assert {r.source for r in result.requirements} == {"poetry"}
    assert result.python_versions == (("<4.0,>=3.7", Location("pyproject.toml", 5)),)
    assert findings(result, UNPARSABLE_REQUIREMENT) == ["pyproject.toml:17"]


def test_broken_toml_is_a_finding(tmp_path: Path) -> None:
    result = read(tmp_path, {"pyproject.toml": "[project\n", "Pipfile": "x = \n"})
    assert findings(result, UNREADABLE_FILE) == ["Pipfile", "pyproject.toml"]


# --- conda ---------------------------------------------------------------------------------

ENVIRONMENT = """\
name: paper
channels:
  - pytorch
  - conda-forge
dependencies:
  - python=3.6
  - pytorch::pytorch=1.4.0=py3.6_cuda10.1.243_cudnn7.6.3_0
  - torchvision==0.5.0
  - cudatoolkit=10.1
  - numpy>=1.16,<1.17
  - scipy 1.2.*
  - pandas 0.24.2 py36he6710b0_0
  - py-opencv=3.4
  - tensorflow-gpu=1.15
  - matplotlib-base
  - msgpack-python
  - scikit-learn[build=py36*]
  - ffmpeg
  - libgcc-ng=9.1.0=hdf63c60_0
  - zlib=1.2.11=h7b6447c_3
  - tqdm=4.31.1=py_0
  - jpeg=9b=h024ee3a_2
  - pip
  - pip:
    - tensorboardX==1.2
    - -r requirements-pip.txt
    - --extra-index-url https://download.pytorch.org/whl/cu101
    - -e .
"""


def test_environment_yml(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        {
            "envs/environment.yml": ENVIRONMENT,
            "envs/requirements-pip.txt": "opencv-contrib-python\n",
        },
    )
    got = [
        (r.name, r.specifier, r.source, r.kind, r.location.line, r.original)
        for r in result.requirements
    ]
    assert got == [
        (
            "torch",
            "==1.4.0.*",
            "conda",
            "registry",
            7,
            "pytorch::pytorch=1.4.0=py3.6_cuda10.1.243_cudnn7.6.3_0",
        ),
        ("torchvision", "==0.5.0", "conda", "registry", 8, "torchvision==0.5.0"),
        ("numpy", "<1.17,>=1.16", "conda", "registry", 10, "numpy>=1.16,<1.17"),
        ("scipy", "==1.2.*", "conda", "registry", 11, "scipy 1.2.*"),
        ("pandas", "==0.24.2", "conda", "registry", 12, "pandas 0.24.2 py36he6710b0_0"),
        ("opencv-python", "==3.4.*", "conda", "registry", 13, "py-opencv=3.4"),
        ("tensorflow", "==1.15.*", "conda", "registry", 14, "tensorflow-gpu=1.15"),
        ("matplotlib", "", "conda", "registry", 15, "matplotlib-base"),
        ("msgpack", "", "conda", "registry", 16, "msgpack-python"),
        ("scikit-learn", "", "conda", "registry", 17, "scikit-learn[build=py36*]"),
        ("tqdm", "==4.31.1.*", "conda", "registry", 21, "tqdm=4.31.1=py_0"),
        ("tensorboardx", "==1.2", "requirements", "registry", 25, "tensorboardX==1.2"),
        ("", "", "requirements", "local", 28, "-e ."),
        ("opencv-contrib-python", "", "requirements", "registry", 1, "opencv-contrib-python"),
    ]
    assert result.requirements[-1].location.path == "envs/requirements-pip.txt"
    assert result.python_versions == (("3.6", Location("envs/environment.yml", 6)),)
    system = [f for f in result.findings if f.code == CONDA_SYSTEM_PACKAGE]
    # One finding for the file, not one per package; what the machine needs is named first.
    (folded,) = system
    assert folded.location == Location("envs/environment.yml", 9)
    assert folded.severity == "info"
    listed = folded.message.split(": ", 1)[1].split(", ")
    assert listed[0] == "cudatoolkit" and len(listed) == 6
    assert findings(result, CUSTOM_INDEX) == ["envs/environment.yml:27"]


@pytest.mark.parametrize(
    ("spec", "name", "specifier"),
    [
        ("numpy", "numpy", ""),
        ("numpy=1.16", "numpy", "==1.16.*"),
        ("numpy=1.16.*", "numpy", "==1.16.*"),
        ("numpy==1.16.4", "numpy", "==1.16.4"),
        ("numpy>=1.16", "numpy", ">=1.16"),
        ("numpy >=1.16, <2", "numpy", "<2,>=1.16"),
        ("numpy 1.16*", "numpy", "==1.16.*"),
        ("numpy=1.16.4=py36h7e9f1db_0", "numpy", "==1.16.4.*"),
        ("numpy==1.16.4=py36h7e9f1db_0", "numpy", "==1.16.4"),
        ("conda-forge::numpy", "numpy", ""),
        ("numpy[version='>=1.16']", "numpy", ">=1.16"),
        ("PyTorch=1.4", "torch", "==1.4.*"),
        ("pytables", "tables", ""),
        ("python-graphviz", "graphviz", ""),
        ("keras-gpu=2.2.4=0", "keras", "==2.2.4.*"),
        ("librosa=0.7", "librosa", "==0.7.*"),
    ],
)
def test_conda_specs(spec: str, name: str, specifier: str) -> None:
    reqs, found, _ = parse_pip_command(
        f"conda install {spec!r}", Location("README.md", 1), "readme"
    )
    assert [(r.name, r.specifier, r.original) for r in reqs] == [(name, specifier, spec)]
    assert found == []


@pytest.mark.parametrize(
    "spec",
    [
        "cudatoolkit=10.1",
        "cudnn",
        "ffmpeg",
        "_libgcc_mutex=0.1=main",
        "libpng",
        "mkl=2019.4=243",
        "zlib",
        "graphviz",
        "arrow-cpp",
        "cuda-nvcc",
        "blas=1.0=mkl",
        "yaml",
    ],
)
def test_conda_system_packages(spec: str) -> None:
    reqs, found, _ = parse_pip_command(f"conda install {spec}", Location("README.md", 1), "readme")
    assert reqs == [] and [f.code for f in found] == [CONDA_SYSTEM_PACKAGE]


def test_conda_version_pip_cannot_express_is_kept_without_it() -> None:
    reqs, found, _ = parse_pip_command("conda install 'numpy=1.15|1.16'", AT, "readme")
    assert [(r.name, r.specifier) for r in reqs] == [("numpy", "")]
    assert [f.code for f in found] == [UNPARSABLE_REQUIREMENT]


def test_yaml_that_is_not_a_conda_environment(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        {
            "env_config.yml": "learning_rate: 0.1\ndependencies: none\n",
            "envs.yaml": "{{ jinja }}: [\n",
            "environment.yml": "dependencies:\n  - numpy\n  - [unclosed\n",
            "conda.yml": "dependencies:\n  - numpy\n  - {weird: 1}\n  - 3.5\n",
        },
    )
    assert findings(result, UNREADABLE_FILE) == ["environment.yml:4"]
    assert rows(result) == [("numpy", "", "conda.yml:2")]
    assert findings(result, UNPARSABLE_REQUIREMENT) == ["conda.yml:3", "conda.yml:4"]


# --- Pipfile -------------------------------------------------------------------------------

PIPFILE = """\
[[source]]
url = "https://pypi.org/simple"
verify_ssl = true
name = "pypi"

[[source]]
url = "https://download.pytorch.org/whl/cu101"
name = "pytorch"

[packages]
numpy = "*"
"Torch" = "==1.4.0"
requests = {version = ">=2.0", extras = ["socks"], markers = "os_name == 'posix'"}
pywin32 = {version = "*", sys_platform = "== 'win32'"}
mylib = {git = "https://github.com/owner/mylib.git", ref = "main", editable = true}
local = {path = ".", editable = true}
scipy = "1.2.1"

[dev-packages]
pytest = ">=5"

[requires]
python_version = "3.6"
"""


def test_pipfile(tmp_path: Path) -> None:
    result = read(tmp_path, {"Pipfile": PIPFILE})
    got = [
        (
            r.name,
            r.specifier,
            r.extras,
            r.marker,
            r.kind,
            r.url,
            r.editable,
            r.group,
            r.location.line,
        )
        for r in result.requirements
    ]
    assert got == [
        ("numpy", "", (), None, "registry", None, False, None, 11),
        ("torch", "==1.4.0", (), None, "registry", None, False, None, 12),
        ("requests", ">=2.0", ("socks",), 'os_name == "posix"', "registry", None, False, None, 13),
        ("pywin32", "", (), 'sys_platform == "win32"', "registry", None, False, None, 14),
        (
            "mylib",
            "",
            (),
            None,
            "url",
            "git+https://github.com/owner/mylib.git@main",
            True,
            None,
            15,
        ),
        ("local", "", (), None, "local", ".", True, None, 16),
        ("scipy", "==1.2.1", (), None, "registry", None, False, None, 17),
        ("pytest", ">=5", (), None, "registry", None, False, "dev", 20),
    ]
    assert {r.source for r in result.requirements} == {"pipfile"}
    assert result.python_versions == (("3.6", Location("Pipfile", 23)),)
    assert findings(result, CUSTOM_INDEX) == ["Pipfile:7"]


# --- READMEs -------------------------------------------------------------------------------

README_MD = """\
# Paper code

Install it with pip install everything you need, or run `pip install -r requirements.txt`.
Then `pip install "torch>=1.4,<1.5"` and ``pip3 install tqdm``.

```bash
$ conda create -n paper python=3.6
$ conda install -c pytorch pytorch=1.4 cudatoolkit=10.1
(paper) user@host:~/paper$ pip install -q numpy==1.16.4 \\
    scipy==1.2.1 \\
    pandas==0.24.2
cd apex && pip install -v --no-cache-dir ./ && cd ..
pip install -r requirements-extra.txt  # optional
```

    sudo pip install 'tensorflow-gpu==1.15' > /dev/null 2>&1

- $ pip install --upgrade pip && pip install git+https://github.com/owner/repo.git#egg=repo

```python
!pip install tensorboardX==1.2
%pip install "h5py<3"
print("pip install notapackage")
```
"""


def test_readme_markdown(tmp_path: Path) -> None:
    result = read(tmp_path, {"README.md": README_MD, "requirements.txt": "pyyaml\n"})
    got = [
        (r.name, r.specifier, r.kind, r.location.line)
        for r in result.requirements
        if r.source == "readme"
    ]
    assert got == [
        ("torch", "<1.5,>=1.4", "registry", 4),
        ("tqdm", "", "registry", 4),
        ("torch", "==1.4.*", "registry", 8),
        ("numpy", "==1.16.4", "registry", 9),
        ("scipy", "==1.2.1", "registry", 9),
        ("pandas", "==0.24.2", "registry", 9),
        ("", "", "local", 12),
        ("tensorflow-gpu", "==1.15", "registry", 16),
        ("repo", "", "url", 18),
        ("tensorboardx", "==1.2", "registry", 21),
        ("h5py", "<3", "registry", 22),
    ]
    assert result.requirements[7].original == "tensorflow-gpu==1.15"
    assert result.python_versions == (("3.6", Location("README.md", 7)),)
    assert findings(result, CONDA_SYSTEM_PACKAGE) == ["README.md:8"]
    assert findings(result, MISSING_REQUIREMENTS_FILE) == ["README.md:13"]
    assert [r.name for r in result.requirements if r.source == "requirements"] == ["pyyaml"]


README_RST = """\
Paper
=====

Installation::

    pip install numpy==1.16.4
    python -m pip install -r docs/requirements-docs.txt

.. code-block:: bash

   pip install "scipy<1.3" && python setup.py install

Inline ``pip install pandas==0.24`` works too; pip install prose is ignored.
"""


def test_readme_rst_and_plain_text(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        {
            "docs/README.rst": README_RST,
            "docs/requirements-docs.txt": "sphinx\n",
            "INSTALL": "Run these:\npip install tqdm\npip3 install -U matplotlib==3.0.3\n",
        },
    )
    got = [(r.name, r.specifier, str(r.location)) for r in result.requirements]
    assert got == [
        ("tqdm", "", "INSTALL:2"),
        ("matplotlib", "==3.0.3", "INSTALL:3"),
        ("numpy", "==1.16.4", "docs/README.rst:6"),
        ("scipy", "<1.3", "docs/README.rst:11"),
        ("pandas", "==0.24", "docs/README.rst:13"),
        ("sphinx", "", "docs/requirements-docs.txt:1"),
    ]
    # The docs/ README's `-r` is read relative to the repo root when not found beside it.
    assert result.requirements[-1].group == "docs"
    assert result.findings == ()


# --- pip commands --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pip install numpy", [("numpy", "")]),
        ("!pip install -q numpy==1.16.4", [("numpy", "==1.16.4")]),
        ("%pip install numpy>=1", [("numpy", ">=1")]),
        ("pip3 install --user --no-deps --pre -U numpy", [("numpy", "")]),
        ("python -m pip install numpy", [("numpy", "")]),
        ("python3.7 -m pip install --upgrade numpy", [("numpy", "")]),
        ("!{sys.executable} -m pip install numpy", [("numpy", "")]),
        ("sudo -H pip install numpy", [("numpy", "")]),
        ("CUDA_HOME=/usr/local/cuda pip install numpy", [("numpy", "")]),
        (
            "pip install 'torch>=1.4,<1.5' \"numpy<1.17\"",
            [("torch", "<1.5,>=1.4"), ("numpy", "<1.17")],
        ),
        ("pip install pkg[extra]==1.0", [("pkg", "==1.0")]),
        ("pip install -i https://test.pypi.org/simple numpy", [("numpy", "")]),
        ("pip install --index-url=https://x.org/simple numpy", [("numpy", "")]),
        (
            "pip install torch==1.4.0+cpu -f https://download.pytorch.org/whl/torch_stable.html",
            [("torch", "==1.4.0+cpu")],
        ),
        ("pip install --target /tmp/x --cache-dir /tmp/c numpy", [("numpy", "")]),
        ("pip install numpy 2>&1 | tail -n 1", [("numpy", "")]),
        ("pip install numpy > /dev/null; pip install scipy", [("numpy", ""), ("scipy", "")]),
        ("pip install numpy &>/dev/null && pip install scipy", [("numpy", ""), ("scipy", "")]),
        ("pip install numpy # scipy", [("numpy", "")]),
        ("pip --disable-pip-version-check install numpy", [("numpy", "")]),
        ("uv pip install numpy", [("numpy", "")]),
        ("pip install -U pip setuptools", [("setuptools", "")]),
        ("pip uninstall -y numpy", []),
        ("pip download numpy", []),
        ("pip freeze > requirements.txt", []),
        ("echo pip install numpy", []),
        ("git clone https://github.com/o/r && cd r", []),
    ],
)
def test_pip_commands(command: str, expected: list[tuple[str, str]]) -> None:
    reqs, _, includes = parse_pip_command(command, AT, "notebook")
    assert [(r.name, r.specifier) for r in reqs] == expected
    assert all(r.location == AT and r.source == "notebook" for r in reqs)
    assert includes == []


def test_pip_command_urls_paths_includes_and_indexes() -> None:
    reqs, found, includes = parse_pip_command(
        "pip install -r requirements.txt --requirement=extra.txt -c pins.txt -e . "
        "-e git+https://github.com/o/r.git@v1#egg=r ./lib "
        "https://example.org/pkg-1.0.tar.gz git+https://github.com/o/x.git@main#egg=x "
        "--extra-index-url https://extra.org/simple -f https://download.pytorch.org/whl/x.html",
        AT,
        "notebook",
    )
    assert [(r.name, r.kind, r.url, r.editable) for r in reqs] == [
        ("", "local", ".", True),
        ("r", "url", "git+https://github.com/o/r.git@v1#egg=r", True),
        ("", "local", "./lib", False),
        ("", "url", "https://example.org/pkg-1.0.tar.gz", False),
        ("x", "url", "git+https://github.com/o/x.git@main#egg=x", False),
    ]
    assert includes == ["requirements.txt", "extra.txt"]  # -c pins.txt is not a requirement file
    assert [f.code for f in found] == [CUSTOM_INDEX, CUSTOM_INDEX]
    assert "https://extra.org/simple" in found[0].message


def test_pip_command_variables_and_bad_quotes_are_findings() -> None:
    reqs, found, _ = parse_pip_command("pip install $PACKAGES torch==${VERSION} numpy", AT, "x")
    assert [r.name for r in reqs] == ["numpy"]
    assert [f.code for f in found] == [UNPARSABLE_REQUIREMENT] * 2
    reqs, found, _ = parse_pip_command("pip install 'numpy<1.17", AT, "x")
    assert [r.name for r in reqs] == ["numpy"]
    assert [f.code for f in found] == [UNPARSABLE_REQUIREMENT]


# --- reading files defensively --------------------------------------------------------------


def test_encodings_binary_and_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(declared, "MAX_FILE_BYTES", 1000)
    result = read(
        tmp_path,
        {
            "requirements.txt": "# caf\xe9\nnumpy\n".encode("latin-1"),
            "a/requirements.txt": b"\x00\x01\x02binary",
            "b/requirements.txt": "scipy\n".encode("utf-16"),
            "c/requirements.txt": "\ufeffpandas\n",
            "d/requirements.txt": "x\n" * 600,
        },
    )
    assert rows(result) == [
        ("scipy", "", "b/requirements.txt:1"),
        ("pandas", "", "c/requirements.txt:1"),
        ("numpy", "", "requirements.txt:2"),
    ]
    unreadable = {str(f.location): f for f in result.findings if f.code == UNREADABLE_FILE}
    assert sorted(unreadable) == ["a/requirements.txt", "d/requirements.txt", "requirements.txt"]
    assert unreadable["requirements.txt"].severity == "info"


# --- no input makes a parser raise ------------------------------------------------------------

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def fragments(*pieces: str) -> st.SearchStrategy[str]:
    """Text made of pieces of a format's syntax, so that the parsers get past their first
    checks, mixed with arbitrary text."""
    piece = st.one_of(st.sampled_from(pieces), st.text(max_size=6))
    return st.one_of(st.text(), st.lists(piece, max_size=40).map("".join))


REQUIREMENT_PIECES = (
    "numpy",
    "Torch_Vision",
    "==1.0",
    ">=",
    "<2",
    ",",
    ";",
    " python_version < '3'",
    "\n",
    " ",
    "\\\n",
    "# c",
    "-e ",
    "-r ",
    "-c ",
    "--hash=sha256:ab",
    "git+https://x.org/y.git",
    "#egg=",
    "[",
    "]",
    " @ ",
    "${X}",
    ".",
    "./",
    "../",
    "/",
    "-i ",
    "--extra-index-url ",
    "-f ",
    "file:",
    "'",
    '"',
    "p-1.0-py3-none-any.whl",
    ".tar.gz",
    "~=",
    "===",
    "*",
    "--pre",
    "-q",
    "=",
)
SETUP_PY_PIECES = (
    "setup(",
    ")",
    "install_requires=",
    "extras_require=",
    "{",
    "}",
    "[",
    "]",
    "'numpy'",
    "'a:python_version<\"3\"'",
    ",",
    "\n",
    "X",
    " = ",
    " + ",
    "open('requirements.txt')",
    ".read().splitlines()",
    "**",
    "def f():\n    return ",
    "with open('r.txt') as f:\n    ",
    "python_requires=",
    "tests_require=",
    "dict(",
    "import setuptools\n",
    "setuptools.setup(",
    "*",
    "(",
    "lambda: 1",
    "    ",
    ".append(",
    ".extend(",
    "os.path.join(",
    "'reqs'",
    " / ",
    "print 'x'\n",
    "try:\n    ",
    "except:\n    pass\n",
    "X()",
    '"""\nnumpy\n"""',
    ":",
)
SETUP_CFG_PIECES = (
    "[options]",
    "[options.extras_require]",
    "\n",
    "install_requires",
    " = ",
    "file: ",
    "numpy",
    "\n    ",
    "#",
    ";",
    "python_requires",
    ":",
    "[",
    "]",
    "%(x)s",
    "=",
    "tests_require",
    ">=1",
)
TOML_PIECES = (
    "[project]",
    "[tool.poetry.dependencies]",
    "[tool.poetry.group.g.dependencies]",
    "[dependency-groups]",
    "[packages]",
    "[dev-packages]",
    "[requires]",
    "[tool.poetry.extras]",
    "\n",
    "dependencies = ",
    "[",
    "]",
    '"numpy"',
    "{",
    "}",
    "version = ",
    '"^1.2"',
    '"~1"',
    '"*"',
    "include-group = ",
    '"a"',
    "a = ",
    "b = ",
    ", ",
    "git = ",
    "python = ",
    "markers = ",
    "extras = ",
    "optional-dependencies",
    ".",
    "[[source]]",
    "url = ",
    '"^1 || ^2"',
    "true",
    "1",
    "[tool.setuptools.dynamic]",
    "file = ",
    "path = ",
    "optional = ",
    "python_version = ",
    "sys_platform = ",
    "\"== 'x'\"",
    "requires-python = ",
    '"^0.0"',
    '"^a"',
)
YAML_PIECES = (
    "dependencies:",
    "\n",
    "  - ",
    "numpy",
    "=1.2",
    "=",
    "::",
    "[build=x]",
    "[version='>1']",
    "pip:",
    "    - ",
    "-r x.txt",
    "python=3.6",
    " ",
    "{",
    "}",
    "[",
    "]",
    ": ",
    "&a ",
    "*a",
    "|",
    "'",
    '"',
    "#",
    "---\n",
    "!!python/object ",
    "1.5",
    "null",
    "cudatoolkit",
    "1.2.*",
    "|1.3",
    ",<2",
    "pytorch",
    "==",
)
README_PIECES = (
    "```",
    "~~~",
    "\n",
    "    ",
    "`",
    "``",
    "pip install ",
    "conda install ",
    "$ ",
    "!",
    "%",
    "numpy",
    "&&",
    ";",
    "|",
    "\\",
    "'",
    '"',
    "-r ",
    "-e ",
    "::",
    ".. code-block:: bash\n",
    "sudo ",
    "python -m ",
    "2>&1",
    ">",
    "#",
    "- ",
    "-c ",
    "=1.2",
    "$X",
    "requirements.txt",
    "-i ",
    "--index-url=",
    "conda create ",
    "python=3.6",
    "uv ",
    "pip3 ",
    "In [1]: ",
    "\t",
)


def check(parsed: Parsed, relpath: str) -> None:
    for req in parsed.requirements:
        assert req.name == canonicalize_name(req.name) or req.name == ""
        SpecifierSet(req.specifier)
        if req.marker is not None:
            Marker(req.marker)
        assert req.location.path.startswith(relpath.partition("/")[0])
    for finding in parsed.findings:
        assert finding.code in FINDING_CODES
    for version, location in parsed.python_versions:
        assert version and location.path == relpath


@FUZZ
@given(fragments(*REQUIREMENT_PIECES))
def test_requirements_parser_never_raises(text: str) -> None:
    check(parse_requirements_file("requirements.txt", text), "requirements.txt")


@FUZZ
@given(fragments(*SETUP_PY_PIECES))
def test_setup_py_parser_never_raises(text: str) -> None:
    check(parse_setup_py("setup.py", text), "setup.py")


@FUZZ
@given(fragments(*SETUP_CFG_PIECES))
def test_setup_cfg_parser_never_raises(text: str) -> None:
    check(parse_setup_cfg("setup.cfg", text), "setup.cfg")


@FUZZ
@given(fragments(*TOML_PIECES))
def test_toml_parsers_never_raise(text: str) -> None:
    check(parse_pyproject("pyproject.toml", text), "pyproject.toml")
    check(parse_pipfile("Pipfile", text), "Pipfile")


@FUZZ
@given(fragments(*YAML_PIECES))
def test_environment_parser_never_raises(text: str) -> None:
    check(parse_environment_file("environment.yml", text), "environment.yml")


@FUZZ
@given(fragments(*README_PIECES))
def test_readme_parser_never_raises(text: str) -> None:
    check(parse_readme("README.md", text), "README.md")
    check(parse_readme("README.rst", text), "README.rst")
    check(parse_readme("INSTALL", text), "INSTALL")


@FUZZ
@given(fragments(*README_PIECES, *REQUIREMENT_PIECES, *YAML_PIECES))
def test_pip_command_parser_never_raises(text: str) -> None:
    reqs, found, includes = parse_pip_command(text, AT, "notebook")
    check(Parsed(tuple(reqs), tuple(found)), AT.path)
    assert all(isinstance(path, str) for path in includes)


@FUZZ
@given(st.one_of(st.text(), fragments(*TOML_PIECES)))
def test_poetry_constraints_raise_only_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        SpecifierSet(poetry_to_pep440(text))


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.sampled_from(REQUIREMENT_PIECES + TOML_PIECES + YAML_PIECES), max_size=30).map(
        "".join
    )
)
def test_read_declared_never_raises(text: str) -> None:
    names = [
        "requirements.txt",
        "setup.py",
        "setup.cfg",
        "pyproject.toml",
        "Pipfile",
        "environment.yml",
        "README.md",
        "sub/requirements-dev.txt",
    ]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_files(root, dict.fromkeys(names, text))
        result = read_declared(root, names)
    assert all(f.code in FINDING_CODES for f in result.findings)
