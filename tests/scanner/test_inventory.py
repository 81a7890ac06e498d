from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envfix.model import Inventory
from envfix.runtime import load_profile
from envfix.scanner.inventory import (
    FORMER_STDLIB,
    STDLIB_BACKPORT,
    UNDECLARED_IMPORT,
    scan,
    walk_repo,
)
from envfix.scanner.names import NameResolver
from tests.helpers import notebook, write_files

COLAB = load_profile("colab")
COLAB_311 = load_profile("colab-2025.07")


def scan_offline(root: Path, runtime=COLAB) -> Inventory:  # type: ignore[no-untyped-def]
    # The live environment is this test machine's: keep it out so results are the same anywhere.
    return scan(root, runtime, NameResolver(runtime, live=None))


def names(inv: Inventory) -> dict[str, str | None]:
    return {u.module: u.name for u in inv.imports}


def test_walk_skips_vcs_caches_and_virtualenvs(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "a.py": "",
            "pkg/b.py": "",
            ".git/config": "",
            "__pycache__/x.pyc": "",
            "venv/pyvenv.cfg": "",
            "venv/lib/site.py": "",
            ".ipynb_checkpoints/n.ipynb": "",
            "node_modules/x.js": "",
            ".envfix/state.json": "",
        },
    )
    (tmp_path / "outside").symlink_to("/etc/hostname")
    assert walk_repo(tmp_path) == ["a.py", "pkg/b.py"]


def test_local_modules_are_not_requirements(repo_factory: Callable[..., Path]) -> None:
    root = repo_factory(
        {
            "src/mypkg/__init__.py": "from mypkg.utils import helper\n",
            "src/mypkg/utils.py": "import numpy\n",
            "train.py": "import mypkg\nimport models\nfrom data.loader import load\nimport torch\n",
            "models.py": "import torch.nn\n",
            "data/loader.py": "import pandas\n",
            "code/run.py": "import net\nimport sibling_only_here\n",
            "code/net.py": "",
            "code/sibling_only_here.py": "",
            "scripts/eval.py": "import sys\nsys.path.append('../lib')\nimport helpers\n",
            "lib/helpers.py": "import scipy\n",
            "vendor/deep/thing/localthing.py": "",
            "other.py": "import localthing\n",
            "nb/demo.ipynb": notebook("%%writefile gen.py\nx = 1\n", "import gen\n"),
        }
    )
    inv = scan_offline(root)
    assert set(inv.local_modules) == {
        "mypkg",
        "models",
        "data",
        "net",
        "sibling_only_here",
        "helpers",
        "localthing",
        "gen",
    }
    assert sorted({u.name for u in inv.imports}) == ["numpy", "pandas", "scipy", "torch"]


def test_a_known_package_deep_in_the_tree_is_not_local(repo_factory: Callable[..., Path]) -> None:
    # examples/yaml/ is not on any import path of train.py: `import yaml` means PyYAML.
    root = repo_factory({"examples/yaml/__init__.py": "", "train.py": "import yaml\n"})
    inv = scan_offline(root)
    assert names(inv) == {"yaml": "pyyaml"} and inv.local_modules == ()


def test_stdlib_is_judged_for_the_target_python(repo_factory: Callable[..., Path]) -> None:
    root = repo_factory(
        {
            "a.py": "import tomllib\nimport imp\nimport distutils.core\nimport urllib2\n"
            "import asyncore\nimport os.path\n",
        }
    )
    inv = scan_offline(root)  # Python 3.13
    assert names(inv) == {"distutils.core": "setuptools", "asyncore": "pyasyncore"}
    former = sorted(f.message.split("'")[1] for f in inv.findings if f.code == FORMER_STDLIB)
    assert former == ["asyncore", "distutils", "imp", "urllib2"]
    on_311 = scan_offline(root, COLAB_311)
    assert names(on_311) == {}  # imp, distutils and asyncore are still stdlib there
    assert [f.message.split("'")[1] for f in on_311.findings if f.code == FORMER_STDLIB] == [
        "urllib2"
    ]


def test_declared_imported_undeclared_and_unused(repo_factory: Callable[..., Path]) -> None:
    root = repo_factory(
        {
            "requirements.txt": "numpy==1.16.4\ntorch==1.4.0\nscikit-learn>=0.20\n",
            "environment.yml": "dependencies:\n  - pytorch=1.4\n  - pip:\n    - tqdm\n",
            "model.py": "import numpy as np\nimport cv2\nfrom sklearn import svm\n"
            "try:\n    import apex\nexcept ImportError:\n    apex = None\n",
            "demo.ipynb": notebook(
                "!pip install tensorboardX==1.2", "from tensorboardX import SummaryWriter"
            ),
        }
    )
    inv = scan_offline(root)
    assert inv.declared_and_imported == ("numpy", "scikit-learn", "tensorboardx")
    assert inv.undeclared == ("opencv-python",)
    assert inv.declared_unused == ("torch", "tqdm")
    (undeclared,) = [f for f in inv.findings if f.code == UNDECLARED_IMPORT]
    assert undeclared.location is not None and str(undeclared.location) == "model.py:2"
    assert "colab has" in undeclared.message
    conda = [r for r in inv.requirements if r.source == "conda"]
    assert [(r.name, r.original) for r in conda] == [("torch", "pytorch=1.4")]
    from_notebook = [r for r in inv.requirements if r.source == "notebook"]
    assert [(r.name, r.specifier, str(r.location)) for r in from_notebook] == [
        ("tensorboardx", "==1.2", "demo.ipynb cell 1, line 1")
    ]


def test_notebook_requirement_file_that_is_missing(repo_factory: Callable[..., Path]) -> None:
    root = repo_factory({"demo.ipynb": notebook("!pip install -r requirements-colab.txt")})
    inv = scan_offline(root)
    assert [f.code for f in inv.findings] == ["missing-requirements-file"]


def test_python2_files_and_mappings_are_listed(repo_factory: Callable[..., Path]) -> None:
    root = repo_factory(
        {
            "old/convert.py": "import cPickle\nprint 'x'\n",
            "new.py": "import cv2\nimport some_unknown_module\n",
        }
    )
    inv = scan_offline(root)
    assert inv.python2_files == ("old/convert.py",)
    by_module = {m.module: m for m in inv.mappings}
    assert by_module["cv2"].name == "opencv-python" and len(by_module["cv2"].candidates) > 1
    assert by_module["some_unknown_module"].source == "same-name"
    assert any(f.code == "guessed-distribution" for f in inv.findings)


def test_the_bundled_example(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "sparse-features-2018"
    inv = scan_offline(example)
    assert set(inv.declared_and_imported) >= {
        "numpy",
        "pandas",
        "scikit-learn",
        "pyyaml",
        "tqdm",
        "matplotlib",
        "tensorboardx",
    }
    assert "scipy" in inv.declared_unused
    assert inv.python2_files == ("scripts/convert_results.py",)
    assert "sfn" in inv.local_modules
    assert inv.files_scanned == 7


@pytest.mark.parametrize("runtime", ["colab", "colab-2025.07"])
def test_scan_is_deterministic(repo_factory: Callable[..., Path], runtime: str) -> None:
    root = repo_factory({"a.py": "import numpy\nimport b\n", "b.py": "import pandas\n"})
    rt = load_profile(runtime)
    assert scan_offline(root, rt) == scan_offline(root, rt)


def test_tooling_and_test_imports(repo_factory: Callable[..., Path]) -> None:
    root = repo_factory(
        {
            "setup.py": "from setuptools import setup\nimport versioneer\nsetup(name='x')\n",
            "docs/conf.py": "import sphinx_rtd_theme\n",
            "tests/test_model.py": "import pytest\nimport numpy\n",
            "conftest.py": "import hypothesis\n",
            "model.py": "import numpy\n",
        }
    )
    inv = scan_offline(root)
    assert {u.module for u in inv.imports} == {"pytest", "numpy", "hypothesis"}
    assert {u.module for u in inv.imports if not u.optional} == {"numpy"}
    assert inv.undeclared == ("numpy",)


def test_installing_the_repo_itself_is_not_a_requirement(
    repo_factory: Callable[..., Path],
) -> None:
    root = repo_factory(
        {
            "setup.py": "from setuptools import setup\n"
            "setup(name='ISR', install_requires=['numpy'])\n",
            "README.md": "Install:\n\n```\npip install ISR\n```\n",
            "demo.ipynb": notebook("!pip install isr==2.2", "import ISR\nimport numpy"),
            "ISR/__init__.py": "",
        }
    )
    inv = scan_offline(root)
    assert inv.project_names == ("isr",)
    assert [r.name for r in inv.requirements] == ["numpy"]
    itself = [str(f.location) for f in inv.findings if f.code == "installs-itself"]
    assert itself == ["README.md:4", "demo.ipynb cell 1, line 1"]
    assert inv.local_modules == ("ISR",)


def test_a_declared_provider_wins_over_the_same_named_guess(
    repo_factory: Callable[..., Path],
) -> None:
    # `decouple` on PyPI is an unrelated project; python-decouple provides the module.
    root = repo_factory(
        {"requirements.txt": "python-decouple==3.8\n", "settings.py": "import decouple\n"}
    )
    inv = scan_offline(root)
    assert names(inv) == {"decouple": "python-decouple"}
    assert inv.undeclared == () and inv.declared_unused == ()
    assert not [f for f in inv.findings if f.code in (UNDECLARED_IMPORT, "guessed-distribution")]


def test_renamed_and_placeholder_declarations_declare_their_module(
    repo_factory: Callable[..., Path],
) -> None:
    root = repo_factory(
        {
            "requirements.txt": "tensorflow-gpu==1.15\nbs4==0.0.1\nsklearn\nbox2d-py\n",
            "a.py": "import tensorflow as tf\nimport bs4\nfrom sklearn import svm\nimport Box2D\n",
        }
    )
    inv = scan_offline(root)
    assert names(inv) == {
        "tensorflow": "tensorflow-gpu",
        "bs4": "bs4",
        "sklearn": "sklearn",
        "Box2D": "box2d-py",
    }
    assert inv.undeclared == () and inv.declared_unused == ()
    assert not [f for f in inv.findings if f.code == UNDECLARED_IMPORT]
    # Declaring the real name too: that one provides the module.
    both = repo_factory(
        {"requirements.txt": "tensorflow-gpu==1.15\ntensorflow\n", "a.py": "import tensorflow\n"},
        name="both",
    )
    assert names(scan_offline(both)) == {"tensorflow": "tensorflow"}


def test_stdlib_backports_are_dropped_with_a_finding(repo_factory: Callable[..., Path]) -> None:
    root = repo_factory(
        {
            "requirements.txt": "numpy\ntyping\nenum34; python_version < '3.4'\n"
            "futures\ncontextlib2\n",
            "a.py": "import typing\nimport enum\nimport numpy\nimport contextlib2\n",
        }
    )
    for runtime in (COLAB, COLAB_311):
        inv = scan_offline(root, runtime)
        assert [r.name for r in inv.requirements] == ["numpy", "contextlib2"]
        dropped = [f for f in inv.findings if f.code == STDLIB_BACKPORT]
        assert [str(f.location) for f in dropped] == ["requirements.txt:2", "requirements.txt:4"]
        assert "typing backports 'typing', which is in the standard library" in dropped[0].message
        assert inv.declared_unused == ()


def test_a_module_named_like_a_distribution_inside_a_package_is_not_local(
    repo_factory: Callable[..., Path],
) -> None:
    root = repo_factory(
        {
            "pkg/__init__.py": "",
            "pkg/optax.py": "import optax\n",
            "fbox/__init__.py": "",
            "fbox/models/__init__.py": "",
            "fbox/models/tensorflow.py": "import tensorflow as tf\n",
            "fbox/models/base.py": "import tensorflow\n",
            "scripts/run.py": "import helper\n",
            "scripts/helper.py": "",
            "py2pkg/__init__.py": "",
            "py2pkg/a.py": "import optax\nprint 'old'\n",
            "py2pkg/optax.py": "",
        }
    )
    inv = scan_offline(root)
    by_file = {(u.location.path, u.module): u.name for u in inv.imports}
    assert by_file == {
        ("pkg/optax.py", "optax"): "optax",
        ("fbox/models/tensorflow.py", "tensorflow"): "tensorflow",
        ("fbox/models/base.py", "tensorflow"): "tensorflow",
    }
    # Python 2 imported a sibling module first (implicit relative import).
    assert set(inv.local_modules) == {"helper", "optax"}
