from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from envfix.recipes.engine import (
    Recipe,
    applicable,
    apply_to_cell,
    apply_to_notebook,
    apply_to_source,
    catalogue,
    check_examples,
    load_recipe,
    notebook_imports,
)
from envfix.recipes.engine import recipe as shipped
from envfix.recipes.fixes import RecipeError

ROOT = Path(__file__).resolve().parents[2]
ALIASES = {
    "id": "t", "title": "t", "library": "numpy", "gone_in": "1.24", "source": "https://x",
    "error": "has no attribute 'float'",
    "fix": {"kind": "rename-attribute", "names": {"numpy.float": "float"}},
    "examples": [{"before": "import numpy as np\nx = np.float\n",
                  "after": "import numpy as np\nx = float\n"}],
}  # fmt: skip


def recipe(**changes: object) -> Recipe:
    return load_recipe({**ALIASES, **changes}, "t.yaml")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"fix": {"kind": "nope"}}, "unknown fix kind"),
        ({"gone_in": "not a version"}, "Invalid version"),
        ({"error": "("}, "missing \\)"),
        ({"examples": []}, "at least one"),
    ],
)
def test_a_wrong_recipe_is_named_with_its_file(changes: dict[str, object], words: str) -> None:
    with pytest.raises(RecipeError, match=f"t.yaml: .*{words}"):
        recipe(**changes)


def test_missing_fields() -> None:
    with pytest.raises(RecipeError, match="missing title"):
        load_recipe({k: v for k, v in ALIASES.items() if k != "title"}, "t.yaml")


def test_applies_from_the_version_that_removed_the_api() -> None:
    r = recipe()
    assert r.applies_to({"numpy": "2.1.3"}, "3.13.1")
    assert r.applies_to({"numpy": "1.24.0"}, "3.13.1")
    assert not r.applies_to({"numpy": "1.23.5"}, "3.13.1")
    assert not r.applies_to({}, "3.13.1")
    py = recipe(library="python", gone_in="3.12")
    assert py.applies_to({}, "3.12.1") and not py.applies_to({}, "3.11.9")
    assert r.matches_error("AttributeError: module 'numpy' has no attribute 'float'")
    assert [x.id for x in applicable([r, py], {"numpy": "2.0"}, "3.11.1")] == ["t"]


def test_check_examples_catches_a_wrong_after() -> None:
    wrong = recipe(examples=[{"before": "import numpy as np\nx = np.float\n",
                              "after": "import numpy as np\nx = np.float64\n"}])  # fmt: skip
    (problem,) = check_examples(wrong)
    assert "expected" in problem
    assert check_examples(recipe()) == []


def test_cells_see_the_imports_of_other_cells_and_keep_their_magics() -> None:
    cells = [
        "%matplotlib inline\nimport numpy as np",
        "!nvidia-smi\nx = np.zeros(3, dtype=np.float)\nx?",
    ]
    imports = notebook_imports(cells)
    assert imports == "import numpy as np"
    new, changes = apply_to_cell(recipe(), cells[1], imports)
    assert new == "!nvidia-smi\nx = np.zeros(3, dtype=float)\nx?" and changes == 1
    unchanged, changes = apply_to_cell(recipe(), "%%bash\necho np.float", imports)
    assert changes == 0 and unchanged == "%%bash\necho np.float"


def test_added_imports_land_in_the_cell() -> None:
    moved = recipe(fix={"kind": "rename-attribute", "names": {"scipy.interp": "numpy.interp"}})
    new, _ = apply_to_cell(moved, "y = scipy.interp(a, b, c)", "import scipy")
    assert new == "import numpy\ny = numpy.interp(a, b, c)"


TF1_CELLS = [
    "%matplotlib inline\n!pip install -q tensorflow==1.15\nimport numpy as np",
    "import tensorflow as tf\n\nx = tf.placeholder(tf.float32, [None, 3])\n"
    "sess = tf.Session()\nsess.run?",
    "!nvidia-smi\nprint(np.zeros(3))",
]
TF1_CELL = (
    "import tensorflow.compat.v1 as tf\ntf.disable_v2_behavior()\n\n"
    "x = tf.placeholder(tf.float32, [None, 3])\nsess = tf.Session()\nsess.run?"
)


def test_a_cell_keeps_its_swapped_import_and_the_added_line() -> None:
    tf1 = shipped("tf1-session-compat-v1")
    imports = notebook_imports(TF1_CELLS)
    new, changes = apply_to_cell(tf1, TF1_CELLS[1], imports)
    assert new == TF1_CELL and changes >= 1
    assert apply_to_cell(tf1, TF1_CELLS[0], imports) == (TF1_CELLS[0], 0)
    assert apply_to_cell(tf1, new, notebook_imports([TF1_CELLS[0], new]))[0] == new


def test_a_cell_whose_import_is_in_another_cell_gets_the_swapped_import() -> None:
    tf1 = shipped("tf1-session-compat-v1")
    cells = ["import tensorflow as tf", "%time sess = tf.Session()\ny = tf.placeholder(tf.int32)"]
    new, _ = apply_to_cell(tf1, cells[1], notebook_imports(cells))
    assert new == (
        "import tensorflow.compat.v1 as tf\ntf.disable_v2_behavior()\n"
        "%time sess = tf.Session()\ny = tf.placeholder(tf.int32)"
    )
    # A rewritten import that no added line needs stays in its own cell.
    moved = shipped("sklearn-cross-validation-modules")
    cells = ["from sklearn.cross_validation import KFold", "folds = KFold(5)"]
    imports = notebook_imports(cells)
    assert apply_to_cell(moved, cells[1], imports)[0] == cells[1]


@pytest.mark.parametrize("py2_cell", [False, True])
def test_tf1_notebook_whole_or_cell_by_cell(py2_cell: bool) -> None:
    tf1 = shipped("tf1-session-compat-v1")
    cells = [*TF1_CELLS, "print 'done'"] if py2_cell else TF1_CELLS
    new, changes = apply_to_notebook(tf1, cells)
    assert changes >= 1
    assert new[0] == cells[0] and new[2] == cells[2] and new[1] == TF1_CELL
    assert new[3:] == cells[3:]


def test_the_catalogue_is_large_and_every_recipe_passes_its_examples() -> None:
    recipes = catalogue()
    failures = {r.id: check_examples(r) for r in recipes}
    assert {rid: p for rid, p in failures.items() if p} == {}
    assert all(r.source.startswith("http") for r in recipes)
    ids = [path.stem for path in (ROOT / "recipes").glob("*.yaml")]
    assert sorted(ids) == sorted(r.id for r in recipes)  # one file per recipe, named by id


def test_breakage_references_exist() -> None:
    catalogue_path = ROOT.parent / "shared" / "reference" / "breakages.yaml"
    known = {e["id"] for e in yaml.safe_load(catalogue_path.read_text())["entries"]}
    unknown = {r.id: r.breakage for r in catalogue() if r.breakage and r.breakage not in known}
    assert unknown == {}


def test_recipes_list_json(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from envfix.cli import main

    result = CliRunner().invoke(main, ["recipes", "list", "--json"])
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and len(doc["recipes"]) == len(catalogue())
    shown = CliRunner().invoke(main, ["recipes", "show", "numpy-asscalar"])
    assert "item()" in shown.stdout
    missing = CliRunner().invoke(main, ["recipes", "show", "nope"])
    assert missing.exit_code == 2
    tested = CliRunner().invoke(main, ["recipes", "test"])
    assert tested.exit_code == 0 and "recipes pass their examples" in tested.stdout


# --- defects found by the field trial ------------------------------------------------------


def apply_all(ids: list[str], source: str) -> str:
    """The source after the shipped recipes, in the catalogue's order (as the patch stage)."""
    for r in catalogue():
        if r.id in ids:
            source = apply_to_source(r, source)[0]
    return source


@pytest.mark.parametrize(
    ("source", "missing"),
    [
        ("import gym\nimport gym.utils.json_utils\nprint(gym.utils.json_utils)\n",
         "gym.utils.json_utils"),
        ("import gym\nfrom gym.envs.classic_control import rendering\nenv = gym.make('x')\n",
         "gym.envs.classic_control.rendering"),
        ("import gym\nfrom gym.wrappers import Monitor\nenv = Monitor(gym.make('x'), 'v')\n",
         "gym.wrappers.Monitor"),
        ("from gym.wrappers.time_limit import TimeLimit\nfrom gym import spaces\n",
         "gym.wrappers.time_limit"),
    ],
)  # fmt: skip
def test_gym_to_gymnasium_leaves_a_file_that_needs_what_gymnasium_lacks(
    source: str, missing: str
) -> None:
    gym = shipped("gym-to-gymnasium")
    assert gym.lacks(source) == (missing,)
    assert apply_to_source(gym, source) == (source, 0)
    cells = source.split("\n", 1)
    assert apply_to_notebook(gym, cells) == (cells, 0)


def test_gym_to_gymnasium_still_rewrites_what_gymnasium_has() -> None:
    gym = shipped("gym-to-gymnasium")
    source = (
        "import gym\nfrom gym.envs.classic_control import CartPoleEnv\n"
        "from gym.utils import seeding\nenv = gym.wrappers.TimeLimit(CartPoleEnv(), 200)\n"
        "print(gym.__version__, gym.spaces.Box, gym.logger.set_level)\n"
    )
    assert gym.lacks(source) == ()
    new, changes = apply_to_source(gym, source)
    assert changes and "import gymnasium as gym\n" in new
    assert "from gymnasium.envs.classic_control import CartPoleEnv" in new
    assert gym.lacks(new) == ()


TF_RECIPES = ["tf1-session-compat-v1", "tf2-renamed-v1-symbols", "tf1-layers-legacy-keras"]


def test_tf1_swap_leaves_a_keras_file_whose_only_tf1_name_is_a_summary_writer() -> None:
    source = (
        "import tensorflow as tf\nimport keras\n"
        "model = keras.Sequential([keras.layers.Dense(1)])\n"
        'writer = tf.summary.FileWriter("logs")\n'
    )
    assert apply_to_source(shipped("tf1-session-compat-v1"), source) == (source, 0)
    assert apply_all(TF_RECIPES, source) == source
    lone = "import tensorflow as tf\ntf.reset_default_graph()\nmodel = tf.keras.Sequential()\n"
    assert apply_all(TF_RECIPES, lone) == (
        "import tensorflow as tf\ntf.compat.v1.reset_default_graph()\n"
        "model = tf.keras.Sequential()\n"
    )


def test_tf1_layers_get_the_keras_2_switch() -> None:
    source = (
        "import tensorflow as tf\nx = tf.placeholder(tf.float32, [None, 4])\n"
        "y = tf.layers.dense(x, 2)\n"
    )
    expected = (
        'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\n'
        "import tensorflow.compat.v1 as tf\ntf.disable_v2_behavior()\n"
        "x = tf.placeholder(tf.float32, [None, 4])\ny = tf.layers.dense(x, 2)\n"
    )
    assert apply_all(TF_RECIPES, source) == expected
    assert apply_all(TF_RECIPES, expected) == expected
    legacy = shipped("tf1-layers-legacy-keras")
    assert legacy.requires == ("tf-keras",) and legacy.review
    assert legacy.matches_error("AttributeError: `dense` is not available with Keras 3.")
    keras3 = "import tensorflow as tf\nmodel = tf.keras.Sequential([tf.keras.layers.Dense(2)])\n"
    assert apply_to_source(legacy, keras3) == (keras3, 0)
    # A notebook: the switch goes first in the first code cell.
    cells = ["%matplotlib inline\nimport numpy as np", "import tensorflow as tf",
             "cell = tf.nn.rnn_cell.LSTMCell(128)"]  # fmt: skip
    new, changes = apply_to_notebook(legacy, cells)
    assert changes == 1 and new[1:] == cells[1:]
    assert new[0] == 'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\n' + cells[0]


def test_target_names_must_name_their_top_package() -> None:
    with pytest.raises(RecipeError, match=r"t\.yaml: .*top package of gym\.envs"):
        recipe(target_names={"gym.envs": ["registration"]})
    with pytest.raises(RecipeError, match=r"t\.yaml: .*list of names"):
        recipe(target_names={"gym": "envs"})
    numpy = recipe(target_names={"numpy": ["linalg", "float64"], "numpy.linalg": ["norm"]})
    assert numpy.lacks("import numpy as np\nx = np.linalg.inv(np.float64(1))\n") == (
        "numpy.linalg.inv",
    )
    assert apply_to_source(numpy, "import numpy as np\nx = np.float\ny = np.linalg.inv\n")[1] == 0
    assert apply_to_source(recipe(), "import numpy as np\nx = np.float\n")[1] == 1


def test_torch_load_is_left_alone_when_it_feeds_load_state_dict() -> None:
    weights = shipped("torch-load-weights-only")
    plain = 'import torch\nm = torch.nn.Linear(1, 1)\nm.load_state_dict(torch.load("m.pt"))\n'
    assert apply_to_source(weights, plain) == (plain, 0)
    cells = ["import torch", 'm.load_state_dict(torch.load("m.pt"))', 'net = torch.load("n.pt")']
    new, changes = apply_to_notebook(weights, cells)
    assert changes == 1 and new == [*cells[:2], 'net = torch.load("n.pt", weights_only=False)']
    assert weights.matches_error("_pickle.UnpicklingError: Weights only load failed. This file")


def test_scipy_misc_toimage_becomes_pillow_with_its_imports() -> None:
    toimage = shipped("scipy-misc-toimage")
    source = "import numpy as np, scipy.misc\nim = scipy.misc.toimage(np.zeros((4, 4)))\n"
    new, changes = apply_to_source(toimage, source)
    assert changes == 1 and new == (
        "import numpy as np, scipy.misc\nimport PIL.Image\n"
        "im = PIL.Image.fromarray(np.uint8(255 * (np.zeros((4, 4)) - np.zeros((4, 4)).min())"
        " / max(np.ptp(np.zeros((4, 4))), 1e-12)))\n"
    )
    assert toimage.review and toimage.requires == ("pillow",)
    assert toimage.matches_error("AttributeError: module 'scipy.misc' has no attribute 'toimage'")
    assert toimage.matches_error("ImportError: cannot import name 'toimage' from 'scipy.misc'")
    assert toimage.applies_to({"scipy": "1.3.0"}, "3.12")
    assert not toimage.applies_to({"scipy": "1.2.3"}, "3.12")
