"""Each fix kind on real-looking code: aliases, from-imports, local look-alikes, comments."""

from __future__ import annotations

import textwrap
import warnings
from typing import Any

import libcst as cst
import pytest

from envfix.recipes.fixes import FIX_KINDS, RecipeError, fix_for


def fix(kind: str, settings: dict[str, Any], source: str) -> tuple[str, int]:
    outcome = fix_for(kind, settings).apply(cst.parse_module(textwrap.dedent(source)))
    return outcome.module.code, outcome.changes


NUMPY_NAMES = {
    "names": {
        "numpy.float": "float",
        "numpy.NaN": "numpy.nan",
        "numpy.NINF": "-numpy.inf",
        "scipy.interp": "numpy.interp",
    }
}


def test_rename_attribute_follows_imports_not_text() -> None:
    code, changes = fix(
        "rename-attribute",
        NUMPY_NAMES,
        """\
        import numpy as np
        from numpy import NaN, zeros
        x = arr.astype(np.float)  # cast
        y = NaN + np.NINF
        def scale(np):
            return np.float
        """,
    )
    assert code == textwrap.dedent(
        """\
        import numpy as np
        from numpy import zeros
        from numpy import nan as NaN
        x = arr.astype(float)  # cast
        y = NaN + -np.inf
        def scale(np):
            return np.float
        """
    )
    assert changes == 3


def test_rename_attribute_leaves_a_rebound_name_alone() -> None:
    code, changes = fix(
        "rename-attribute", NUMPY_NAMES, "import numpy as np\nnp = load()\nx = np.float\n"
    )
    assert changes == 0 and "np.float" in code


def test_rename_attribute_to_another_module_adds_its_import() -> None:
    code, _ = fix("rename-attribute", NUMPY_NAMES, "import scipy\ny = scipy.interp(a, b, c)\n")
    assert code == "import scipy\nimport numpy\ny = numpy.interp(a, b, c)\n"
    code, _ = fix(
        "rename-attribute",
        NUMPY_NAMES,
        "import scipy\nimport numpy as np\ny = scipy.interp(a, b, c)\n",
    )
    assert code.endswith("y = np.interp(a, b, c)\n")


def test_move_module_in_every_import_form() -> None:
    code, changes = fix(
        "move-module",
        {
            "modules": {
                "sklearn.cross_validation": "sklearn.model_selection",
                "sklearn.externals.joblib": "joblib",
            }
        },
        """\
        import sklearn.cross_validation as cv
        from sklearn.cross_validation import KFold, train_test_split
        from sklearn.externals import joblib, six
        import sklearn.externals.joblib
        """,
    )
    assert code == textwrap.dedent(
        """\
        import sklearn.model_selection as cv
        from sklearn.model_selection import KFold, train_test_split
        from sklearn.externals import six
        import joblib
        import joblib
        """
    )
    assert changes == 4


def test_rename_keyword_values_and_drops() -> None:
    code, _ = fix(
        "rename-keyword",
        {
            "calls": ["pandas.read_csv"],
            "keywords": {
                "error_bad_lines": {"to": "on_bad_lines", "values": {"False": "'skip'"}},
                "warn_bad_lines": {"drop": True},
            },
        },
        "import pandas as pd\ndf = pd.read_csv(p, sep=',', error_bad_lines=False, warn_bad_lines=False)\n",
    )
    assert code.endswith("df = pd.read_csv(p, sep=',', on_bad_lines='skip')\n")


def test_rename_keyword_otherwise_template_for_unknown_values() -> None:
    settings = {
        "calls": ["skimage.filters.gaussian"],
        "keywords": {
            "multichannel": {
                "to": "channel_axis",
                "values": {"True": "-1"},
                "otherwise": "-1 if {value} else None",
            }
        },
    }
    code, changes = fix(
        "rename-keyword",
        settings,
        """\
        from skimage.filters import gaussian
        a = gaussian(x, multichannel=True)
        b = gaussian(x, multichannel=cfg.rgb)
        c = gaussian(x, multichannel=rgb or gray)
        """,
    )
    assert changes == 3
    assert "a = gaussian(x, channel_axis=-1)" in code
    assert "b = gaussian(x, channel_axis=-1 if cfg.rgb else None)" in code
    assert "c = gaussian(x, channel_axis=-1 if (rgb or gray) else None)" in code


def test_recipe_imports_a_submodule_only_where_reached_through_its_parent() -> None:
    settings = {
        "names": {"collections.Mapping": "collections.abc.Mapping"},
        "imports": ["collections.abc"],
    }

    def run(source: str) -> str:
        module = cst.parse_module(textwrap.dedent(source))
        return fix_for("rename-attribute", settings).run(module).module.code

    through_parent = run("import collections\nok = isinstance(d, collections.Mapping)\n")
    assert through_parent == (
        "import collections\nimport collections.abc\nok = isinstance(d, collections.abc.Mapping)\n"
    )
    from_import = run("from collections import Mapping\nok = isinstance(d, Mapping)\n")
    assert "import collections.abc" not in from_import
    assert "from collections.abc import Mapping" in from_import
    already = run("import collections\nimport collections.abc\nx = collections.Mapping\n")
    assert already.count("import collections.abc") == 1
    untouched = run("import collections\nx = collections.OrderedDict()\n")
    assert "collections.abc" not in untouched


def test_rename_keyword_on_methods() -> None:
    code, changes = fix(
        "rename-keyword",
        {"methods": ["fit"], "keywords": {"nb_epoch": "epochs"}},
        "model.fit(x, y, nb_epoch=10)\nother.run(nb_epoch=3)\n",
    )
    assert code == "model.fit(x, y, epochs=10)\nother.run(nb_epoch=3)\n" and changes == 1


def test_add_keyword_only_when_missing() -> None:
    settings = {
        "calls": ["yaml.load"],
        "keyword": "Loader",
        "value": "yaml.SafeLoader",
        "positional": 2,
    }
    code, changes = fix(
        "add-keyword",
        settings,
        "import yaml as y\na = y.load(f)\nb = y.load(f, Loader=y.FullLoader)\nc = y.load(f, y.BaseLoader)\n",
    )
    assert "a = y.load(f, Loader=y.SafeLoader)" in code and changes == 1


def test_add_keyword_leaves_a_call_that_is_the_argument_of_a_named_method() -> None:
    settings = {
        "calls": ["torch.load"],
        "keyword": "weights_only",
        "value": "False",
        "not_argument_of": ["load_state_dict"],
    }
    code, changes = fix(
        "add-keyword",
        settings,
        """\
        import torch
        model.load_state_dict(torch.load(path))
        opt.load_state_dict(state_dict=torch.load(path, map_location="cpu"))
        model.load_state_dict(torch.load(path)["model"])
        model.load(torch.load(path))
        ckpt = torch.load(path)
        """,
    )
    assert changes == 3
    assert code == textwrap.dedent(
        """\
        import torch
        model.load_state_dict(torch.load(path))
        opt.load_state_dict(state_dict=torch.load(path, map_location="cpu"))
        model.load_state_dict(torch.load(path, weights_only=False)["model"])
        model.load(torch.load(path, weights_only=False))
        ckpt = torch.load(path, weights_only=False)
        """
    )
    with pytest.raises(RecipeError, match="not_argument_of"):
        fix("add-keyword", {**settings, "not_argument_of": "load_state_dict"}, "import torch\n")


def test_replace_call_parenthesizes_compound_arguments() -> None:
    code, _ = fix(
        "replace-call",
        {"calls": {"numpy.asscalar": "{0}.item()"}},
        "import numpy as np\nv = np.asscalar(a + b)\nw = np.asscalar(x, y)\n",
    )
    assert "v = (a + b).item()" in code and "np.asscalar(x, y)" in code


def test_rename_method_needs_the_library_imported() -> None:
    settings = {"methods": {"iteritems": "items"}, "library_module": "pandas"}
    code, changes = fix(
        "rename-method", settings, "import pandas as pd\nfor k, v in df.iteritems(): pass\n"
    )
    assert "df.items()" in code and changes == 1
    _, changes = fix("rename-method", settings, "d = {}\nfor k, v in d.iteritems(): pass\n")
    assert changes == 0


def test_replace_string_argument_values_and_pattern() -> None:
    code, _ = fix(
        "replace-string-argument",
        {
            "calls": ["gym.make"],
            "argument": 0,
            "values": {"Pendulum-v0": "Pendulum-v1"},
            "pattern": "LunarLander-v2",
            "replacement": "LunarLander-v3",
        },
        "import gym\na = gym.make('Pendulum-v0')\nb = gym.make(\"LunarLander-v2\", render_mode=m)\nc = gym.make(name)\n",
    )
    assert "gym.make('Pendulum-v1')" in code and 'gym.make("LunarLander-v3", render_mode=m)' in code


def test_swap_module_only_when_the_old_api_is_used() -> None:
    settings = {
        "module": "tensorflow",
        "to": "tensorflow.compat.v1",
        "when_uses": ["Session", "placeholder"],
        "after_imports": "{alias}.disable_v2_behavior()",
    }
    code, _ = fix(
        "swap-module", settings, "import tensorflow as tf\nx = tf.placeholder(tf.float32)\n"
    )
    assert code == (
        "import tensorflow.compat.v1 as tf\ntf.disable_v2_behavior()\nx = tf.placeholder(tf.float32)\n"
    )
    again, changes = fix("swap-module", settings, code)
    assert changes == 0 and again == code
    _, changes = fix("swap-module", settings, "import tensorflow as tf\ny = tf.constant(1)\n")
    assert changes == 0


TF1 = {
    "module": "tensorflow",
    "to": "tensorflow.compat.v1",
    "when_uses": ["Session", "placeholder"],
    "after_imports": "{alias}.disable_v2_behavior()",
}


def test_swap_module_adds_its_line_in_the_scope_of_a_lazy_import() -> None:
    code, changes = fix(
        "swap-module",
        TF1,
        """\
        import numpy as np


        def build(n):
            import tensorflow as tf  # lazy
            x = tf.placeholder(tf.float32, [None, n])
            return x
        """,
    )
    assert code == textwrap.dedent(
        """\
        import numpy as np


        def build(n):
            import tensorflow.compat.v1 as tf  # lazy
            tf.disable_v2_behavior()
            x = tf.placeholder(tf.float32, [None, n])
            return x
        """
    )
    assert changes == 1
    namespace: dict[str, object] = {}
    exec(compile(code, "lazy", "exec"), namespace)  # nothing runs `tf` at module level


def test_swap_module_adds_its_line_right_after_each_swapped_import() -> None:
    code, changes = fix(
        "swap-module",
        TF1,
        """\
        import tensorflow as tf
        import numpy as np

        try:
            import tensorflow as tf2
        except ImportError:
            tf2 = None
        if tf2: import tensorflow as tf3
        sess = tf.Session()
        """,
    )
    assert code == textwrap.dedent(
        """\
        import tensorflow.compat.v1 as tf
        tf.disable_v2_behavior()
        import numpy as np

        try:
            import tensorflow.compat.v1 as tf2
            tf2.disable_v2_behavior()
        except ImportError:
            tf2 = None
        if tf2: import tensorflow.compat.v1 as tf3; tf3.disable_v2_behavior()
        sess = tf.Session()
        """
    )
    assert changes == 3
    again, changes = fix("swap-module", TF1, code)
    assert changes == 0 and again == code


def test_rewrite_expression_patterns_and_statements() -> None:
    settings = {
        "library_module": "pandas",
        "rewrites": [
            {
                "pattern": "{x}.fillna({v}, inplace=True)",
                "replacement": "{x} = {x}.fillna({v})",
                "statement": True,
            },
            {"pattern": "numpy.array({a}, copy=False)", "replacement": "numpy.asarray({a})"},
        ],
    }
    code, changes = fix(
        "rewrite-expression",
        settings,
        "import pandas as pd\nimport numpy as np\ndf['a'].fillna(0, inplace=True)  # keep\n"
        "b = np.array(x + y, copy=False)\nc = np.array(x, copy=True)\n",
    )
    assert "df['a'] = df['a'].fillna(0)  # keep" in code
    assert "b = np.asarray((x + y))" in code or "b = np.asarray(x + y)" in code
    assert "np.array(x, copy=True)" in code and changes == 2
    _, changes = fix("rewrite-expression", settings, "df.fillna(0, inplace=True)\n")
    assert changes == 0  # pandas is not imported there


def test_fix_invalid_escapes_keeps_every_value() -> None:
    source = "a = '\\d+\\.\\d+'\nb = '\\n\\d'\nc = r'\\d'\nd = b'\\w'\ne = '\\\\d'\n"
    code, changes = fix("fix-invalid-escapes", {}, source)
    assert code == "a = r'\\d+\\.\\d+'\nb = '\\n\\\\d'\nc = r'\\d'\nd = rb'\\w'\ne = '\\\\d'\n"
    assert changes == 3
    before: dict[str, object] = {}
    after: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(source, "b", "exec", dont_inherit=True), before)
    exec(compile(code, "a", "exec"), after)
    assert {k: before[k] for k in "abcde"} == {k: after[k] for k in "abcde"}


def test_unknown_kind_and_bad_settings() -> None:
    with pytest.raises(RecipeError, match="unknown fix kind"):
        fix_for("teleport", {})
    with pytest.raises(RecipeError):
        fix_for("rename-attribute", {"names": "not a mapping"}).triggers()
    assert len({k.kind for k in FIX_KINDS}) == len(FIX_KINDS)


def test_the_cheap_look_rules_out_names_that_only_look_alike() -> None:
    from envfix.recipes.fixes import source_index

    renames = fix_for("rename-attribute", {"names": {"tensorflow.log": "tensorflow.math.log"}})
    numpy_log = source_index("import numpy as np\nimport tensorflow as tf\ny = np.log(x)\n")
    assert not renames.could_change(numpy_log)  # `log` is there, but not tensorflow's
    for source in (
        "import tensorflow as tf\ny = tf.log(x)\n",
        "from tensorflow import log\n",
        "def f():\n    import tensorflow\n    return tensorflow.log(2)\n",
        "print 'Python 2: nothing is ruled out'\nimport tensorflow as tf\ntf.log(x)\n",
    ):
        assert renames.could_change(source_index(source)), source
    assert fix_for("move-module", {"modules": {"imp": "importlib"}}).could_change(
        source_index("import imp\nimp.reload(m)\n")
    )


def test_the_cheap_look_at_rewrite_patterns() -> None:
    from envfix.recipes.fixes import source_index

    data = fix_for(
        "rewrite-expression",
        {"library_module": "torch", "rewrites": [{"pattern": "{x}.mean().data[0]",
                                                  "replacement": "{x}.mean().item()"}]},
    )  # fmt: skip
    assert data.could_change(source_index("import torch\nv = loss.mean( ) .data [ 0 ]\n"))
    assert data.could_change(source_index("import torch\nv = (l.mean()  # m\n .data[0])\n"))
    assert not data.could_change(source_index("import torch\nv = loss.mean().data[1]\n"))
    assert not data.could_change(source_index("import numpy\nv = loss.mean().data[0]\n"))
    reached = fix_for(
        "rewrite-expression",
        {"rewrites": [{"pattern": "numpy.array({a}, copy=False)", "replacement": "numpy.asarray({a})"}]},
    )  # fmt: skip
    assert reached.could_change(source_index("import numpy as np\nb = np.array(a, copy=False)\n"))
    assert not reached.could_change(source_index("import numpy as np\nb = array(a, copy=False)\n"))


LEGACY_KERAS = {
    "lines": ["import os", 'os.environ["TF_USE_LEGACY_KERAS"] = "1"'],
    "when_uses": ["tensorflow.compat.v1.layers", "tensorflow.keras.layers.DenseFeatures"],
}
SWITCH = 'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\n'


def test_prologue_goes_first_only_where_the_code_uses_a_named_api() -> None:
    source = '"""Doc."""\nfrom __future__ import division\nimport tensorflow.compat.v1 as tf\n'
    code, changes = fix("prologue", LEGACY_KERAS, source + "y = tf.layers.dense(x, 2)\n")
    assert changes == 1
    assert code == (
        '"""Doc."""\nfrom __future__ import division\n' + SWITCH
        + "import tensorflow.compat.v1 as tf\ny = tf.layers.dense(x, 2)\n"
    )  # fmt: skip
    assert fix("prologue", LEGACY_KERAS, code) == (code, 0)
    # Imported under its own name and used bare; an import alone is not a use.
    bare = "from tensorflow.keras.layers import DenseFeatures\nf = DenseFeatures(cols)\n"
    assert fix("prologue", LEGACY_KERAS, bare) == (SWITCH + bare, 1)
    unused = "from tensorflow.keras.layers import DenseFeatures\n"
    assert fix("prologue", LEGACY_KERAS, unused) == (unused, 0)
    # Keras 3 code, a local `tf` that is not TensorFlow, and the setting already there.
    for same in (
        "import tensorflow as tf\nm = tf.keras.layers.Dense(2)\n",
        "def f(tf):\n    return tf.compat.v1.layers.dense(x, 2)\n",
        "import tensorflow.compat.v1 as tf\nimport os  # for the switch\n"
        'os.environ["TF_USE_LEGACY_KERAS"] = "1"\ny = tf.layers.dense(x, 2)\n',
    ):
        assert fix("prologue", LEGACY_KERAS, same) == (same, 0)
    by_import = {"lines": ["import os"], "when_imports": ["tensorflow"]}
    assert fix("prologue", by_import, "import tensorflow as tf\n")[1] == 1
    with pytest.raises(RecipeError, match="when_imports' or 'when_uses"):
        fix("prologue", {"lines": ["import os"]}, "import tensorflow\n")
