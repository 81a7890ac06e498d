"""Classifying the first error of a run, on tracebacks as runs really print them."""

from __future__ import annotations

import re

import pytest

from envfix.execute.classify import (
    classify,
    failing_line,
    failing_line_names,
    frame_packages,
    raising_package,
    strip_ansi,
)
from envfix.model import Location

SITE = "/content/.envfix/venv/lib/python3.12/site-packages"

# As nbclient reports it: IPython 8 frames, ANSI colours included.
MPL_INLINE = f"""\x1b[0;31m---------------------------------------------------------------------------\x1b[0m
\x1b[0;31mAttributeError\x1b[0m                            Traceback (most recent call last)
Cell \x1b[0;32mIn[2], line 1\x1b[0m
\x1b[0;32m----> 1\x1b[0m \x1b[38;5;28;01mimport\x1b[39;00m \x1b[38;5;21;01mmatplotlib\x1b[39;00m\x1b[38;5;21;01m.\x1b[39;00m\x1b[38;5;21;01mpyplot\x1b[39;00m \x1b[38;5;28;01mas\x1b[39;00m \x1b[38;5;21;01mplt\x1b[39;00m

File {SITE}/matplotlib_inline/backend_inline.py:218, in _enable_matplotlib_integration()
    216     backend = matplotlib.get_backend(auto_select=False)
    217 else:
--> 218     backend = matplotlib.rcParams._get("backend")

AttributeError: 'RcParams' object has no attribute '_get'
"""

PROTOBUF = f"""Traceback (most recent call last):
  File "/content/paper/train.py", line 3, in <module>
    from tensorboardX import SummaryWriter
  File "{SITE}/tensorboardX/__init__.py", line 5, in <module>
    from .torchvis import TorchVis
  File "{SITE}/tensorboardX/proto/resource_handle_pb2.py", line 36, in <module>
    _descriptor.FieldDescriptor(
  File "{SITE}/google/protobuf/descriptor.py", line 679, in __new__
    _message.Message._CheckCalledFromGeneratedFile()
TypeError: Descriptors cannot be created directly.
"""

NP_FLOAT = f"""---------------------------------------------------------------------------
AttributeError                            Traceback (most recent call last)
Cell In[3], line 1
----> 1 y = np.zeros(3).astype(np.float)

File {SITE}/numpy/__init__.py:775, in __getattr__(attr)
--> 775     raise AttributeError(__former_attrs__[attr], name=None)

AttributeError: module 'numpy' has no attribute 'float'.
"""


def test_ansi_codes_are_removed() -> None:
    assert "\x1b" not in strip_ansi(MPL_INLINE)


def test_an_old_pin_under_a_newer_neighbour_points_at_both() -> None:
    found = classify("AttributeError", "'RcParams' object has no attribute '_get'", MPL_INLINE)
    assert found.kind == "removed-api" and found.package == "matplotlib_inline"
    # matplotlib_inline raised it, reaching into matplotlib: both are suspects.
    assert found.suspects[:2] == ("matplotlib_inline", "matplotlib")


def test_generated_code_under_a_newer_dependency_is_a_version_conflict() -> None:
    found = classify("TypeError", "Descriptors cannot be created directly.", PROTOBUF)
    assert found.kind == "version-conflict"
    assert found.package == "google"
    assert "tensorboardX" in found.suspects
    assert frame_packages(PROTOBUF) == ["google", "tensorboardX"]


def test_a_recipe_whose_error_text_matches_is_named() -> None:
    recipes = [("numpy-aliases", re.compile(r"module 'numpy' has no attribute '(float|int)'"))]
    found = classify(
        "AttributeError",
        "module 'numpy' has no attribute 'float'.",
        NP_FLOAT,
        recipe_errors=recipes,
    )
    assert (found.kind, found.recipe, found.package) == ("removed-api", "numpy-aliases", "numpy")
    assert "np" in failing_line_names(NP_FLOAT)


@pytest.mark.parametrize(
    ("ename", "evalue", "traceback", "kind", "module"),
    [
        (
            "ModuleNotFoundError",
            "No module named 'tensorflow.contrib'",
            "",
            "missing-module",
            "tensorflow.contrib",
        ),
        (
            "ModuleNotFoundError",
            "No module named 'google.colab'",
            "",
            "needs-colab",
            "google.colab",
        ),
        ("ValueError", "mount failed", "drive.mount('/content/drive')", "needs-colab", None),
        ("ImportError", "numpy.core.multiarray failed to import", "", "binary-incompatible", None),
        (
            "ValueError",
            "numpy.dtype size changed, may indicate binary incompatibility",
            "",
            "binary-incompatible",
            None,
        ),
        ("AssertionError", "Torch not compiled with CUDA enabled", "", "needs-gpu", None),
        ("RuntimeError", "Found no NVIDIA driver on your system.", "", "needs-gpu", None),
        (
            "URLError",
            "<urlopen error [Errno -3] Temporary failure in name resolution>",
            "",
            "needs-network",
            None,
        ),
        ("ConnectionError", "HTTPSConnectionPool: Max retries exceeded", "", "needs-network", None),
        (
            "FileNotFoundError",
            "[Errno 2] No such file or directory: 'data/train.csv'",
            "",
            "needs-data",
            None,
        ),
        (
            "SyntaxError",
            "Missing parentheses in call to 'print'. Did you mean print(...)?",
            "",
            "python2-syntax",
            None,
        ),
        ("SyntaxError", "invalid syntax", "    except ValueError, e:\n", "python2-syntax", None),
        ("ZeroDivisionError", "division by zero", "----> 3 x = 1 / 0\n", "repo-bug", None),
        ("AttributeError", "module 'utils' has no attribute 'load'", "", "repo-bug", None),
        (
            "AttributeError",
            "module 'sklearn' has no attribute 'cross_validation'",
            "",
            "removed-api",
            None,
        ),
    ],
)
def test_classes(ename: str, evalue: str, traceback: str, kind: str, module: str | None) -> None:
    found = classify(ename, evalue, traceback, local_modules=("utils",))
    assert found.kind == kind
    assert found.module == module


def test_a_script_traceback_gives_the_repo_line() -> None:
    assert failing_line(PROTOBUF, "/content/paper") == Location("train.py", 3)
    assert raising_package(PROTOBUF) == "google"
    assert raising_package('File "/content/paper/x.py", line 1') is None


def test_a_missing_module_re_raised_by_a_library_is_still_a_missing_module() -> None:
    found = classify(
        "DependencyNotInstalled",
        "No module named 'mujoco_py'. (HINT: you need to install mujoco_py)",
        'File "/usr/local/lib/python3.12/dist-packages/gym/envs/mujoco/mujoco_env.py", line 12',
    )
    assert (found.kind, found.module) == ("missing-module", "mujoco_py")


def test_a_script_waiting_for_keyboard_input_needs_input() -> None:
    traceback = (
        'Traceback (most recent call last):\n  File "/repo/main.py", line 642, in <module>\n'
        '    choice = input("Enter a number to choose the game: ")\nEOFError: EOF when reading a line'
    )
    assert classify("EOFError", "EOF when reading a line", traceback).kind == "needs-input"


def test_torchvision_built_for_another_torch_is_binary_incompatibility() -> None:
    found = classify("RuntimeError", "operator torchvision::nms does not exist", "")
    assert found.kind == "binary-incompatible"
