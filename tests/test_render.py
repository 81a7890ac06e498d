"""The terminal summaries: facts the user acts on are said the right way."""

from __future__ import annotations

import io

from rich.console import Console

from envfix.model import Change, Lock
from envfix.render import lock_summary


def text_of(lock: Lock) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(lock_summary(lock))
    return console.export_text()


def test_pins_for_colab_come_with_the_cell_to_paste_and_local_pins_do_not() -> None:
    change = Change("tqdm", "add", None, "4.67.1", "requirements.txt:1 asks for tqdm")
    colab = Lock("colab", "uv", "3.13.1", (change,), (), (), (), (), "/r/requirements.envfix.txt")
    assert "In Colab, run:" in text_of(colab)
    assert "%pip install -r requirements.envfix.txt" in text_of(colab)
    local = Lock(
        "/r/.envfix/venv/bin/python", "uv", "3.11.7", (change,), (), (), (), (),
        "/r/requirements.envfix.txt", interpreter="/r/.envfix/venv/bin/python",
    )  # fmt: skip
    shown = text_of(local)
    assert "In Colab" not in shown and "not Colab" in shown and "--target colab" in shown
