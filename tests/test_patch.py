"""The patch stage on fixture repos: the branch, one commit per recipe, notebooks kept whole,
dirty work trees refused, idempotency, dry runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envfix.errors import BadInputError
from envfix.patch import BRANCH, DirtyWorkTreeError, NotebookInstalls, patch_workspace
from envfix.recipes.engine import recipe
from envfix.workspace import open_folder
from tests.helpers import git, make_git_repo, write_files

RECIPES = [
    recipe(name)
    for name in (
        "numpy-builtin-type-aliases",
        "sklearn-externals-joblib",
        "pyyaml-load-loader",
        "python-collections-abc",
    )
]

MODEL = """\
import numpy as np
from sklearn.externals import joblib


def weights(n):
    w = np.ones(n, dtype=np.float)  # uniform
    return w


def not_numpy(np):
    return np.float
"""
CONFIG = """\
import yaml
from collections import Mapping

cfg = yaml.load(open('c.yaml'))
"""
PY2 = "print 'hello'\n"


def notebook() -> str:
    cells = [
        {"cell_type": "markdown", "id": "intro", "metadata": {"tags": ["x"]},
         "source": ["# Demo\n", "uses np.float in prose"]},
        {"cell_type": "code", "id": "setup", "execution_count": 1, "metadata": {"collapsed": True},
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["ok\n"]}],
         "source": ["!pip install numpy==1.16.4\n", "!git clone https://github.com/me/paper\n",
                    "%cd paper\n", "%tensorflow_version 1.x\n", "import numpy as np"]},
        {"cell_type": "code", "id": "work", "execution_count": 2, "metadata": {},
         "outputs": [{"output_type": "execute_result", "data": {"text/plain": ["3"]},
                      "metadata": {}, "execution_count": 2}],
         "source": "%matplotlib inline\nx = np.zeros(3, dtype=np.float)\nx.shape?"},
    ]  # fmt: skip
    doc = {"cells": cells, "metadata": {"colab": {"name": "demo"}}, "nbformat": 4,
           "nbformat_minor": 5}  # fmt: skip
    return json.dumps(doc, indent=2) + "\n"


INSTALLS = NotebookInstalls({"numpy": "2.1.3"}, repo_urls=("https://github.com/me/paper.git",),
                            repo_name="paper")  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_git_repo(
        tmp_path / "paper",
        {"model.py": MODEL, "config.py": CONFIG, "old.py": PY2, "demo.ipynb": notebook()},
    )


def test_patches_are_commits_on_the_branch(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    result = patch_workspace(open_folder(repo), RECIPES, INSTALLS, unreadable=["old.py"])
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == BRANCH
    assert git(repo, "status", "--porcelain") == ""
    messages = git(repo, "log", "--format=%s", f"{base}..HEAD").splitlines()[::-1]
    assert [m.split(":")[1].strip() for m in messages] == [
        "numpy-builtin-type-aliases", "sklearn-externals-joblib", "pyyaml-load-loader",
        "python-collections-abc", "notebook-setup",
    ]  # fmt: skip
    assert [p.recipe for p in result.patches][:4] == [r.id for r in RECIPES]
    assert result.base == base and result.requires == ("joblib",)
    model = (repo / "model.py").read_text()
    assert "dtype=float)  # uniform" in model and "import joblib" in model
    assert "    return np.float" in model  # a parameter named np is not numpy
    assert (repo / "old.py").read_text() == PY2
    assert [f.code for f in result.findings] == ["not-patched"]
    assert "-    w = np.ones(n, dtype=np.float)  # uniform" in result.diff


def test_notebooks_keep_outputs_metadata_ids_and_format(repo: Path) -> None:
    patch_workspace(open_folder(repo), RECIPES, INSTALLS)
    text = (repo / "demo.ipynb").read_text()
    doc = json.loads(text)
    before = json.loads(notebook())
    for new, old in zip(doc["cells"], before["cells"], strict=True):
        assert new["id"] == old["id"] and new["metadata"] == old["metadata"]
        assert new.get("outputs") == old.get("outputs")
    assert doc["cells"][0]["source"] == before["cells"][0]["source"]  # markdown untouched
    setup = "".join(doc["cells"][1]["source"])
    assert "# envfix: it would undo requirements.envfix.txt: !pip install numpy==1.16.4" in setup
    assert "# envfix: this notebook already runs in the clone: !git clone" in setup
    assert "# envfix: already in the clone: %cd paper" in setup
    assert "# envfix: Colab no longer has %tensorflow_version" in setup
    assert doc["cells"][2]["source"] == "%matplotlib inline\nx = np.zeros(3, dtype=float)\nx.shape?"
    assert text.startswith('{\n  "cells"') and text.endswith("}\n")  # written as it was


def test_applying_twice_changes_nothing(repo: Path) -> None:
    patch_workspace(open_folder(repo), RECIPES, INSTALLS)
    head = git(repo, "rev-parse", "HEAD")
    again = patch_workspace(open_folder(repo), RECIPES, INSTALLS)
    assert again.patches == () and git(repo, "rev-parse", "HEAD") == head


def test_one_recipe_can_be_reverted(repo: Path) -> None:
    result = patch_workspace(open_folder(repo), RECIPES, INSTALLS)
    yaml_commit = next(p.commit for p in result.patches if p.recipe == "pyyaml-load-loader")
    assert yaml_commit is not None
    git(repo, "revert", "--no-edit", yaml_commit)
    assert "yaml.load(open('c.yaml'))\n" in (repo / "config.py").read_text()
    assert "from collections.abc import Mapping" in (repo / "config.py").read_text()


def test_a_dirty_work_tree_is_refused_and_untouched(repo: Path) -> None:
    (repo / "model.py").write_text(MODEL + "# my edit\n")
    write_files(repo, {"notes.txt": "mine"})
    with pytest.raises(DirtyWorkTreeError, match=r"uncommitted changes \(model.py, notes.txt\)"):
        patch_workspace(open_folder(repo), RECIPES)
    assert (repo / "model.py").read_text().endswith("# my edit\n")
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_envfix_files_do_not_count_as_dirty(repo: Path) -> None:
    write_files(
        repo, {"requirements.envfix.txt": "# Generated by envfix\n", ".envfix/lock.json": "{}"}
    )
    assert patch_workspace(open_folder(repo), RECIPES).patches


def test_dry_run_writes_nothing(repo: Path) -> None:
    result = patch_workspace(open_folder(repo), RECIPES, INSTALLS, dry_run=True)
    assert result.dry_run and result.patches and all(p.commit is None for p in result.patches)
    assert "+    w = np.ones(n, dtype=float)  # uniform" in result.diff
    assert (repo / "model.py").read_text() == MODEL
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(repo, "status", "--porcelain") == ""


def test_a_folder_that_is_not_a_repo(tmp_path: Path) -> None:
    folder = write_files(tmp_path / "plain", {"a.py": "import numpy as np\nx = np.float\n"})
    with pytest.raises(BadInputError, match="not a git repository"):
        patch_workspace(open_folder(folder), RECIPES)


def test_a_tf1_notebook_patched_cell_by_cell_keeps_its_import(tmp_path: Path) -> None:
    cells = [
        ["%matplotlib inline\n", "!pip install -q h5py\n", "import numpy as np"],
        ["import tensorflow as tf\n", "x = tf.placeholder(tf.float32)\n", "sess = tf.Session()"],
        ["print 'a Python 2 cell: the notebook is patched cell by cell'"],
    ]
    doc = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}",
                      "metadata": {}, "outputs": [], "source": source}
                     for i, source in enumerate(cells)],
           "metadata": {}, "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    repo = make_git_repo(tmp_path / "tf1", {"tf1.ipynb": json.dumps(doc, indent=1) + "\n"})
    result = patch_workspace(open_folder(repo), [recipe("tf1-session-compat-v1")])
    assert [p.recipe for p in result.patches] == ["tf1-session-compat-v1"]
    new = json.loads((repo / "tf1.ipynb").read_text())["cells"]
    assert new[1]["source"] == [
        "import tensorflow.compat.v1 as tf\n",
        "tf.disable_v2_behavior()\n",
        "x = tf.placeholder(tf.float32)\n",
        "sess = tf.Session()",
    ]
    assert [c["source"] for c in (new[0], new[2])] == [cells[0], cells[2]]


GYM_JSON = "import gym\nimport gym.utils.json_utils\n\nprint(gym.utils.json_utils)\n"
TF1_LAYERS = (
    "import tensorflow as tf\n\nx = tf.placeholder(tf.float32, [None, 4])\n"
    "y = tf.layers.dense(x, 2)\n"
)
KERAS_SUMMARY = (
    "import tensorflow as tf\nimport keras\n\nmodel = keras.Sequential([keras.layers.Dense(1)])\n"
    'writer = tf.summary.FileWriter("logs")\n'
)


def test_trial_fixtures_gym_submodules_tf1_layers_and_keras_with_a_summary_writer(
    tmp_path: Path,
) -> None:
    files = {"envs.py": GYM_JSON, "graph.py": TF1_LAYERS, "siamese.py": KERAS_SUMMARY}
    repo = make_git_repo(tmp_path / "trial", files)
    ids = ["gym-to-gymnasium", "tf1-layers-legacy-keras", "tf1-session-compat-v1",
           "tf2-renamed-v1-symbols"]  # fmt: skip
    result = patch_workspace(open_folder(repo), [recipe(i) for i in ids])
    # gymnasium has no utils.json_utils: the file stays on gym rather than fail to import.
    assert (repo / "envs.py").read_text() == GYM_JSON
    # Keras code whose only TF1 name is the summary writer keeps TF2 behaviour.
    assert (repo / "siamese.py").read_text() == KERAS_SUMMARY
    assert (repo / "graph.py").read_text() == (
        'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\n'
        "import tensorflow.compat.v1 as tf\ntf.disable_v2_behavior()\n\n"
        "x = tf.placeholder(tf.float32, [None, 4])\ny = tf.layers.dense(x, 2)\n"
    )
    legacy, swap = result.patches
    assert (legacy.recipe, legacy.files, legacy.requires) == (
        "tf1-layers-legacy-keras", ("graph.py",), ("tf-keras",)
    )  # fmt: skip
    assert legacy.review and swap.recipe == "tf1-session-compat-v1"
    assert any(
        f.code == "check-this" and f.message.startswith("tf1-layers-legacy-keras:")
        for f in result.findings
    )


def test_crlf_line_endings_stay_and_the_diff_shows_only_the_fix(tmp_path: Path) -> None:
    source = b"import numpy as np\r\n\r\nx = np.float(1)\r\ny = 2\r\n"
    repo = make_git_repo(tmp_path / "crlf", {"a.py": source})
    result = patch_workspace(open_folder(repo), [recipe("numpy-builtin-type-aliases")], None)
    assert [p.recipe for p in result.patches] == ["numpy-builtin-type-aliases"]
    assert (repo / "a.py").read_bytes() == b"import numpy as np\r\n\r\nx = float(1)\r\ny = 2\r\n"
    assert git(repo, "diff", "--numstat", "HEAD~1", "HEAD") == "1\t1\ta.py"


def test_a_notebook_that_clones_and_installs_its_own_repo_uses_the_checkout(
    tmp_path: Path,
) -> None:
    cell = (
        "!git clone https://github.com/rll/deepul.git\n"
        "!unzip -qq deepul/homeworks/hw1/data/hw1_data.zip -d deepul/homeworks/hw1/data/\n"
        "!pip install ./deepul"
    )
    doc = {"cells": [{"cell_type": "code", "metadata": {}, "source": cell, "outputs": [],
                      "execution_count": None}], "metadata": {}, "nbformat": 4,
           "nbformat_minor": 5}  # fmt: skip
    repo = make_git_repo(
        tmp_path / "deepul", {"homeworks/hw1/hw1.ipynb": json.dumps(doc, indent=1) + "\n"}
    )
    installs = NotebookInstalls({}, repo_urls=("https://github.com/rll/deepul",))
    patch_workspace(open_folder(repo), [], installs)
    patched = json.loads((repo / "homeworks/hw1/hw1.ipynb").read_text())["cells"][0]["source"]
    assert "".join(patched).split("\n") == [
        "# envfix: this notebook already runs in the clone:"
        " !git clone https://github.com/rll/deepul.git",
        "!unzip -qq ../../homeworks/hw1/data/hw1_data.zip -d ../../homeworks/hw1/data/",
        "%pip install -e ../..",
    ]
