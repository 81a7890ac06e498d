"""Shape and sanity of `envfix/data/binary_compat.json`, the binary-compatibility table.

Each rule says: when the environment has `when.name` in `when.specifier`, every listed
distribution that is present must satisfy its specifier. `error` is a regex the repair loop
uses to recognise the failure the rule prevents.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any
from urllib.parse import urlparse

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

# Verbatim texts of the import-time failures under NumPy 2 (numpy/core/_multiarray_umath.py,
# Cython's type-size check, NumPy 1.x's import_array(), torch's warning).
NUMPY2_MESSAGES = [
    "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.0 as it may crash.",
    "A module that was compiled using NumPy 1.x cannot be run in\n"
    "NumPy 2.1.3 as it may crash. To support both 1.x and 2.x\n"
    "versions of NumPy, modules must be compiled with NumPy 2.0.",
    "numpy.dtype size changed, may indicate binary incompatibility. "
    "Expected 96 from C header, got 88 from PyObject",
    "AttributeError: _ARRAY_API not found",
    "ImportError: numpy.core.multiarray failed to import",
    "UserWarning: Failed to initialize NumPy: _ARRAY_API not found "
    "(Triggered internally at ../torch/csrc/utils/tensor_numpy.cpp:84.)",
]

UNRELATED_MESSAGES = [
    "ModuleNotFoundError: No module named 'numpy'",
    "AttributeError: module 'numpy' has no attribute 'float'",
    "ImportError: cannot import name 'ANTIALIAS' from 'PIL.Image'",
]


def load() -> dict[str, Any]:
    path = resources.files("envfix") / "data" / "binary_compat.json"
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


DOC = load()
RULES: list[dict[str, Any]] = DOC["rules"]


def rule(rule_id: str) -> dict[str, Any]:
    return next(r for r in RULES if r["id"] == rule_id)


def test_top_level_shape() -> None:
    assert DOC["schema_version"] == 1
    assert isinstance(RULES, list) and RULES
    ids = [r["id"] for r in RULES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("r", RULES, ids=lambda r: r["id"])
def test_rule_shape(r: dict[str, Any]) -> None:
    assert {"id", "title", "when", "requires"} <= r.keys()
    assert isinstance(r["id"], str) and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r["id"])
    assert isinstance(r["title"], str) and r["title"].strip()
    when = r["when"]
    assert when["name"] == canonicalize_name(when["name"])
    SpecifierSet(when["specifier"])
    if "error" in r:
        re.compile(r["error"])
    assert isinstance(r["requires"], list) and r["requires"]


@pytest.mark.parametrize("r", RULES, ids=lambda r: r["id"])
def test_requirements(r: dict[str, Any]) -> None:
    names: list[str] = []
    for req in r["requires"]:
        assert {"name", "specifier", "why", "source"} <= req.keys(), req
        name = req["name"]
        assert name == canonicalize_name(name), name
        assert name != r["when"]["name"]
        spec = SpecifierSet(req["specifier"])
        assert len(spec) > 0, name
        assert isinstance(req["why"], str) and req["why"].strip(), name
        url = urlparse(req["source"])
        assert url.scheme == "https" and url.netloc, (name, req["source"])
        names.append(name)
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates


def test_numpy2_rule_covers_the_core_stack() -> None:
    r = rule("numpy2-abi")
    assert r["when"] == {"name": "numpy", "specifier": ">=2"}
    required = {req["name"]: SpecifierSet(req["specifier"]) for req in r["requires"]}
    for name in ("scipy", "pandas", "scikit-learn", "matplotlib", "h5py", "opencv-python"):
        assert name in required
    # scikit-learn 1.2 under numpy 2 is the motivating example; 1.4.2 is the first NumPy 2 build.
    assert not required["scikit-learn"].contains("1.2.2")
    assert not required["scikit-learn"].contains("1.4.1.post1")
    assert required["scikit-learn"].contains("1.4.2")
    assert not required["pandas"].contains("2.2.1")
    assert required["pandas"].contains("2.2.2")
    # No NumPy C API in these wheels, so they must not be constrained by this rule.
    for name in ("pillow", "lightgbm", "xgboost", "torchvision"):
        assert name not in required


@pytest.mark.parametrize("message", NUMPY2_MESSAGES)
def test_numpy2_error_regex_matches(message: str) -> None:
    assert re.search(rule("numpy2-abi")["error"], message)


@pytest.mark.parametrize("message", UNRELATED_MESSAGES)
def test_numpy2_error_regex_ignores_unrelated(message: str) -> None:
    assert not re.search(rule("numpy2-abi")["error"], message)


def test_protobuf4_rule_covers_old_generated_code() -> None:
    r = rule("protobuf4-generated-code")
    assert r["when"] == {"name": "protobuf", "specifier": ">=4"}
    required = {req["name"]: SpecifierSet(req["specifier"]) for req in r["requires"]}
    # tensorboardX 2.6.1 is the first with regenerated _pb2.py files; 1.6 and 2.1 are what
    # old repos pin.
    for old in ("1.6", "2.1", "2.6"):
        assert not required["tensorboardx"].contains(old)
    assert required["tensorboardx"].contains("2.6.1")
    assert not required["tensorboard"].contains("2.9.0")
    assert required["tensorboard"].contains("2.12.0")
    message = (
        "TypeError: Descriptors cannot be created directly.\n"
        "If this call came from a _pb2.py file, your generated code is out of date and must"
        " be regenerated with protoc >= 3.19.0."
    )
    assert re.search(r["error"], message)
    assert re.search(r["error"], "TypeError: Descriptors cannot not be created directly.")
    for unrelated in UNRELATED_MESSAGES:
        assert not re.search(r["error"], unrelated)


def test_matplotlib39_rule_covers_seaborn_0_11() -> None:
    r = rule("matplotlib39-colormap-registry")
    assert r["when"] == {"name": "matplotlib", "specifier": ">=3.9"}
    required = {req["name"]: SpecifierSet(req["specifier"]) for req in r["requires"]}
    assert not required["seaborn"].contains("0.11.2")
    assert required["seaborn"].contains("0.12.0") and required["seaborn"].contains("0.13.2")
    message = "AttributeError: module 'matplotlib.cm' has no attribute 'register_cmap'"
    assert re.search(r["error"], message)
    assert not re.search(r["error"], UNRELATED_MESSAGES[1])
