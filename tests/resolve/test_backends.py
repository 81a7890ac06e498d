from __future__ import annotations

import pytest

from envfix.errors import NetworkError
from envfix.model import InstalledDistribution, Runtime
from envfix.resolve.backends import (
    FallbackResolver,
    PipCompileResolver,
    ResolutionError,
    Resolved,
    UvResolver,
    _failure,
    explain,
    parse_output,
    resolver_for,
)
from envfix.runner import default_runner
from envfix.runtime import load_profile, manylinux_platforms

UV_OUTPUT = """\
numpy==2.1.3              # via tensorboardx, -r requirements.in
protobuf==5.29.6          # via tensorboardx
tensorboardx==1.2         # via -r requirements.in
torch @ https://download.pytorch.org/whl/cpu/torch-2.11.0.whl
    # via -r requirements.in
"""

UV_CONFLICT = """\
  × No solution found when resolving dependencies:
  ╰─▶ Because needsnew==1.0 depends on missingdep>=2 and only missingdep<=1.0 is available,
      we can conclude that needsnew==1.0 cannot be used.
      And because you require needsnew==1.0, we can conclude that your requirements are
      unsatisfiable.

      hint: Pre-releases are available for `missingdep` in the requested range
"""


def test_parse_output_reads_pins_and_where_they_came_from() -> None:
    assert parse_output(UV_OUTPUT) == (
        Resolved("numpy", "2.1.3", ("tensorboardx", "-r requirements.in")),
        Resolved("protobuf", "5.29.6", ("tensorboardx",)),
        Resolved("tensorboardx", "1.2", ("-r requirements.in",)),
    )


def test_explain_in_plain_words() -> None:
    text = explain(UV_CONFLICT)
    assert text.startswith("No solution found when resolving dependencies:")
    assert "needsnew==1.0 depends on missingdep>=2" in text
    assert "╰" not in text and "×" not in text and "hint" not in text


def test_failures_are_classified() -> None:
    conflict = _failure(UV_CONFLICT, ["needsnew", "missingdep", "numpy"])
    assert isinstance(conflict, ResolutionError)
    assert conflict.names == ("needsnew", "missingdep")
    down = _failure("error: Failed to fetch: `https://pypi.org/simple/x/`\n  dns error", ["x"])
    assert isinstance(down, NetworkError)


def test_uv_target_arguments() -> None:
    colab = UvResolver(load_profile("colab"), default_runner, uv="uv")
    assert colab.target_arguments() == [
        "--python-version",
        "3.13.15",
        "--python-platform",
        "x86_64-manylinux_2_35",
    ]
    interpreter = Runtime(
        "x", "3.11.7", manylinux_platforms((2, 36), "x86_64"), (), interpreter="/usr/bin/python3"
    )
    assert UvResolver(interpreter, default_runner, uv="uv").target_arguments() == [
        "--python",
        "/usr/bin/python3",
    ]


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    live = Runtime("live", "3.11.7", (), (InstalledDistribution("x", "1"),), interpreter="/py")
    chosen = resolver_for(live, default_runner, live_python="/py")
    assert isinstance(chosen, FallbackResolver) and isinstance(chosen.primary, PipCompileResolver)
    assert isinstance(resolver_for(load_profile("colab"), default_runner), UvResolver)
    assert isinstance(resolver_for(live, default_runner, "uv", live_python="/py"), UvResolver)
    with pytest.raises(Exception, match="pip-compile resolves only"):
        resolver_for(load_profile("colab"), default_runner, "pip-tools")


def test_explain_drops_uv_prefixes() -> None:
    text = explain(
        "error: No solution found when resolving dependencies\n"
        "  cause: Because tensorflowjs==1.1.2 depends on six==1.11.0 and you require six>=1.12\n"
    )
    assert text == (
        "No solution found when resolving dependencies Because tensorflowjs==1.1.2 depends on"
        " six==1.11.0 and you require six>=1.12"
    )


UV_BUILD_FAILURE = """error: Failed to build `go-vncdriver==0.4.19`
  cause: The build backend returned an error
  cause: Call to `setuptools.build_meta:__legacy__.get_requires_for_build_wheel` failed (exit status: 1)

    [stderr]
    Traceback (most recent call last):
      File "<string>", line 14, in <module>
      File "/root/.cache/uv/sdists-v11/pypi/go-vncdriver/0.4.19/src/build.py", line 8, in <module>
        import numpy
    ModuleNotFoundError: No module named 'numpy'

hint: `go-vncdriver` (v0.4.19) was included because `universe` (v0.21.3) depends on `go-vncdriver>=0.4.8`
"""


def test_a_dependency_that_does_not_build_is_named_with_what_pulled_it_in() -> None:
    error = _failure(UV_BUILD_FAILURE, ["numpy", "universe"])
    assert isinstance(error, ResolutionError)
    assert error.explanation == (
        "go-vncdriver==0.4.19 does not build here (needed by universe):"
        " ModuleNotFoundError: No module named 'numpy'"
    )
    assert error.names[0] == "universe"


def test_parse_output_reads_pins_with_extras_and_parents_named_with_theirs() -> None:
    text = (
        "gymnasium[classic-control]==1.0.0  # via -r requirements.in\n"
        "pygame==2.6.1  # via gymnasium[box2d,classic-control], stable-baselines3[extra]\n"
    )
    assert parse_output(text) == (
        Resolved("gymnasium", "1.0.0", ("-r requirements.in",)),
        Resolved("pygame", "2.6.1", ("gymnasium", "stable-baselines3")),
    )
