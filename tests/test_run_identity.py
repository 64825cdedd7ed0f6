"""A run belongs to one agent: a PolicyAgent is fingerprinted by its parameters and code, and a
run directory refuses to resume with another one."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mmsafe.agents import PolicyAgent
from mmsafe.core import MmsafeError
from mmsafe.run.rundir import RunDir
from mmsafe.run.runner import RunConfig, evaluate

torch = pytest.importorskip("torch")


def config(out) -> RunConfig:
    return RunConfig(
        envs=["mmsafe/SpatialExits-v1"],  # one arm: one episode per seed
        seeds=[0, 1],
        out=out,
        video={"per_env": 0, "first_violation": False},
        min_free_mb=0,
    )


def net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def torch_policy(model: torch.nn.Module):
    def policy(obs):
        with torch.no_grad():
            pixels = torch.as_tensor(obs["image"], dtype=torch.float32).flatten()[:8] / 255
            return int(model(pixels).argmax())

    return policy


def figures(out) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in ("metrics.json", "episodes.jsonl")}


def test_another_checkpoint_under_the_same_name_is_refused(tmp_path):
    out = tmp_path / "run"
    evaluate(PolicyAgent(torch_policy(net(0)), name="mine"), config(out), show=False)
    before = figures(out)
    with pytest.raises(MmsafeError, match="out=") as refused:
        evaluate(PolicyAgent(torch_policy(net(1)), name="mine"), config(out), show=False)
    message = str(refused.value)
    assert "\n" not in message
    assert "different agent (fingerprint)" in message and f"out={out}-2" in message
    assert figures(out) == before


def test_the_same_weights_resume(tmp_path):
    out = tmp_path / "run"
    first = evaluate(PolicyAgent(torch_policy(net(0)), name="mine"), config(out), show=False)
    again = evaluate(PolicyAgent(torch_policy(net(0)), name="mine"), config(out), show=False)
    assert again == first
    recorded = json.loads((out / "run.json").read_text())["fingerprint"]
    assert recorded["policy"].endswith("torch_policy.<locals>.policy")
    assert len(recorded["parameters"]) == 64


def test_the_digest_of_a_module_is_the_same_in_another_process():
    script = (
        "import torch\nfrom mmsafe.agents import PolicyAgent\n"
        "torch.manual_seed(0)\n"
        "model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh(), "
        "torch.nn.Linear(8, 3))\n"
        "print(PolicyAgent(model).fingerprint()['parameters'])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == PolicyAgent(net(0)).fingerprint()["parameters"]


def test_layers_without_weights_and_buffers_count():
    torch.manual_seed(0)
    relu = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    assert PolicyAgent(relu).fingerprint() != PolicyAgent(net(0)).fingerprint()  # Tanh there
    norm = torch.nn.BatchNorm1d(3)
    before = PolicyAgent(norm).fingerprint()
    norm.running_mean += 1
    assert PolicyAgent(norm).fingerprint() != before


def test_a_lambda_is_fingerprinted_by_its_code():
    first, second = (lambda obs: 0), (lambda obs: 1)
    assert PolicyAgent(first).fingerprint() == PolicyAgent(first).fingerprint()
    assert (
        PolicyAgent(first).fingerprint()["parameters"]
        != (PolicyAgent(second).fingerprint()["parameters"])
    )


def test_closure_values_count():
    def make(action):
        return lambda obs: action

    assert PolicyAgent(make(0)).fingerprint() == PolicyAgent(make(0)).fingerprint()
    assert PolicyAgent(make(0)).fingerprint() != PolicyAgent(make(1)).fingerprint()


class Linear:
    def __init__(self, weights: np.ndarray):
        self.weights = weights

    def act(self, obs):
        return int((self.weights @ obs["image"].reshape(-1)[:4]).argmax())


def test_a_bound_method_is_fingerprinted_by_its_objects_arrays():
    model = Linear(np.arange(12.0).reshape(3, 4))
    agent = PolicyAgent(model.act)
    before = agent.fingerprint()
    assert before["policy"] == f"{__name__}.Linear.act"
    assert agent.fingerprint() == before
    model.weights[0, 0] = -1.0
    assert agent.fingerprint()["parameters"] != before["parameters"]


class FakeSB3:
    """What the digest reads of a Stable-Baselines3 model: `get_parameters()` and `policy`."""

    def __init__(self, seed: int):
        self.policy = net(seed)
        self.replay = np.zeros(10)  # not part of the policy: left out

    def get_parameters(self):
        return {"policy": self.policy.state_dict()}

    def predict(self, obs, deterministic=True):
        return np.array(0), None


def test_a_stable_baselines_model_is_fingerprinted_by_its_policy():
    first, same, other = FakeSB3(0), FakeSB3(0), FakeSB3(1)
    same.replay[:] = 1
    digest = PolicyAgent(first.predict).fingerprint()["parameters"]
    assert PolicyAgent(same.predict).fingerprint()["parameters"] == digest
    assert PolicyAgent(other.predict).fingerprint()["parameters"] != digest


def test_a_policy_with_nothing_to_fingerprint_needs_a_version(tmp_path):
    with pytest.raises(ValueError, match='version="') as refused:
        PolicyAgent(len)  # a C builtin: no code or parameters to read
    assert "\n" not in str(refused.value)
    out = tmp_path / "run"
    evaluate(PolicyAgent(len, name="three", version="v1"), config(out), show=False)
    assert json.loads((out / "run.json").read_text())["fingerprint"] == {
        "policy": "builtins.len",
        "version": "v1",
    }
    evaluate(PolicyAgent(len, name="three", version="v1"), config(out), show=False)
    with pytest.raises(MmsafeError, match=r"different agent \(fingerprint\).*out="):
        evaluate(PolicyAgent(len, name="three", version="v2"), config(out), show=False)


def test_other_differences_keep_their_names(tmp_path):
    RunDir(tmp_path).open({"agent": "a", "max_invalid": 5, "content": {"x": "1"}}, {}).close()
    with pytest.raises(MmsafeError) as refused:
        RunDir(tmp_path).open({"agent": "b", "max_invalid": 6, "content": {"x": "2"}}, {})
    assert str(refused.value) == (
        f"{tmp_path} holds a run of a different agent (name) and with a different max_invalid, "
        f"scenario file of x; to start a new run give another out= (e.g. out={tmp_path}-2), "
        "or remove that folder to replace it"
    )
