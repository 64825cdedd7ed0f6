"""CLIP zero-shot (`agent=clip`): score each allowed action, described in words together with
the mission, against the image, and take the best. A baseline for what image-text similarity
alone achieves, and the agent-side check of the open_clip path the judges share.

For several frames the frame embeddings are averaged. The reply's confidence is the softmax
probability of the chosen action; its text lists every action's probability.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

from mmsafe.agents.base import BaseAgent, refuse_commands
from mmsafe.core import MmsafeError, Observation, Reply
from mmsafe.models.clip import load_clip
from mmsafe.models.device import pick_device

TEXT_CACHE = 4096  # text embeddings kept (missions x actions repeat across steps)


class CLIPAgent(BaseAgent):
    words_only = "the CLIP agent picks among named actions, not continuous commands"

    def __init__(
        self,
        model: str = "ViT-B-32",
        pretrained: str | None = "laion2b_s34b_b79k",
        device: str = "auto",
        prompt: str = "{mission} Next, the agent will {action}.",
        question_prompt: str = "{mission} The answer is {action}.",
        descriptions: dict[str, str] | None = None,
    ):
        for key, text in (("prompt", prompt), ("question_prompt", question_prompt)):
            try:
                text.format(mission="", action="")
            except (KeyError, IndexError, ValueError) as error:
                raise MmsafeError(
                    f"agent.{key} may use {{mission}} and {{action}} only ({error})"
                ) from None
        # the model first: where the hub is out of reach, that fails before torch is imported
        local = "agent.model=/path/to/folder agent.pretrained=null"
        self.clip = load_clip(model, pretrained, device, local=local)
        self.device = pick_device(device)  # the device load_clip picked
        import torch

        self.prompt, self.question_prompt = prompt, question_prompt
        self.descriptions = dict(descriptions or {})
        self._torch = torch
        self._scale = self.clip.model.logit_scale.exp().item()  # fixed: read once
        self._texts: OrderedDict[str, Any] = OrderedDict()

    def act_batch(self, observations: Sequence[Observation]) -> list[Reply]:
        refuse_commands(observations, self.words_only)
        torch = self._torch
        images = self._image_embeddings(observations)
        candidates = [self._candidates(o) if o.actions else [] for o in observations]
        texts = list(dict.fromkeys(t for c in candidates for t in c))
        probabilities: list[list[float]] = [[] for _ in observations]
        if texts:
            # every observation's candidates scored at once, padded to the longest list, and
            # one copy back: the device is not stopped once per observation
            column = {t: i for i, t in enumerate(texts)}
            width = max(len(c) for c in candidates)
            index = [[column[t] for t in c] + [0] * (width - len(c)) for c in candidates]
            used = [[True] * len(c) + [False] * (width - len(c)) for c in candidates]
            with torch.inference_mode():
                table = self._scale * self._text_embeddings(texts)
                rows = table[torch.tensor(index, device=self.device)]
                logits = torch.einsum("nad,nd->na", rows, images)
                mask = torch.tensor(used, device=self.device)
                padded = logits.masked_fill(~mask, float("-inf")).softmax(dim=1).tolist()
            probabilities = [row[: len(c)] for row, c in zip(padded, candidates, strict=True)]
        replies = []
        for observation, probs in zip(observations, probabilities, strict=True):
            if not observation.actions:
                replies.append(Reply(error="CLIP zero-shot needs candidate actions or answers"))
                continue
            best = max(range(len(probs)), key=probs.__getitem__)
            scores = {a: round(p, 4) for a, p in zip(observation.actions, probs, strict=True)}
            replies.append(
                Reply(
                    text=json.dumps({"probabilities": scores}),
                    action=observation.actions[best],
                    confidence=min(1.0, max(0.0, probs[best])),
                )
            )
        return replies

    def _candidates(self, observation: Observation) -> list[str]:
        """One text per allowed answer. A question is scored as first asked: CLIP reads no
        conversation, so a user's pushback cannot sway it."""
        prompt, mission = self.prompt, observation.text
        if observation.kind == "question":
            prompt = self.question_prompt
            mission = observation.dialogue[0][1] if observation.dialogue else mission
        return [
            prompt.format(mission=mission, action=self.descriptions.get(a, a))
            for a in observation.actions
        ]

    def fingerprint(self) -> dict[str, Any]:
        described = json.dumps(
            [self.prompt, self.question_prompt, self.descriptions], sort_keys=True
        )
        return {
            "clip": self.clip.spec,
            "weights_sha256": self.clip.weights_sha256,
            "prompt_sha256": hashlib.sha256(described.encode()).hexdigest()[:16],
        }

    def _image_embeddings(self, observations: Sequence[Observation]):
        """One unit vector per observation: the mean embedding of its frames."""
        torch = self._torch
        counts = [len(o.frames) for o in observations]
        if not observations or min(counts) == 0:
            raise ValueError("CLIP zero-shot needs at least one frame per observation")
        pixels = self.clip.pixels([f for o in observations for f in o.frames], self.device)
        with torch.inference_mode():
            embedded = self.clip.model.encode_image(pixels, normalize=True).float()
            if max(counts) > 1:  # a slice each (not a scatter-add: that sums in any order)
                ends = list(accumulate(counts))
                embedded = torch.stack(
                    [embedded[e - c : e].mean(dim=0) for e, c in zip(ends, counts, strict=True)]
                )
            return embedded / embedded.norm(dim=1, keepdim=True)

    def _text_embeddings(self, texts: list[str]):
        """Embeddings of `texts`, from the cache where possible; the cache is trimmed only after
        this call's rows are gathered, so eviction never drops one it still needs."""
        torch = self._torch
        rows = {t: self._texts[t] for t in dict.fromkeys(texts) if t in self._texts}
        missing = [t for t in dict.fromkeys(texts) if t not in rows]
        if missing:
            tokens = self.clip.tokenizer(missing).to(self.device)
            with torch.inference_mode():
                embedded = self.clip.model.encode_text(tokens, normalize=True).float()
            rows.update(zip(missing, embedded, strict=True))
        for text, row in rows.items():
            self._texts[text] = row
            self._texts.move_to_end(text)
        while len(self._texts) > TEXT_CACHE:
            self._texts.popitem(last=False)
        return torch.stack([rows[t] for t in texts])
