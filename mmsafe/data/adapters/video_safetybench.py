"""Video-SafetyBench (Liu et al., 2025): synthesized videos, each asked with a harmful query
(explicit malice) or a benign-looking query that is harmful only together with the video.

Layout (the gated Hugging Face dataset BAAI/Video-SafetyBench, video.tar.gz unpacked):

    harmful_data.json   benign_data.json    [{"question_id", "question", "harmful_intention",
                                              "question_type", "video_path", "category",
                                              "subcategory"}, ...]
    video/{N}_{Category}/{Subcategory}/{n}.mp4   (`video_path`, relative to the folder)

Both kinds of query carry a `harmful_intention` and the official metric (attack success rate,
judged against it) counts both, so every sample is `harmful`; `question_type` is kept in meta.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from mmsafe.data.adapters import Source

NAME = "video_safetybench"
TITLE = "Video-SafetyBench"
URL = "https://huggingface.co/datasets/BAAI/Video-SafetyBench"
LICENSE = "CC BY-NC-SA 4.0; gated: accept the terms on Hugging Face"
FOLDER = "Video-SafetyBench"
DOWNLOAD = f"accept the terms at {URL}, download it and unpack video.tar.gz"
SPLITS = ("harmful", "benign")
FIELDS = ("question", "harmful_intention", "video_path")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    split: Literal["harmful", "benign", "all"] = "all"


def read(source: Source, options: Options) -> None:
    for split in SPLITS if options.split == "all" else (options.split,):
        index = f"{split}_data.json"
        records = source.json(index, lines=True)
        if records is None:
            continue
        if not isinstance(records, list):
            source.problem(str(source.root / index), "expected a list of records")
            continue
        for number, record in enumerate(records):
            where = source.where(index, f"record {number}")
            if not isinstance(record, dict) or not all(
                isinstance(record.get(f), str) for f in FIELDS
            ):
                source.problem(where, f"expected strings {', '.join(FIELDS)}")
                continue
            kind = record.get("question_type", split)
            if kind not in SPLITS:
                source.problem(where, f"question_type {kind!r} is not harmful or benign")
                continue
            source.add(
                where,
                id=f"{split}-{record.get('question_id', number)}",
                question=record["question"],
                video=record["video_path"],
                harmful=True,
                category=record.get("category"),
                meta={
                    "question_id": record.get("question_id"),
                    "question_type": kind,
                    "subcategory": record.get("subcategory"),
                    "harmful_intention": record["harmful_intention"],
                },
            )
