"""Tracebacks and failing code cut to forum size.

The tracebacks in data/ were captured from real runs (see data/README.md): nbclient's
CellExecutionError.traceback from IPython 9.18 and 7.34 kernels, and Python 3.11 scripts'
stderr, the repo being /content/sfn.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

from envfix.execute.classify import strip_ansi
from envfix.reporting.trim import MAX_LINE_CHARS, failing_line, trim_source, trim_traceback

DATA = Path(__file__).parent / "data"
ROOT = "/content/sfn"


def data(name: str) -> str:
    return (DATA / f"{name}.txt").read_text(encoding="utf-8")


def trim(name: str, **options: int) -> str:
    return trim_traceback(data(name), repo_root=ROOT, **options)


def frames(text: str) -> list[str]:
    """The frame lines of a trimmed traceback."""
    pattern = re.compile(r'^(?:Cell In\[|File |  File "|/\S+\.py in |~/\S+\.py in )')
    return [line for line in text.splitlines() if pattern.match(line)]


def without_preamble(raw: str) -> str:
    """The traceback IPython printed: nbclient's text after its cell-source preamble."""
    return strip_ansi(raw).split("------------------\n\n\n", 1)[1].strip("\n")


# --- whole tracebacks -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ipython9_short", "ipython7_short", "ipython9_syntax"])
def test_a_short_traceback_loses_only_colours_and_the_preamble(name: str) -> None:
    raw = data(name)
    assert "\x1b[" in raw or name.endswith("syntax")
    assert trim_traceback(raw, repo_root=ROOT) == without_preamble(raw)


def test_the_short_numpy_traceback_reads_as_ipython_printed_it() -> None:
    trimmed = trim("ipython9_short")
    assert trimmed.startswith("-" * 75 + "\nAttributeError ")
    assert (
        "Cell In[1], line 3\n      1 import numpy as np\n      2 \n----> 3 x = np.float(3)"
        in trimmed
    )
    assert "--> 775     raise AttributeError(__former_attrs__[attr], name=None)" in trimmed
    assert trimmed.endswith("https://numpy.org/devdocs/release/1.20.0-notes.html#deprecations")
    assert "An error occurred while executing" not in trimmed


@pytest.mark.parametrize("name", ["script_syntax", "ipython9_syntax"])
def test_a_syntax_error_stays_whole(name: str) -> None:
    trimmed = trim(name)
    assert trimmed.endswith(
        "SyntaxError: Missing parentheses in call to 'print'. Did you mean print(...)?"
    )
    assert len(trimmed.splitlines()) == 4


@pytest.mark.parametrize("name", ["ipython9_deep", "ipython7_deep", "script_deep"])
def test_a_deep_library_traceback_keeps_the_repo_and_the_last_library_frames(name: str) -> None:
    raw = data(name)
    trimmed = trim(name)
    assert len(strip_ansi(raw).splitlines()) > 80
    assert len(trimmed.splitlines()) <= 32
    # Nine levels of nesting are 39 copy.py frames: 37 go, the 2 nearest the error stay.
    assert "... 37 library frames omitted ..." in trimmed
    shown = frames(trimmed)
    library = [f for f in shown if "copy.py" in f]
    assert len(library) == 2
    assert "_deepcopy_dict" in library[0] and "deepcopy" in library[1]
    assert any("/content/sfn/paper/model.py" in f for f in shown)  # the repo's own frame
    assert "clone_config()" in trimmed  # the failing line of the cell (or script)
    assert trimmed.endswith("TypeError: cannot pickle '_thread.lock' object")


def test_the_omission_note_stands_where_the_frames_were() -> None:
    lines = trim("ipython9_deep").splitlines()
    note = lines.index("    ... 37 library frames omitted ...")
    assert lines[note - 2] == "---> 16     return copy.deepcopy(config)"
    assert lines[note + 2].startswith("File ~/.pyenv/versions/3.11.7/lib/python3.11/copy.py:231")


@pytest.mark.parametrize("keep", [0, 1, 3])
def test_library_frames_sets_how_many_library_frames_stay(keep: int) -> None:
    trimmed = trim("script_deep", library_frames=keep)
    assert len([f for f in frames(trimmed) if "copy.py" in f]) == keep
    assert f"... {39 - keep} library frames omitted ..." in trimmed


def test_the_recursion_of_kept_library_frames_is_folded() -> None:
    # copy.py's deepcopy -> _deepcopy_dict -> deepcopy -> _deepcopy_list, nine times over.
    trimmed = trim("script_deep", library_frames=5)
    assert len([f for f in frames(trimmed) if "copy.py" in f]) == 5
    assert "  [previous 4 frames repeated 8 more times]" in trimmed
    assert "  ... 2 library frames omitted ..." in trimmed


def test_files_outside_the_libraries_count_as_the_repos_without_a_root() -> None:
    trimmed = trim_traceback(data("ipython9_deep"))
    assert "File /content/sfn/paper/model.py:16, in clone_config(depth)" in trimmed
    assert "... 37 library frames omitted ..." in trimmed


def test_a_library_inside_the_repo_folder_stays_a_library() -> None:
    text = data("script_deep").replace(
        "/root/.pyenv/versions/3.11.7/lib/python3.11/",
        f"{ROOT}/.venv/lib/python3.11/site-packages/",
    )
    assert "... 37 library frames omitted ..." in trimmed_text(text)


def trimmed_text(text: str) -> str:
    return trim_traceback(text, repo_root=ROOT)


def test_library_frames_between_repo_frames_are_omitted() -> None:
    # A library calling back into the repo: torch's Module.__call__ between two repo frames.
    site = "/usr/local/lib/python3.12/dist-packages/torch/nn/modules/module.py"
    text = "\n".join(
        [
            "Traceback (most recent call last):",
            f'  File "{ROOT}/train.py", line 40, in <module>',
            "    out = model(x)",
            f'  File "{site}", line 1773, in _wrapped_call_impl',
            "    return self._call_impl(*args, **kwargs)",
            f'  File "{site}", line 1784, in _call_impl',
            "    return forward_call(*args, **kwargs)",
            f'  File "{ROOT}/sfn/model.py", line 12, in forward',
            "    return self.fc(x.view(-1, 784))",
            "RuntimeError: shape '[-1, 784]' is invalid for input of size 1000",
        ]
    )
    trimmed = trimmed_text(text)
    assert "  ... 2 library frames omitted ..." in trimmed
    assert "_call_impl" not in trimmed
    assert f'{ROOT}/sfn/model.py", line 12, in forward' in trimmed


def test_a_traceback_without_repo_frames_keeps_its_first_and_last_frames() -> None:
    text = data("script_deep").replace(f"{ROOT}/", "/usr/lib/python3/dist-packages/sfn/")
    shown = frames(trimmed_text(text))
    assert len(shown) == 3
    assert "train.py" in shown[0]


# --- recursion --------------------------------------------------------------------------


def test_recursion_in_a_cell_is_folded() -> None:
    raw = data("ipython9_recursion")
    trimmed = trim("ipython9_recursion")
    assert len(strip_ansi(raw).splitlines()) > 700
    assert "    [previous frame repeated 192 more times]" in trimmed
    assert trimmed.count("Cell In[2], line 2, in depth(node)") == 1
    assert len(trimmed.splitlines()) < 20
    assert trimmed.endswith("RecursionError: maximum recursion depth exceeded")


def test_pythons_own_repeat_note_joins_the_fold() -> None:
    # Python shows the frame 3 times, then "[Previous line repeated 995 more times]".
    trimmed = trim("script_recursion")
    assert "  [previous frame repeated 997 more times]" in trimmed
    assert "Previous line repeated" not in trimmed
    assert trimmed.count('File "/content/sfn/train.py", line 25, in count') == 1


def test_mutual_recursion_is_folded_as_a_cycle() -> None:
    trimmed = trim("script_mutual")
    assert "  [previous 2 frames repeated 58 more times]" in trimmed
    assert trimmed.count("in walk_other") == 1
    assert len(trimmed.splitlines()) < 15


def test_ipythons_note_of_similar_frames_merges_with_the_fold() -> None:
    trimmed = trim("ipython9_mutual")
    assert "[... skipping similar frames" not in trimmed
    assert "    [previous 2 frames repeated ~94 more times]" in trimmed
    assert trimmed.endswith("RecursionError: maximum recursion depth exceeded")


# --- chained exceptions -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["ipython9_chained_context", "ipython7_chained_context"])
def test_the_exception_handled_shows_only_its_last_frame(name: str) -> None:
    trimmed = trim(name)
    first, sentence, last = trimmed.partition(
        "\n\nDuring handling of the above exception, another exception occurred:\n\n"
    )
    assert sentence
    assert "... 3 frames omitted ..." in first
    assert len(frames(first)) == 1 and "raw_decode" in frames(first)[0]
    assert first.endswith(
        "JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )
    assert len(frames(last)) == 2  # the last exception in full: the cell and load()
    assert last.startswith("ValueError ")
    assert last.endswith("ValueError: config is not valid JSON")


def test_a_direct_cause_keeps_both_errors() -> None:
    trimmed = trim("ipython9_chained_cause")
    assert (
        "KeyError: 'dog'\n\nThe above exception was the direct cause of the following exception:\n\nRuntimeError "
        in trimmed
    )
    assert trimmed.endswith("RuntimeError: unknown label in data/labels.csv")


def test_a_script_chain_keeps_each_exceptions_error_line() -> None:
    trimmed = trim("script_chained")
    assert "json.decoder.JSONDecodeError: Expecting property name" in trimmed
    assert "SystemExit: bad config /tmp/tbgen/bad.json" in trimmed
    assert trimmed.count("The above exception was the direct cause") == 2
    assert trimmed.endswith(
        'raise ValueError("could not load the config") from e\nValueError: could not load the config'
    )


def test_a_long_chain_keeps_the_root_cause_and_the_last_exceptions() -> None:
    trimmed = trim("script_chained4")
    assert trimmed.startswith("Traceback (most recent call last):")
    assert "FileNotFoundError: [Errno 2] No such file or directory" in trimmed  # the root cause
    assert "... 1 more chained exception omitted ..." in trimmed
    assert "RuntimeError: could not read the checkpoint" not in trimmed
    assert "KeyError: 'epoch'" in trimmed
    assert trimmed.endswith("ValueError: cannot resume training")


# --- messages and length ----------------------------------------------------------------


def test_a_long_error_message_is_cut() -> None:
    trimmed = trim("ipython9_long_message")
    lines = trimmed.splitlines()
    assert all(len(line) <= MAX_LINE_CHARS for line in lines)
    assert "RuntimeError: Error(s) in loading state_dict for ResNet:" in lines
    missing = next(line for line in lines if line.startswith("\tMissing key(s)"))
    assert missing.startswith("\tMissing key(s) in state_dict: 'layer1.conv1.weight'")
    assert re.search(r" \.\.\. \(\d+ more characters\)$", missing)


def test_a_message_of_many_lines_is_cut() -> None:
    text = data("script_syntax").replace(
        "SyntaxError: Missing parentheses in call to 'print'. Did you mean print(...)?",
        "ValueError: bad rows:\n" + "\n".join(f"row {n}: nan" for n in range(40)),
    )
    trimmed = trimmed_text(text)
    assert "row 10: nan" in trimmed and "row 11: nan" not in trimmed
    assert trimmed.endswith("... 29 more lines of the message ...")


def test_max_lines_is_kept_and_the_error_stays() -> None:
    trimmed = trim("ipython9_deep", max_lines=20, library_frames=3)
    lines = trimmed.splitlines()
    assert len(lines) <= 20
    assert lines[-1] == "TypeError: cannot pickle '_thread.lock' object"
    assert "... 36 library frames omitted ..." in trimmed
    # Frames kept only their arrow line, and no frame went.
    assert "----> 2 config = clone_config()" in lines
    assert "---> 16     return copy.deepcopy(config)" in lines
    assert "lines omitted" not in trimmed


def test_past_all_trimming_middle_lines_go() -> None:
    lines = trim("ipython9_deep", max_lines=8).splitlines()
    assert len(lines) == 8
    assert lines[-1] == "TypeError: cannot pickle '_thread.lock' object"
    assert any(re.fullmatch(r"\.\.\. \d+ lines omitted \.\.\.", line) for line in lines)


def test_frames_lose_context_before_lines_are_cut() -> None:
    trimmed = trim("ipython9_short", max_lines=20)
    assert "--> 775     raise AttributeError(__former_attrs__[attr], name=None)" in trimmed
    assert "778     raise AttributeError(" not in trimmed  # context after the arrow went
    assert "lines omitted" not in trimmed


def test_the_nbclient_preamble_and_stream_output_go() -> None:
    trimmed = trim("ipython9_stream")
    assert "----- stdout -----" not in trimmed
    assert "epoch 1 loss 0.5\n" not in trimmed  # the output; the code printing it stays
    assert trimmed.startswith("-" * 75 + "\nKeyError")
    assert trimmed.endswith("KeyError: 'dropout'")


def test_text_that_is_no_traceback_comes_back_capped() -> None:
    assert trim_traceback("\x1b[31mKilled\x1b[0m\n") == "Killed"
    long = "\n".join(f"step {n}" for n in range(100))
    capped = trim_traceback(long, max_lines=10).splitlines()
    assert len(capped) == 10
    assert capped[-1] == "step 99" and "... 91 lines omitted ..." in capped


# --- the failing line -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("ipython9_short", 3),
        ("ipython7_short", 3),  # IPython 7 gives it only by the arrow
        ("ipython9_deep", 2),
        ("ipython7_deep", 2),
        ("ipython9_recursion", 4),  # depth() is defined in cell 1 but fails from cell 2
        ("ipython9_chained_context", 9),
        ("ipython7_chained_context", 9),
        ("ipython9_syntax", 1),
        ("script_syntax", 2),
        ("script_deep", 38),
    ],
)
def test_failing_line(name: str, line: int) -> None:
    assert failing_line(data(name)) == line


def test_failing_line_of_text_without_frames_is_none() -> None:
    assert failing_line("Killed") is None


# --- source -----------------------------------------------------------------------------

CELL = "\n".join(f"step_{n} = {n}" for n in range(1, 61))


def test_a_short_cell_comes_back_unchanged() -> None:
    cell = "import numpy as np\n\nx = np.float(3)\n"
    assert trim_source(cell, 3) == cell


def test_a_long_cell_is_cut_around_the_failing_line() -> None:
    trimmed = trim_source(CELL, 30)
    assert trimmed.splitlines() == [
        "# ... 23 lines above ...",
        *(f"step_{n} = {n}" for n in range(24, 30)),
        "step_30 = 30  # <- fails here",
        *(f"step_{n} = {n}" for n in range(31, 37)),
        "# ... 24 lines below ...",
    ]


def test_the_cut_cell_is_still_python() -> None:
    lines = [f"    loss_{n} = model(batch_{n})" for n in range(50)]
    source = "def train(model):\n" + "\n".join(lines) + "\n    return loss_49\n"
    trimmed = trim_source(source, 26)
    ast.parse(textwrap.dedent(trimmed))
    assert "    # ... 19 lines above ..." in trimmed
    assert "    loss_24 = model(batch_24)  # <- fails here" in trimmed


def test_near_the_start_nothing_above_is_cut() -> None:
    trimmed = trim_source(CELL, 2, context=3)
    assert trimmed.splitlines()[:3] == ["step_1 = 1", "step_2 = 2  # <- fails here", "step_3 = 3"]
    assert trimmed.splitlines()[-1] == "# ... 55 lines below ..."


def test_one_line_is_not_replaced_by_a_note() -> None:
    trimmed = trim_source(CELL, 59, context=3)
    assert trimmed.splitlines()[-1] == "step_60 = 60"


def test_without_a_failing_line_the_start_is_kept() -> None:
    trimmed = trim_source(CELL, None, max_lines=10)
    assert trimmed.splitlines()[-1] == "# ... 51 lines below ..."
    assert len(trimmed.splitlines()) == 10


def test_context_shrinks_to_fit_max_lines() -> None:
    trimmed = trim_source(CELL, 30, context=20, max_lines=11)
    assert len(trimmed.splitlines()) <= 11
    assert "step_30 = 30  # <- fails here" in trimmed


def test_a_continued_line_gets_no_trailing_comment() -> None:
    source = CELL.replace("step_30 = 30", "step_30 = 30 + \\")
    trimmed = trim_source(source, 30)
    assert "step_30 = 30 + \\\n" in trimmed
    assert "fails here" not in trimmed


def test_colabs_ipython_7_cell_frames_are_the_repos() -> None:
    # The format of Colab's IPython 7.34 with its older ipykernel (written, not captured).
    text = (
        "---------------------------------------------------------------------------\n"
        "AttributeError                            Traceback (most recent call last)\n"
        "<ipython-input-3-8c7f2b1e> in <cell line: 2>()\n"
        "      1 import numpy as np\n"
        "----> 2 x = np.float(3)\n"
        "\n"
        "/usr/local/lib/python3.10/dist-packages/numpy/__init__.py in __getattr__(attr)\n"
        "    283 \n"
        '--> 284         raise AttributeError("module {!r} has no attribute "\n'
        "\n"
        "AttributeError: module 'numpy' has no attribute 'float'"
    )
    assert failing_line(text) == 2
    assert trim_traceback(text, library_frames=0).splitlines()[2:6] == [
        "<ipython-input-3-8c7f2b1e> in <cell line: 2>()",
        "      1 import numpy as np",
        "----> 2 x = np.float(3)",
        "",
    ]
