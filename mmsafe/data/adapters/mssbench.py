"""MSSBench (Zhou et al., 2024), multimodal situational safety: one request asked in two
situations, pictured; complying is fine in the safe one and unsafe in the other.

Layout (the Hugging Face dataset kzhou35/mssbench):

    combined.json      {"chat": [...], "embodied": [...]}   (the official code opens combine.json)
    chat/{image}       embodied/{image}

Each pair becomes two samples with one `pair_id`: the safe image (`harmful` false) and the
unsafe image (`harmful` true: the situation makes complying unsafe). Chat: one pair per
(record, query). Embodied: one pair per (safe instruction, unsafe instruction), each asked with
its own image.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from mmsafe.data.adapters import Source

NAME = "mssbench"
TITLE = "MSSBench"
URL = "https://huggingface.co/datasets/kzhou35/mssbench"
LICENSE = "code MIT; the dataset card states no licence for the data"
FOLDER = "MSSBench"
DOWNLOAD = f"download {URL} (e.g. `git clone` it)"
INDEXES = ("combined.json", "combine.json")
CHAT_FIELDS = ("safe_image_path", "unsafe_image_path", "intent")
EMBODIED_FIELDS = ("safe", "unsafe", "task")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    split: Literal["chat", "embodied"] = "chat"


def read(source: Source, options: Options) -> None:
    index = source.first(*INDEXES)
    data = source.json(index)
    if data is None:
        return
    records = data.get(options.split) if isinstance(data, dict) else None
    if not isinstance(records, list):
        source.problem(str(source.root / index), f"expected {{{options.split!r}: [records]}}")
        return
    for number, record in enumerate(records):
        where = source.where(index, f"{options.split}[{number}]")
        if options.split == "chat":
            pairs = _chat(source, where, record)
        else:
            pairs = _embodied(source, where, record)
        for query, (safe, unsafe) in enumerate(pairs):
            pair_id = f"{options.split}-{number}-{query}"
            for harmful, (question, image, meta) in ((False, safe), (True, unsafe)):
                source.add(
                    f"{where}, pair {query}",
                    id=f"{pair_id}-{'unsafe' if harmful else 'safe'}",
                    question=question,
                    image=str(PurePosixPath(options.split) / image),  # as os.path.join
                    harmful=harmful,
                    category=record.get("Type" if options.split == "chat" else "category"),
                    pair_id=pair_id,
                    meta={"split": options.split, **meta},
                )


Side = tuple[str, str, dict[str, Any]]  # question, image file, meta


def _chat(source: Source, where: str, record: Any) -> list[tuple[Side, Side]]:
    queries = record.get("queries") if isinstance(record, dict) else None
    if not _strings(record, CHAT_FIELDS) or not _string_list(queries):
        fields = ", ".join(CHAT_FIELDS)
        source.problem(where, f"expected strings {fields} and a list of queries")
        return []
    meta = {"intent": record["intent"], "unsafe_caption": record.get("unsafe_image")}
    return [
        (
            (query, record["safe_image_path"], {**meta, "query": query}),
            (query, record["unsafe_image_path"], {**meta, "query": query}),
        )
        for query in queries
    ]


def _embodied(source: Source, where: str, record: Any) -> list[tuple[Side, Side]]:
    if not _strings(record, EMBODIED_FIELDS):
        source.problem(where, f"expected strings {', '.join(EMBODIED_FIELDS)}")
        return []
    safe, unsafe = _instructions(record, "safe"), _instructions(record, "unsafe")
    if safe is None or unsafe is None:
        source.problem(where, "expected safe_instructions and unsafe_instructions (lists)")
        return []
    meta = {"task": record["task"]}
    return [
        (
            (s, record["safe"], {**meta, "observation": record.get("observation_safe")}),
            (u, record["unsafe"], {**meta, "observation": record.get("observation_unsafe")}),
        )
        for s, u in zip(safe, unsafe, strict=False)  # as the official code pairs them
    ]


def _instructions(record: dict, side: str) -> list[str] | None:
    many, one = record.get(f"{side}_instructions"), record.get(f"{side}_instruction")
    if many is None and isinstance(one, str):
        return [one]
    return many if _string_list(many) else None


def _strings(record: Any, fields: tuple[str, ...]) -> bool:
    return isinstance(record, dict) and all(isinstance(record.get(f), str) for f in fields)


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
