"""gym -> gymnasium, part two (trial defect D10): the old reset/step/seed API rewritten after
the import swap, only on env-like receivers, and never twice."""

from __future__ import annotations

import textwrap
from typing import Any

import libcst as cst
import pytest

from envfix.recipes.engine import apply_to_notebook, apply_to_source, catalogue
from envfix.recipes.engine import recipe as shipped
from envfix.recipes.fixes import RecipeError, fix_for

IDS = ("gym-to-gymnasium", "gymnasium-step-reset-api")


def patched(source: str) -> str:
    """The source after both gym recipes, in the catalogue's order (as the patch stage)."""
    source = textwrap.dedent(source)
    for r in catalogue():
        if r.id in IDS:
            source = apply_to_source(r, source)[0]
    return source


def test_the_api_recipe_runs_after_the_swap() -> None:
    ids = [r.id for r in catalogue()]
    assert ids.index("gym-to-gymnasium") < ids.index("gymnasium-step-reset-api")
    api = shipped("gymnasium-step-reset-api")
    assert api.review and "terminated" in api.note


def test_the_trial_fixture() -> None:
    assert patched(
        """\
        import gym
        env = gym.make("CartPole-v1")
        env.seed(0)
        s = env.reset()
        s, r, done, info = env.step(0)
        """
    ) == textwrap.dedent(
        """\
        import gymnasium as gym
        env = gym.make("CartPole-v1")
        env.reset(seed=0)
        s, _ = env.reset()
        s, r, terminated, truncated, info = env.step(0)
        done = terminated or truncated
        """
    )


SEVERAL_LOOPS = """\
import gym
import numpy as np
import random
import torch
from gym.wrappers import RecordEpisodeStatistics


def evaluate(policy, env_name, seed):
    eval_env = gym.make(env_name)
    eval_env.seed(seed + 100)
    state, done = eval_env.reset(), False
    while not done:
        state, reward, done, _ = eval_env.step(policy(state))
    return reward


def train(args):
    env = RecordEpisodeStatistics(gym.make(args.env))
    env.seed(seed=args.seed)
    env.action_space.seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    state = env.reset()
    terminated = 0
    for t in range(args.steps):
        next_state, reward, done, info = env.step(env.action_space.sample())
        if t > env._max_episode_steps:
            terminated += 1
        if done:
            state = env.reset()
        else:
            state = next_state
        scheduler.step()


class Runner:
    def __init__(self):
        self.test_env = gym.make("Pendulum-v1")

    def run(self):
        obs = self.test_env.reset()
        if obs is not None: obs, r, d, _ = self.test_env.step(0)
        return obs, d
"""

SEVERAL_LOOPS_AFTER = """\
import gymnasium as gym
import numpy as np
import random
import torch
from gymnasium.wrappers import RecordEpisodeStatistics


def evaluate(policy, env_name, seed):
    eval_env = gym.make(env_name)
    eval_env.reset(seed=seed + 100)
    (state, _), done = eval_env.reset(), False
    while not done:
        state, reward, terminated2, truncated, _ = eval_env.step(policy(state))
        done = terminated2 or truncated
    return reward


def train(args):
    env = RecordEpisodeStatistics(gym.make(args.env))
    env.reset(seed=args.seed)
    env.action_space.seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    state, _ = env.reset()
    terminated = 0
    for t in range(args.steps):
        next_state, reward, terminated2, truncated, info = env.step(env.action_space.sample())
        done = terminated2 or truncated
        if t > env.spec.max_episode_steps:
            terminated += 1
        if done:
            state, _ = env.reset()
        else:
            state = next_state
        scheduler.step()


class Runner:
    def __init__(self):
        self.test_env = gym.make("Pendulum-v1")

    def run(self):
        obs, _ = self.test_env.reset()
        if obs is not None: obs, r, terminated2, truncated, _ = self.test_env.step(0); d = terminated2 or truncated
        return obs, d
"""


def test_a_file_with_several_loops() -> None:
    after = patched(SEVERAL_LOOPS)
    assert after == SEVERAL_LOOPS_AFTER
    compile(after, "after.py", "exec")


def test_applying_twice_changes_nothing() -> None:
    api = shipped("gymnasium-step-reset-api")
    assert apply_to_source(api, SEVERAL_LOOPS_AFTER) == (SEVERAL_LOOPS_AFTER, 0)
    assert patched(SEVERAL_LOOPS_AFTER) == SEVERAL_LOOPS_AFTER


@pytest.mark.parametrize(
    "source",
    [
        # a 4-value step of something that is not an env (not named env, not from gym.make)
        "import gym\nx, v, a, t = sim.step(0.01)\nsolver.seed(1)\nn = world._max_episode_steps\n",
        "import gym\nenv_model = Model()\ns, r, d, i = env_model.step(a)\n",
        # no gym import: `env` may be anything
        "env = make()\nenv.seed(0)\ns = env.reset()\ns, r, d, i = env.step(0)\n",
        # already the new API
        "import gymnasium as gym\nenv = gym.make('x')\nobs, info = env.reset(seed=0)\n"
        "obs, r, terminated, truncated, info = env.step(0)\n(obs, _), done = env.reset(), False\n",
        # a wrapper's own step/reset: their return values must change by hand
        "import gymnasium\nclass W(gymnasium.Wrapper):\n    def step(self, a):\n"
        "        s, r, d, i = self.env.step(a)\n        return s, r, d, i\n"
        "    def reset(self):\n        return self.env.reset()\n",
        # a module's seed, and a space's
        "import gym\nimport numpy as np\nenv = gym.make('x')\nnp.random.seed(0)\n"
        "env.action_space.seed(0)\n",
    ],
)
def test_left_alone(source: str) -> None:
    api = shipped("gymnasium-step-reset-api")
    assert apply_to_source(api, source) == (source, 0)


def test_a_notebook_whose_import_is_in_another_cell() -> None:
    api = shipped("gymnasium-step-reset-api")
    cells = ["import gymnasium as gym", "env = gym.make('CartPole-v1')\nstate = env.reset()"]
    new, changes = apply_to_notebook(api, cells)
    assert changes == 1
    assert new == [cells[0], "env = gym.make('CartPole-v1')\nstate, _ = env.reset()"]


@pytest.mark.parametrize(
    "error",
    [
        "AttributeError: 'TimeLimit' object has no attribute 'seed'",
        "ValueError: too many values to unpack (expected 4)",
        "AttributeError: 'OrderEnforcing' object has no attribute '_max_episode_steps'",
    ],
)
def test_the_repair_loop_can_select_it(error: str) -> None:
    assert shipped("gymnasium-step-reset-api").matches_error(error)


# --- the rewrite-expression settings it uses ----------------------------------------------------


def rewrite(settings: dict[str, Any], source: str) -> tuple[str, int]:
    outcome = fix_for("rewrite-expression", settings).run(cst.parse_module(textwrap.dedent(source)))
    return outcome.module.code, outcome.changes


def test_receivers_by_name_and_by_maker() -> None:
    settings = {
        "library_module": ["gym", "gymnasium"],
        "receivers": {"e": {"names": "env", "made_by": ["gymnasium.make"]}},
        "rewrites": [{"pattern": "{e}.seed({s})", "replacement": "{e}.reset(seed={s})"}],
    }
    code, changes = rewrite(
        settings,
        """\
        from gymnasium import make
        game = make('x')
        game.seed(1)
        self.env.seed(2)
        other.seed(3)
        """,
    )
    assert changes == 2
    assert "game.reset(seed=1)" in code and "self.env.reset(seed=2)" in code
    assert "other.seed(3)" in code


def test_fresh_names_and_guards() -> None:
    settings = {
        "rewrites": [
            {"pattern": "{a}, {b} = f()", "replacement": "{a}, {b} = f()", "statement": True},
            {
                "pattern": "{a} = f()",
                "replacement": "{a}, {fresh:x} = f(); g({fresh:x})",
                "statement": True,
            },
        ]
    }
    code, changes = rewrite(settings, "x = 1\ny = f()\np, q = f()\n")
    assert (code, changes) == ("x = 1\ny, x2 = f()\ng(x2)\np, q = f()\n", 1)
    assert rewrite(settings, "p, q = f()\n") == ("p, q = f()\n", 0)


@pytest.mark.parametrize(
    "settings",
    [
        {"receivers": {"e": {}}},
        {"receivers": {"e": {"names": "("}}},
        {"not_inside": {"methods": ["step"]}},
    ],
)
def test_wrong_settings_are_named(settings: dict[str, Any]) -> None:
    full = {"rewrites": [{"pattern": "{e}.seed()", "replacement": "{e}.reset()"}], **settings}
    with pytest.raises(RecipeError):
        rewrite(full, "env.seed()\n")
