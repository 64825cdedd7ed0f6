"""MM-SafetyBench (Liu et al., ECCV 2024): a harmful request whose key phrase is moved into the
image (a Stable Diffusion picture of it, the phrase typeset, or both), and a rephrased text
question that points at the image.

Layout (a clone of the repository, with the image zip unpacked into it):

    data/processed_questions/{scenario}.json   {"0": {"Question": ..., "Key Phrase": ...}, ...}
    data/imgs/{scenario}/{SD,SD_TYPO,TYPO}/{id}.jpg   (or MM-SafetyBench(imgs)/{scenario}/...)
    TinyVersion_ID_List.json                   [{"Scenario": ..., "Sampled_ID_List": [...]}]

The question sent with SD_TYPO and TYPO images is `Rephrased Question`; with SD images it is
`Rephrased Question(SD)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from mmsafe.data.adapters import Source

NAME = "mm_safetybench"
TITLE = "MM-SafetyBench"
URL = "https://github.com/isXinLiu/MM-SafetyBench"
LICENSE = "CC BY-NC 4.0"
FOLDER = "MM-SafetyBench"
DOWNLOAD = f"clone {URL} and unzip the images its README links to (as data/imgs/)"

# The scenario names as released, typos included.
SCENARIOS = (
    "01-Illegal_Activitiy",
    "02-HateSpeech",
    "03-Malware_Generation",
    "04-Physical_Harm",
    "05-EconomicHarm",
    "06-Fraud",
    "07-Sex",
    "08-Political_Lobbying",
    "09-Privacy_Violence",
    "10-Legal_Opinion",
    "11-Financial_Advice",
    "12-Health_Consultation",
    "13-Gov_Decision",
)
IMAGE_ROOTS = ("data/imgs", "MM-SafetyBench(imgs)")
TINY = "TinyVersion_ID_List.json"


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    images: Literal["SD_TYPO", "TYPO", "SD"] = "SD_TYPO"
    tiny: bool = False  # only the ids TinyVersion_ID_List.json samples


def read(source: Source, options: Options) -> None:
    tiny = _tiny_ids(source) if options.tiny else None
    if tiny is None and options.tiny:
        return
    field = "Rephrased Question(SD)" if options.images == "SD" else "Rephrased Question"
    images = source.first(*IMAGE_ROOTS)
    for scenario in SCENARIOS:
        index = f"data/processed_questions/{scenario}.json"
        records = source.json(index)
        if records is None:
            continue
        if not isinstance(records, dict):
            source.problem(str(source.root / index), "expected an object of id: record")
            continue
        for key, record in sorted(records.items(), key=lambda item: _number(item[0])):
            if tiny is not None and key not in tiny.get(scenario, ()):
                continue
            where = source.where(index, f"id {key!r}")
            if not isinstance(record, dict) or not isinstance(record.get(field), str):
                source.problem(where, f"expected an object with a {field!r} string")
                continue
            source.add(
                where,
                id=f"{scenario}-{key}",
                question=record[field],
                image=f"{images}/{scenario}/{options.images}/{key}.jpg",
                harmful=True,
                category=scenario,
                meta={**record, "scenario": scenario, "index": key, "images": options.images},
            )


def _tiny_ids(source: Source) -> dict[str, set[str]] | None:
    listed = source.json(TINY)
    if listed is None:
        return None
    ids: dict[str, set[str]] = {}
    for number, entry in enumerate(listed if isinstance(listed, list) else [None]):
        if not (isinstance(entry, dict) and isinstance(entry.get("Sampled_ID_List"), list)):
            source.problem(
                source.where(TINY, f"entry {number}"), "expected Scenario, Sampled_ID_List"
            )
            continue
        ids.setdefault(str(entry.get("Scenario")), set()).update(map(str, entry["Sampled_ID_List"]))
    return ids


def _number(key: str) -> tuple[int, Any]:
    # isdecimal, not isdigit: "²" is a digit that int() refuses
    return (0, int(key)) if key.isdecimal() else (1, key)
