"""The repair loop: run, classify the first error, change what the error says to change (a
missing requirement, a recipe whose error text matches), and run again from the start, for a
bounded number of rounds. What remains is reported as it is."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from envfix.execute.notebook import RawFailure, RawRun
from envfix.model import Failure, InstallReport, Round


@dataclass(frozen=True)
class RepairSteps:
    """What the loop can do, given by the pipeline (the loop knows no stage)."""

    install: Callable[[], InstallReport | None]
    """Install the current lock when it changed since the last install."""
    execute: Callable[[], RawRun]
    diagnose: Callable[[RawFailure], Failure]
    add_requirement: Callable[[str, str], str | None]
    """(module, why) -> the distribution now locked for it, or None when nothing changed."""
    apply_recipe: Callable[[str], bool]
    """Recipe id -> whether it changed the code."""
    relax_pin: Callable[[Sequence[str], str], str | None]
    """(modules the error points at, why) -> the old pin that was moved to the newest
    version, or None when none of them is pinned (or all were relaxed before)."""


def repair_loop(
    steps: RepairSteps, max_rounds: int, say: Callable[[str], None] = lambda _m: None
) -> tuple[Round, ...]:
    rounds: list[Round] = []
    tried: set[str] = set()
    for number in range(1, max_rounds + 1):
        say(f"round {number} of at most {max_rounds}: installing")
        report = steps.install()
        raw = steps.execute()
        execution = raw.execution
        actions: tuple[str, ...] = ()
        if raw.failure is not None:
            failure = steps.diagnose(raw.failure)
            execution = replace(execution, failure=failure)
            if execution.status == "blocked" and number < max_rounds:
                actions = _repair(failure, steps, tried, say)
        rounds.append(Round(number, execution, report, actions))
        if not actions:
            break
    return tuple(rounds)


def _repair(
    failure: Failure, steps: RepairSteps, tried: set[str], say: Callable[[str], None]
) -> tuple[str, ...]:
    where = f" ({failure.location})" if failure.location else ""
    if failure.kind == "missing-module" and failure.module and failure.module not in tried:
        tried.add(failure.module)
        say(f"locking again for the missing module {failure.module}")
        why = f"the run failed with No module named '{failure.module}'{where}"
        distribution = steps.add_requirement(failure.module, why)
        if distribution:
            return (f"added requirement {distribution} for module {failure.module}{where}",)
    if failure.recipe and f"recipe:{failure.recipe}" not in tried:
        tried.add(f"recipe:{failure.recipe}")
        say(f"applying recipe {failure.recipe}, which the error text matches")
        if steps.apply_recipe(failure.recipe):
            return (f"applied recipe {failure.recipe} for {failure.ename}{where}",)
    if failure.kind in _PIN_TROUBLE and failure.suspects:
        why = f"{failure.ename} in {failure.location}" if failure.location else failure.ename
        relaxed = steps.relax_pin(failure.suspects, why)
        if relaxed:
            say(f"relaxed the old pin {relaxed}")
            return (f"relaxed the old pin {relaxed} to the newest release ({why})",)
    return ()


# An old pinned library that fails against today's others (matplotlib 3.6 under today's
# matplotlib-inline, a 2018 tensorboardX under protobuf 5) fails like this.
_PIN_TROUBLE = ("removed-api", "binary-incompatible", "version-conflict", "repo-bug")
