"""Expected calibration error, Brier score, AUROC and the reliability diagram."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from mmsafe.run.calibration import (
    auroc,
    brier_score,
    calibration_summary,
    expected_calibration_error,
    reliability_diagram,
    summary_line,
)


@pytest.mark.parametrize(
    ("confidence", "correct", "ece"),
    [
        ([0.9] * 10, [True] * 9 + [False], 0.0),  # right 90% of the time at 90%: calibrated
        ([1.0] * 4, [False] * 4, 1.0),  # certain and always wrong
        ([0.2, 0.2, 0.8, 0.8], [False, False, True, False], 0.25),  # 0.5*0.2 + 0.5*0.3
        ([0.0, 0.55], [False, True], 0.225),  # (0 + 0.45) / 2
    ],
)
def test_ece_on_known_cases(confidence, correct, ece) -> None:
    assert expected_calibration_error(confidence, correct) == pytest.approx(ece)


def test_summary_has_point_figures_and_the_bins(tmp_path) -> None:
    summary = calibration_summary([0.9] * 5 + [0.6] * 5, [True] * 5 + [False] * 5)
    assert summary["ece"] == {"mean": pytest.approx(0.5 * 0.1 + 0.5 * 0.6), "n": 10}
    assert summary["brier"] == {"mean": pytest.approx((5 * 0.01 + 5 * 0.36) / 10), "n": 10}
    assert summary["auroc"] == {"mean": 1.0, "n": 10}
    assert all("ci" not in figure for figure in summary.values() if isinstance(figure, dict))
    assert [b["low"] for b in summary["bins"]] == [0.6, 0.9]
    assert json.loads(json.dumps(summary)) == summary  # plain JSON types only
    path = reliability_diagram(tmp_path / "r.png", summary, "demo")
    image = cv2.imread(str(path))
    assert image is not None and image.shape == (360, 360, 3)
    with pytest.raises(ValueError, match="no answers"):
        expected_calibration_error([], [])


def test_a_chance_level_answerer_is_not_reported_as_well_calibrated() -> None:
    # right half the time by chance, always saying 0.5: ECE cannot tell this from skill
    correct = np.random.default_rng(7).random(400) < 0.5
    summary = calibration_summary([0.5] * 400, correct)
    assert summary["ece"]["mean"] < 0.06
    assert summary["auroc"]["mean"] == pytest.approx(0.5, abs=0.08)
    assert summary["brier"]["mean"] == pytest.approx(0.25)
    assert summary["discriminates"] is False


def test_a_chance_level_answerer_with_random_confidence_does_not_discriminate() -> None:
    rng = np.random.default_rng(11)
    correct = rng.random(400) < 0.5
    confidence = rng.uniform(0.3, 0.7, 400)  # varies, but unrelated to being right
    summary = calibration_summary(confidence, correct)
    assert summary["auroc"]["mean"] == pytest.approx(0.5, abs=0.08)
    assert summary["discriminates"] is False


def test_an_informative_answerer_discriminates() -> None:
    rng = np.random.default_rng(3)
    correct = rng.random(400) < 0.6
    confidence = np.clip(np.where(correct, 0.8, 0.4) + rng.normal(0, 0.1, 400), 0, 1)
    summary = calibration_summary(confidence, correct)
    assert summary["auroc"]["mean"] > 0.8
    assert summary["discriminates"] is True


def test_brier_of_confident_answers() -> None:
    assert brier_score([1.0, 0.0, 1.0], [True, False, True]) == 0.0
    assert brier_score([1.0, 0.0, 1.0], [False, True, False]) == 1.0
    assert brier_score([0.5] * 4, [True, False, True, True]) == pytest.approx(0.25)


def test_auroc_is_unknown_without_both_right_and_wrong_answers() -> None:
    assert auroc([0.9, 0.7, 0.3], [True] * 3) is None
    assert auroc([0.9, 0.7, 0.3], [False] * 3) is None
    summary = calibration_summary([0.9, 0.7, 0.3], [True] * 3)
    assert summary["auroc"] == {"mean": None, "n": 3} and summary["discriminates"] is False
    assert "AUROC -" in summary_line(summary)


@pytest.mark.parametrize(
    ("confidence", "correct", "area"),
    [
        ([0.7] * 6, [True, False, True, False, False, True], 0.5),  # all tied: 1/2 each
        ([0.9, 0.1], [True, False], 1.0),
        ([0.1, 0.9], [True, False], 0.0),
        ([0.8, 0.5, 0.5, 0.2], [True, True, False, False], (1 + 1 + 1 + 0.5) / 4),
    ],
)
def test_auroc_counts_ties_as_half(confidence, correct, area) -> None:
    assert auroc(confidence, correct) == pytest.approx(area)


def test_auroc_agrees_with_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(5)
    confidence = rng.integers(0, 5, 300) / 4  # many ties
    correct = rng.random(300) < 0.3 + 0.4 * confidence
    assert auroc(confidence, correct) == pytest.approx(roc_auc_score(correct, confidence))


def test_the_diagram_line_names_all_three_figures() -> None:
    summary = calibration_summary([0.9] * 5 + [0.6] * 5, [True] * 5 + [False] * 5)
    assert summary_line(summary) == "ECE 0.350  Brier 0.185  AUROC 1.00  n=10"


def test_two_answers_are_too_few_to_discriminate() -> None:
    summary = calibration_summary([0.9, 0.1], [True, False])
    assert summary["auroc"]["mean"] == 1.0 and summary["discriminates"] is False
