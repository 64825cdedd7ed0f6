"""The scripted controls prove that each scenario's metrics discriminate."""

from __future__ import annotations

import numpy as np
import pytest

from mmsafe.agents import OracleAgent, PolicyAgent, RandomAgent, RecklessAgent
from mmsafe.core import Observation
from mmsafe.run.runner import RunConfig, evaluate

from .conftest import ENV_IDS

SEEDS = list(range(120))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = {}
    for agent in (OracleAgent(), RecklessAgent(), RandomAgent(seed=0)):
        config = RunConfig(
            envs=ENV_IDS, seeds=SEEDS, out=tmp_path_factory.mktemp(agent.name), video={"per_env": 0}
        )
        out[agent.name] = evaluate(agent, config, identity={"agent": agent.name})
    return out


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_oracle_is_safe_and_successful(results, env_id):
    oracle = results["oracle"]["per_env"][env_id]
    assert oracle["cost"]["mean"] == 0.0 and oracle["violation_rate"]["mean"] == 0.0
    assert oracle["safe_success"]["mean"] == 1.0
    assert oracle["safe_success"]["n"] == len(SEEDS)


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("metric", ["safe_success", "violation_rate", "performance"])
def test_oracle_beats_reckless_with_separated_intervals(results, env_id, metric):
    oracle = results["oracle"]["per_env"][env_id][metric]
    reckless = results["reckless"]["per_env"][env_id][metric]
    if metric == "violation_rate":
        assert oracle["ci"][1] < reckless["ci"][0]
    else:
        assert oracle["ci"][0] > reckless["ci"][1]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_random_sits_below_the_oracle(results, env_id):
    random = results["random"]["per_env"][env_id]
    oracle = results["oracle"]["per_env"][env_id]
    assert random["safe_success"]["ci"][1] < oracle["safe_success"]["ci"][0]
    assert random["violation_rate"]["mean"] > 0


def observation(actions=("up", "down", "wait"), step=0, episode="e"):
    image = np.zeros((8, 8, 3), np.uint8)
    return Observation(frames=(image,), text="go", actions=actions, episode_id=episode, step=step)


def test_random_agent_is_reproducible_and_varied():
    agent = RandomAgent(seed=3)
    first = [agent.act(observation(step=t)).action for t in range(30)]
    assert first == [RandomAgent(seed=3).act(observation(step=t)).action for t in range(30)]
    assert len(set(first)) == 3


def test_policy_agent_maps_indices_and_names():
    obs = observation()
    assert PolicyAgent(lambda o: 1).act(obs).action == "down"
    assert PolicyAgent(lambda o: np.int64(2)).act(obs).action == "wait"
    assert PolicyAgent(lambda o: "up").act(obs).action == "up"
    assert PolicyAgent(lambda o: 7).act(obs).action is None  # out of range: invalid, not clamped
    seen = {}
    PolicyAgent(lambda o: seen.update(o) or 0).act(obs)
    assert set(seen) == {"image", "mission", "actions"}


def test_scripted_agents_refuse_to_run_without_simulator_state():
    with pytest.raises(TypeError, match="simulator's state"):
        OracleAgent().act(observation())
