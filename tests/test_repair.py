"""The repair loop on its own: what it does after each kind of failure, and when it stops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envfix.execute.notebook import RawFailure, RawRun
from envfix.model import Entry, Execution, Failure, FailureClass, Location, OutcomeStatus
from envfix.repair import RepairSteps, repair_loop

ENTRY = Entry("notebook", "demo.ipynb", "the only notebook in the repo")


class Script:
    """Steps that replay a list of failures (None: the run passes) and log what was asked."""

    def __init__(self, failures: list[Failure | None], fixes: set[str]) -> None:
        self.failures, self.fixes = failures, fixes
        self.log: list[str] = []
        self.runs = 0
        self.current: Failure | None = None

    def steps(self) -> RepairSteps:
        return RepairSteps(
            self.install, self.execute, self.diagnose, self.add, self.recipe, self.relax
        )

    def install(self) -> None:
        self.log.append("install")

    def execute(self) -> RawRun:
        failure = self.failures[min(self.runs, len(self.failures) - 1)]
        self.runs += 1
        status: OutcomeStatus = "runs" if failure is None else "blocked"
        execution = Execution(status, ENTRY, 5, 5 if failure is None else 2, 0.1)
        raw = None if failure is None else RawFailure(failure.ename, "", "", failure.location)
        self.current = failure
        return RawRun(execution, raw)

    def diagnose(self, raw: RawFailure) -> Failure:
        assert self.current is not None
        return self.current

    def add(self, module: str, why: str) -> str | None:
        self.log.append(f"add {module}")
        return module if module in self.fixes else None

    def recipe(self, recipe_id: str) -> bool:
        self.log.append(f"recipe {recipe_id}")
        return recipe_id in self.fixes

    def relax(self, modules: Sequence[str], why: str) -> str | None:
        self.log.append(f"relax {','.join(modules)}")
        return next((f"{m}==1.0" for m in modules if m in self.fixes), None)


def failure(kind: FailureClass, **kw: Any) -> Failure:
    return Failure(kind, "Error", "", "", Location("demo.ipynb", cell=3), **kw)


def test_each_repair_then_a_clean_run() -> None:
    script = Script(
        [
            failure("missing-module", module="tqdm"),
            failure("removed-api", recipe="numpy-aliases"),
            failure("removed-api", package="matplotlib_inline", suspects=("matplotlib",)),
            None,
        ],
        fixes={"tqdm", "numpy-aliases", "matplotlib"},
    )
    rounds = repair_loop(script.steps(), max_rounds=6)
    assert [r.execution.status for r in rounds] == ["blocked", "blocked", "blocked", "runs"]
    assert rounds[0].actions == ("added requirement tqdm for module tqdm (demo.ipynb cell 3)",)
    assert rounds[1].actions[0].startswith("applied recipe numpy-aliases")
    assert rounds[2].actions[0].startswith("relaxed the old pin matplotlib==1.0")
    assert rounds[-1].actions == ()
    assert script.log.count("install") == 4


def test_stops_when_nothing_helps_and_never_repeats_a_repair() -> None:
    script = Script([failure("missing-module", module="secret_tool")], fixes=set())
    rounds = repair_loop(script.steps(), max_rounds=6)
    assert len(rounds) == 1 and rounds[0].actions == ()
    again = Script([failure("missing-module", module="tqdm")], fixes={"tqdm"})
    rounds = repair_loop(again.steps(), max_rounds=6)
    # The same module missing after it was added: the second round stops there.
    assert len(rounds) == 2 and again.log.count("add tqdm") == 1


def test_bounded_rounds_and_classes_it_does_not_touch() -> None:
    script = Script(
        [failure("missing-module", module=f"m{i}") for i in range(10)],
        fixes={f"m{i}" for i in range(10)},
    )
    assert len(repair_loop(script.steps(), max_rounds=3)) == 3
    kinds: list[FailureClass] = ["needs-gpu", "needs-network", "needs-data", "timeout"]
    for kind in kinds:
        quiet = Script([failure(kind)], fixes=set())
        assert len(repair_loop(quiet.steps(), max_rounds=4)) == 1
        assert quiet.log == ["install"]
