from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envfix.model import Location
from envfix.scanner.imports import (
    BINARY_SOURCE,
    INVALID_NOTEBOOK,
    NON_UTF8_SOURCE,
    PYTHON2_SOURCE,
    SYNTAX_ERROR,
    TENSORFLOW_VERSION_MAGIC,
    CodeScan,
    notebook_code_cells,
    scan_notebook_file,
    scan_python_file,
)
from tests.helpers import notebook, write_files


def scan_py(tmp_path: Path, text: str | bytes, name: str = "mod.py") -> CodeScan:
    write_files(tmp_path, {name: text})
    return scan_python_file(tmp_path, name)


def scan_nb(tmp_path: Path, text: str, name: str = "demo.ipynb") -> CodeScan:
    write_files(tmp_path, {name: text})
    return scan_notebook_file(tmp_path, name)


def modules(code: CodeScan) -> list[tuple[str, int | None, bool]]:
    return sorted((u.module, u.location.line, u.optional) for u in code.imports)


def test_plain_imports_with_lines(tmp_path: Path) -> None:
    code = scan_py(
        tmp_path,
        "import os, numpy as np\n"
        "from sklearn.externals import joblib\n"
        "from . import sibling\n"
        "from .models import net\n"
        "from __future__ import print_function\n"
        "def f():\n"
        "    import torch.nn.functional as F\n",
    )
    assert modules(code) == [
        ("numpy", 1, False),
        ("os", 1, False),
        ("sklearn.externals", 2, False),
        ("torch.nn.functional", 7, False),
    ]
    assert code.findings == () and not code.python2


def test_optional_imports(tmp_path: Path) -> None:
    code = scan_py(
        tmp_path,
        "try:\n"
        "    import cPickle as pickle\n"
        "except ImportError:\n"
        "    import pickle\n"
        "try:\n"
        "    import apex\n"
        "except (ModuleNotFoundError, OSError):\n"
        "    apex = None\n"
        "try:\n"
        "    import wandb\n"
        "except ValueError:\n"
        "    pass\n"
        "if USE_TF:\n"
        "    import tensorflow\n"
        "if __name__ == '__main__':\n"
        "    import matplotlib\n",
    )
    assert modules(code) == [
        ("apex", 6, True),
        ("cPickle", 2, True),
        ("matplotlib", 16, False),
        ("pickle", 4, False),
        ("tensorflow", 14, True),
        ("wandb", 10, False),
    ]


def test_dynamic_imports_and_sys_path(tmp_path: Path) -> None:
    code = scan_py(
        tmp_path,
        "import importlib, sys, os\n"
        "from pathlib import Path\n"
        "m = importlib.import_module('sklearn.svm')\n"
        "n = __import__('scipy')\n"
        "importlib.import_module('.local', __package__)\n"
        "importlib.import_module(name)\n"
        "sys.path.append('src')\n"
        "sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'lib'))\n"
        "sys.path.append(str(Path(__file__).parent / 'third_party'))\n"
        "sys.path.append('/abs/path')\n",
        name="scripts/run.py",
    )
    dynamic = sorted((u.module, u.via) for u in code.imports if u.via == "dynamic")
    assert dynamic == [("scipy", "dynamic"), ("sklearn.svm", "dynamic")]
    assert code.search_dirs == ("src", "./../lib", "./third_party")


def test_python2_file_is_reported_and_still_read(tmp_path: Path) -> None:
    code = scan_py(
        tmp_path,
        "import urllib2\nfrom StringIO import StringIO\nimport numpy as np, scipy\n"
        "print 'hello %s' % np.__version__\n",
    )
    assert code.python2
    assert [f.code for f in code.findings] == [PYTHON2_SOURCE]
    assert [u.module for u in code.imports] == ["urllib2", "StringIO", "numpy", "scipy"]


@pytest.mark.parametrize(
    "statement",
    [
        "print 'x'",
        "print x",
        "print >>sys.stderr, 'x'",
        "exec 'x = 1'",
        "try:\n    pass\nexcept ValueError, e:\n    pass",
        "raise ValueError, 'bad'",
        "x = `y`",
    ],
)
def test_python2_syntax_forms(tmp_path: Path, statement: str) -> None:
    assert scan_py(tmp_path, f"import numpy\n{statement}\n").python2


def test_python3_syntax_error_is_not_python2(tmp_path: Path) -> None:
    code = scan_py(
        tmp_path, "import numpy\nfrom scipy import (\n    linalg,\n\ndef f():\n    pass\n"
    )
    assert not code.python2
    assert [f.code for f in code.findings] == [SYNTAX_ERROR]
    assert [u.module for u in code.imports] == ["numpy", "scipy"]


def test_fast_path_reads_imports_in_every_kind_of_block(tmp_path: Path) -> None:
    # Big .py files are read by parsing only the statements around import lines.
    code = scan_py(
        tmp_path,
        '"""Module docstring.\n\nimport not_code\n"""\n'
        "import os\n"
        "from typing import (\n    Any,\n    List,\n)\n"
        "X = 1\n"
        "try:\n    import ujson as json\nexcept ImportError:\n    import json\n"
        "class Model(object):\n"
        "    def load(self):\n"
        "        import torch\n"
        "        return torch\n"
        "\n"
        "    @property\n"
        "    def name(self):\n"
        '        """Docstring with\nimport at column zero.\n"""\n'
        "        from sklearn import svm\n"
        "        return svm\n"
        "if TYPE_CHECKING:\n    import pandas\n"
        "def main():\n    print('x')\n",
    )
    assert modules(code) == [
        ("json", 14, False),
        ("os", 5, False),
        ("pandas", 28, True),
        ("sklearn", 25, False),
        ("torch", 17, False),
        ("typing", 6, False),
        ("ujson", 12, True),
    ]
    assert code.findings == ()


def test_python2_print_deep_in_a_big_file_is_still_found(tmp_path: Path) -> None:
    body = "\n".join(f"def f{n}():\n    return {n}\n" for n in range(200))
    code = scan_py(tmp_path, f"import numpy\n{body}\ndef g():\n    print 'old'\n")
    assert code.python2 and [u.module for u in code.imports] == ["numpy"]


def test_binary_and_non_utf8_sources(tmp_path: Path) -> None:
    binary = scan_py(tmp_path, b"\x7fELF\x00\x00\x01import numpy", name="lib.py")
    assert [f.code for f in binary.findings] == [BINARY_SOURCE] and binary.imports == ()
    latin = scan_py(tmp_path, "# café\nimport numpy\n".encode("latin-1"), name="latin.py")
    assert [f.code for f in latin.findings] == [NON_UTF8_SOURCE]
    assert [u.module for u in latin.imports] == ["numpy"]
    declared = scan_py(
        tmp_path, "# -*- coding: latin-1 -*-\n# café\nimport scipy\n".encode("latin-1"), "c.py"
    )
    assert declared.findings == () and [u.module for u in declared.imports] == ["scipy"]


NOTEBOOK_CELLS = (
    ("markdown", "# Demo\n```python\nimport not_code\n```"),
    "!pip install -q tensorboardX==1.2 \\\n    torch==1.4.0\n%pip install gym\n",
    "%matplotlib inline\nimport numpy as np\nfiles = !ls data\nx = %time np.zeros(3)\n"
    "np.array?\nimport foo  # needed?\n",
    "%%bash\npip install scikit-image==0.15 && echo done\napt-get install -y ffmpeg\n",
    "%%time\nimport pandas as pd\n",
    "%%writefile helper.py\nimport seaborn\n",
    "%%html\n<script>import x from 'y'</script>\n",
    "if True:\n    !pip install gym\n    %cd src\n%load_ext tensorboard\n%load_ext autoreload\n"
    "%tensorflow_version 1.x\n",
    "try:\n    import cv2\nexcept ImportError:\n    cv2 = None\n",
    "print 'python 2 cell'\nimport urllib2\n",
)


def test_notebook_cells_magics_and_shell(tmp_path: Path) -> None:
    code = scan_nb(tmp_path, notebook(*NOTEBOOK_CELLS))
    found = sorted(
        (u.module, u.location.cell, u.location.line, u.optional, u.via) for u in code.imports
    )
    assert found == [
        ("cv2", 9, 2, True, "import"),
        ("foo", 3, 6, False, "import"),
        ("matplotlib", 3, 1, False, "magic"),
        ("numpy", 3, 2, False, "import"),
        ("pandas", 5, 2, False, "import"),
        ("seaborn", 6, 2, False, "import"),
        ("tensorboard", 8, 4, False, "magic"),
        ("tensorflow", 8, 6, False, "magic"),
        ("urllib2", 10, 2, False, "import"),
    ]
    commands = [(c.text, c.location) for c in code.pip_commands]
    assert commands == [
        ("pip install -q tensorboardX==1.2 torch==1.4.0", Location("demo.ipynb", 1, 2)),
        ("pip install gym", Location("demo.ipynb", 3, 2)),
        ("pip install scikit-image==0.15", Location("demo.ipynb", 2, 4)),
        ("pip install gym", Location("demo.ipynb", 2, 8)),
    ]
    codes = sorted(f.code for f in code.findings)
    assert codes == [PYTHON2_SOURCE, "system-package", TENSORFLOW_VERSION_MAGIC]
    assert code.python2
    assert code.search_dirs == ("src",)
    assert code.written_modules == ("helper",)


def test_notebook_version_3(tmp_path: Path) -> None:
    doc = {
        "nbformat": 3,
        "worksheets": [
            {
                "cells": [
                    {"cell_type": "markdown", "source": "x"},
                    {"cell_type": "code", "input": ["import theano\n", "import lasagne\n"]},
                ]
            }
        ],
    }
    code = scan_nb(tmp_path, json.dumps(doc))
    assert [(u.module, u.location.cell) for u in code.imports] == [("theano", 2), ("lasagne", 2)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"cells": 3}',
        '{"cells": [1, null, {"cell_type": "code"}]}',
        "[" * 100_000,
    ],
)
def test_unreadable_notebooks_are_findings(tmp_path: Path, text: str) -> None:
    code = scan_nb(tmp_path, text)
    assert code.imports == ()
    assert all(f.code == INVALID_NOTEBOOK for f in code.findings)


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=40),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["cells", "cell_type", "source", "input", "worksheets", "code", "metadata", "x"]
                ),
                children,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_notebook_reader_never_crashes(
    tmp_path_factory: pytest.TempPathFactory, doc: object
) -> None:
    root = tmp_path_factory.mktemp("nb")
    write_files(root, {"n.ipynb": json.dumps(doc)})
    scan_notebook_file(root, "n.ipynb")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_cell_text_never_crashes(tmp_path_factory: pytest.TempPathFactory, source: str) -> None:
    root = tmp_path_factory.mktemp("cell")
    write_files(root, {"n.ipynb": notebook(source), "m.py": source})
    scan_notebook_file(root, "n.ipynb")
    scan_python_file(root, "m.py")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "import os",
                "import numpy as np, scipy",
                "from a.b import (c,\n    d)",
                "try:\n    import x1\nexcept ImportError:\n    x1 = None",
                "def f():\n    import torch\n    return torch",
                "class C:\n    '''import fake'''\n",
                '"""\nimport in_docstring\n"""',
                "if flag:\n    from y2 import z",
                "x = 1",
                "@dec\ndef g():\n    from h3 import i",
                "s = '''\nimport inside\n'''",
                "while True:\n    import w4\n    break",
                "# import commented",
                "with ctx:\n    import k5",
            ]
        ),
        max_size=12,
    )
)
def test_fast_path_agrees_with_a_full_parse(blocks: list[str]) -> None:
    from envfix.scanner.imports import _Collector, _scan_code

    text = "\n".join(blocks) + "\n"
    results = []
    for whole in (True, False):
        collector = _Collector("m.py")
        _scan_code(text, collector, whole=whole)
        results.append(sorted((u.module, u.location.line, u.optional) for u in collector.imports))
    assert results[0] == results[1]


def test_nbformat3_worksheets_without_a_list_of_cells() -> None:
    # Found by the fuzz test above: `worksheets[].cells` that is not a list.
    assert list(notebook_code_cells({"cells": None, "worksheets": [{"cells": 1}]})) == []
    doc = {"worksheets": [{"cells": 1}, {"cells": [{"cell_type": "code", "input": "import a"}]}]}
    assert list(notebook_code_cells(doc)) == [(1, "import a")]
