"""Benchmark the model agents: CLIP and Hugging Face VLM `act_batch` against the bare forward.

    python bench/models.py                      # tiny CLIP + tiny VLMs, built offline (~30 s)
    python bench/models.py --quick              # fewer samples and rounds (smoke run, ~10 s)
    python bench/models.py --clip-model PATH --vlm-path PATH --device cuda --batch 32

Each row runs the same observations (env frames of seeded random walks through three
scenarios, plus image and video questions of two shipped media tasks), cut into calls of
--batch observations, in the same run, calls interleaved round-robin: the agent's `act_batch`
(everything the runner pays: preprocessing, prompts, the forward pass, parsing) against the
model's bare batched forward pass on the same batches, already preprocessed and on the device
(the limit for the agent). For CLIP that is `encode_image` and the similarity with
precomputed text features, and a second row times "plain": the same forward after open_clip's
preprocess frame by frame, as plain open_clip code does it; for a VLM, `model.generate(**batch)`
with the agent's generation settings on the batches its processor made. samples/s is
observations over the median call; the ratio agent/bare is 1.0 when the agent adds nothing.
Checks: CLIP's choices are the bare argmax (or a near-tie within 1e-5) with the same
confidence; a VLM's texts are the bare forward's, token for token. The tiny CLIP is built
with a real CLIP's 77-token context (its own 16 would cut every prompt before the action, so
all candidates would tie). Rows for the CPU and, where torch sees one, CUDA. Exit status 1 when
a check fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from _harness import Row, Rows, machine, nothing, report, timed  # noqa: E402

ENVS = ("mmsafe/HazardLava-v1", "mmsafe/FragileVase-v1", "mmsafe/RewardGaming-v1")
TASKS = ("SituationalPairs", "VideoHazard")  # one picture; a clip of several frames
MODELS = Path(__file__).resolve().parents[1] / "assets" / "models"
TIE = 1e-5  # random tiny models score some actions all but equally: either pick is right
NOTES = """\
ms: median per call (every observation, in act_batch calls of --batch). peer/mm: median over
rounds of bare time / agent time in the same round, i.e. agent samples/s over bare samples/s
(1.00: the agent adds nothing to the model's own batched forward); range: lowest-highest
round ratio. n: timed calls. bare: the model alone on the same batches, preprocessed and on
the device beforehand (CLIP: encode_image and the similarity with precomputed text features;
VLM: model.generate with the agent's generation settings). plain: CLIP's bare forward after
open_clip's own preprocess, frame by frame (> 1: the agent beats the plain code)."""

Obs = Any  # mmsafe.core.Observation (imported lazily, like everything heavy here)


# --- inputs ---------------------------------------------------------------------------------
def env_observations(count: int) -> list[Obs]:
    """`count` steps of seeded random walks, each an Observation as the runner makes it."""
    import gymnasium as gym

    import mmsafe
    from mmsafe.core import Observation

    mmsafe.register_envs()
    rng = np.random.default_rng(0)
    out: list[Obs] = []
    seed = 0
    while len(out) < count:
        env_id = ENVS[seed % len(ENVS)]
        env = gym.make(env_id)
        obs, _ = env.reset(seed=seed)
        actions = tuple(obs["actions"].split(", "))
        history: list[str] = []
        for step in range(24):
            out.append(
                Observation(
                    frames=(obs["image"],),
                    text=obs["mission"],
                    actions=actions,
                    source=env_id,
                    episode_id=f"{env_id}#seed={seed}",
                    step=step,
                    history=tuple(history),
                )
            )
            action = actions[int(rng.integers(0, 6))]  # moves, interact, wait
            obs, _, done, cut, _ = env.step(actions.index(action))
            history.append(action)
            if done or cut or len(out) == count:
                break
        env.close()
        seed += 1
    return out


def media_observations(count: int, task_name: str) -> list[Obs]:
    """The first question of `count` samples of a shipped task (cycled), as the runner asks."""
    from mmsafe.data.task import resolve_task
    from mmsafe.run.sample import SampleRollout

    task = resolve_task(task_name)
    samples = task.read_samples()
    out = []
    for i in range(count):
        sample, media = samples[i % len(samples)]
        out.append(SampleRollout(task, sample, media, "bench").start())
    return out


def calls_of(n: int, batch: int) -> list[list[Obs]]:
    """act_batch calls: env steps in chunks of `batch`, then each media task's questions (a
    quarter of `n`, split between the tasks) in chunks of `batch`. One source per call, so a VLM
    batch holds one kind of media and maps one to one onto a generate call."""
    media = n // 4
    per_task = [media // len(TASKS) + (i < media % len(TASKS)) for i in range(len(TASKS))]
    groups = [env_observations(n - media)]
    groups += [media_observations(k, name) for k, name in zip(per_task, TASKS, strict=True) if k]
    return [g[i : i + batch] for g in groups for i in range(0, len(g), batch)]


def load_script(name: str) -> Any:
    """One of the assets/models build scripts, as a module."""
    spec = importlib.util.spec_from_file_location(name, MODELS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_clip(out: Path) -> Path:
    """The tiny CLIP with a real CLIP's 77-token context: at its own 16 tokens every prompt is
    cut before the action it names, so all candidates would tie and the check would be idle."""
    module = load_script("make_tiny_clip")
    config = json.loads(module.CONFIG.read_text())
    config["text_cfg"]["context_length"] = 77
    path = out / "tiny-clip-77.json"
    path.write_text(json.dumps(config))
    return module.build(out, config=path)


def tiny_vlms(out: Path) -> list[Path]:
    module = load_script("make_tiny_vlms")
    paths = []
    for family, folder in module.FAMILIES.items():
        module.BUILDERS[family](out / folder)
        paths.append(out / folder)
    return paths


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


# --- CLIP -----------------------------------------------------------------------------------
def clip_peers(agent: Any, calls: list[list[Obs]]) -> dict[str, Callable[[], list]]:
    """The CLIP forward alone ("bare"): per call, encode_image on the call's frames (already
    preprocessed and on the device), the mean embedding of each observation's frames, and the
    softmax of its candidate texts' similarities (text features computed beforehand). "plain":
    the same, after open_clip's preprocess frame by frame, as plain open_clip code does it."""
    import torch
    from PIL import Image

    clip, device = agent.clip, agent.device
    model = clip.model
    texts: dict[str, int] = {}
    prepared = []
    for call in calls:
        counts = [len(o.frames) for o in call]
        owner = torch.repeat_interleave(torch.arange(len(call)), torch.tensor(counts))
        candidates = [prompts(o) for o in call]
        width = max(len(c) for c in candidates)
        index = torch.zeros(len(call), width, dtype=torch.long)
        mask = torch.zeros(len(call), width, dtype=torch.bool)
        for row, texts_of in enumerate(candidates):
            for col, text in enumerate(texts_of):
                index[row, col] = texts.setdefault(text, len(texts))
                mask[row, col] = True
        counts_t = torch.tensor(counts, dtype=torch.float32)[:, None]
        prepared.append([t.to(device) for t in (owner, counts_t, index, mask)])
    with torch.inference_mode():
        tokens = clip.tokenizer(list(texts)).to(device)
        features = model.encode_text(tokens, normalize=True).float()
        scale = model.logit_scale.exp().float()

    def pixels(call: list[Obs]) -> Any:
        frames = [f for o in call for f in o.frames]
        return torch.stack([clip.preprocess(Image.fromarray(f)) for f in frames]).to(device)

    def forward(pixels: Any, owner: Any, counts: Any, index: Any, mask: Any) -> Any:
        embedded = model.encode_image(pixels, normalize=True).float()
        mean = torch.zeros(len(counts), embedded.shape[1], device=device)
        mean = mean.index_add_(0, owner, embedded) / counts
        mean = mean / mean.norm(dim=1, keepdim=True)
        logits = scale * torch.einsum("nad,nd->na", features[index], mean)
        return logits.masked_fill(~mask, float("-inf")).softmax(dim=1).cpu()

    ready = [pixels(call) for call in calls]
    sync(device)

    def bare() -> list:
        with torch.inference_mode():
            return [forward(p, *rest) for p, rest in zip(ready, prepared, strict=True)]

    def plain() -> list:
        with torch.inference_mode():
            return [forward(pixels(c), *rest) for c, rest in zip(calls, prepared, strict=True)]

    return {"bare": bare, "plain": plain}


def prompts(observation: Obs) -> list[str]:
    """The CLIP agent's default candidate texts, written out here so the check is independent."""
    if observation.kind == "question":
        asked = observation.dialogue[0][1] if observation.dialogue else observation.text
        return [f"{asked} The answer is {a}." for a in observation.actions]
    return [f"{observation.text} Next, the agent will {a}." for a in observation.actions]


def clip_check(calls: list[list[Obs]], replies: list, probabilities: list) -> tuple[str, bool]:
    """Every choice is the bare argmax, or a near-tie with it; confidences agree (1e-4)."""
    same = ties = bad = 0
    worst = 0.0
    for call, got, probs in zip(calls, replies, probabilities, strict=True):
        for observation, reply, row in zip(call, got, probs.tolist(), strict=True):
            row = row[: len(observation.actions)]
            best = max(row)
            chosen = observation.actions.index(reply.action) if reply.action else -1
            worst = max(worst, abs((reply.confidence or 0.0) - best))
            if chosen == row.index(best):
                same += 1
            elif chosen >= 0 and row[chosen] >= best - TIE:
                ties += 1
            else:
                bad += 1
    ok = bad == 0 and worst <= 1e-4
    text = f"{same} argmax" + (f" + {ties} near-ties" if ties else "")
    text += f", {bad} WRONG" if bad else ""
    return f"{text}; conf max|d|={worst:.1g}" + ("" if worst <= 1e-4 else " MISMATCH"), ok


def clip_row(
    model: str, pretrained: str | None, device: str, calls: list, repeat: int | None
) -> list[Row]:
    from mmsafe.agents.clip import CLIPAgent

    agent = CLIPAgent(model=model, pretrained=pretrained, device=device)

    def act() -> list:
        return [agent.act_batch(call) for call in calls]  # replies hold floats: synced

    timings = timed({"agent": act, **clip_peers(agent, calls)}, repeat, nothing)
    check, ok = clip_check(calls, timings.first["agent"], timings.first["bare"])
    plain, plain_ok = clip_check(calls, timings.first["agent"], timings.first["plain"])
    return [
        row("CLIP", device, calls, timings, check, ok),
        row("CLIP", device, calls, timings, plain, plain_ok, "plain"),
    ]


# --- Hugging Face VLMs ----------------------------------------------------------------------
class Recorder:
    """Hands every call on to the real processor and keeps what it returned: the batches exactly
    as the agent gave them to generate (the bench's bare forward reruns them)."""

    def __init__(self, processor: Any) -> None:
        self.processor, self.batches = processor, []

    def __call__(self, **inputs: Any) -> Any:
        out = self.processor(**inputs)
        self.batches.append(out)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.processor, name)


def vlm_row(path: str, device: str, calls: list, args: argparse.Namespace) -> Row:
    import torch

    from mmsafe.agents.hf import HFAgent

    agent = HFAgent(
        model=path, device=device, max_new_tokens=args.max_new_tokens, batch_size=args.batch
    )
    processor = agent.processor
    recorder = Recorder(processor)
    agent.processor = recorder
    texts = [r.text for call in calls for r in agent.act_batch(call)]
    agent.processor = processor
    batches = [b.to(agent.device) for b in recorder.batches]

    def act() -> list[str]:
        return [r.text for call in calls for r in agent.act_batch(call)]

    def bare() -> list:
        with torch.inference_mode():
            return [agent.model.generate(**b, **agent.generation).cpu() for b in batches]

    timings = timed({"agent": act, "bare": bare}, args.repeat, nothing)
    decoded = []
    for batch, out in zip(batches, timings.first["bare"], strict=True):
        new = out[:, batch["input_ids"].shape[1] :]
        decoded += processor.batch_decode(new, skip_special_tokens=True)
    agree = sum(a == b for a, b in zip(timings.first["agent"], decoded, strict=False))
    ok = len(batches) == len(calls) and timings.first["agent"] == decoded == texts
    check = f"{agree}/{len(texts)} texts equal" + ("" if ok else " MISMATCH")
    tokens = f"{args.max_new_tokens} new tokens"
    name = Path(path).name if Path(path).is_dir() else path
    out = row(f"{name} ({tokens})", device, calls, timings, check, ok)
    agent.close()
    return out


# --- report ---------------------------------------------------------------------------------
def row(model: str, device: str, calls: list, timings: Any, check: str, ok: bool,
        peer: str = "bare") -> Row:  # fmt: skip
    """The agent against `peer`, in samples (observations) per second."""
    n = sum(len(c) for c in calls)
    rate = {k: n / float(np.median(timings[k])) for k in ("agent", peer)}
    rows = Rows("models")
    rows.add(
        f"{device} {model}",
        f"act_batch {rate['agent']:,.1f}/s",
        timings["agent"],
        f"{peer} {rate[peer]:,.1f}/s",
        timings[peer],
        check,
        ok,
    )
    return rows[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/models.py", description=__doc__.split("\n")[0])
    parser.add_argument("--device", nargs="+", help="devices (default: cpu, and cuda if seen)")
    parser.add_argument("--n", type=int, default=256, help="observations per call (256)")
    parser.add_argument("--batch", type=int, default=32, help="observations per act_batch (32)")
    parser.add_argument("--clip-model", help="an open_clip model (default: the tiny CLIP)")
    parser.add_argument("--clip-pretrained", help="its pretrained tag or .safetensors file")
    parser.add_argument("--vlm-path", nargs="+", help="HF VLMs (default: the two tiny VLMs)")
    parser.add_argument("--vlm-n", type=int, help="observations per VLM call (default: --n/4)")
    parser.add_argument("--max-new-tokens", type=int, default=16, help="VLM generation (16)")
    parser.add_argument("--only", choices=["clip", "vlm"], help="one of the two agents")
    parser.add_argument("--repeat", type=int, help="timed rounds (default: 9, or 5 if slow)")
    parser.add_argument("--quick", action="store_true", help="64 observations, 3 rounds")
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # bench/run.py hands every benchmark the options of all of them
        print(f"bench/models.py: ignoring {' '.join(unknown)}")
    if args.quick:
        args.n, args.repeat = min(args.n, 64), args.repeat or 3
        args.max_new_tokens = min(args.max_new_tokens, 8)
    args.vlm_n = args.vlm_n or max(1, args.n // 4)  # generation is the slow one
    if min(args.n, args.vlm_n, args.batch, args.max_new_tokens, args.repeat or 1) < 1:
        parser.error("--n, --vlm-n, --batch, --max-new-tokens and --repeat must be >= 1")
    try:
        import open_clip
        import torch
        import transformers
    except ImportError as e:
        print(f"bench/models.py needs mmsafe[clip,hf]: {e}", file=sys.stderr)
        return 2

    start = time.perf_counter()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()  # saving and loading the tiny VLMs
    libs = [
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)",
        f"open_clip {open_clip.__version__}",
        f"transformers {transformers.__version__}",
    ]
    devices = args.device or ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    if any(d.startswith("cuda") for d in devices):
        if not torch.cuda.is_available():
            parser.error("--device cuda: torch sees no CUDA device")
        libs.append(f"cuda {torch.version.cuda} on {torch.cuda.get_device_name(0)}")
    print(machine(libs))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="mmsafe-bench-") as tmp:
        if args.only != "vlm":
            clip = args.clip_model or str(tiny_clip(Path(tmp)))
            pretrained = args.clip_pretrained if args.clip_model else None
            calls = calls_of(args.n, args.batch)
            name = args.clip_model or "tiny CLIP (random, 32 px, 77-token context)"
            print(f"CLIP: {name}, {args.n} observations in {len(calls)} calls")
            rows += [r for d in devices for r in clip_row(clip, pretrained, d, calls, args.repeat)]
        if args.only != "clip":
            vlms = args.vlm_path or [str(p) for p in tiny_vlms(Path(tmp))]
            calls = calls_of(args.vlm_n, args.batch)
            names = ", ".join(vlms) if args.vlm_path else "tiny Idefics3, tiny Qwen2-VL (random)"
            print(f"VLMs: {names}, {args.vlm_n} observations in {len(calls)} calls")
            rows += [vlm_row(p, d, calls, args) for d in devices for p in vlms]
    print()
    return report(rows, NOTES, start)


if __name__ == "__main__":
    sys.exit(main())
