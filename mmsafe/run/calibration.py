"""Calibration of stated confidence: ECE, Brier score, AUROC and a reliability diagram.

ECE alone can be gamed by ignorance: an answerer right half the time that always says 0.5 has
ECE 0. So three figures are reported side by side, each as a point value with its n (the
project shows no interval whose coverage it has not tested):

- ECE (Naeini, Cooper & Hauskrecht, 2015, "Obtaining well calibrated probabilities using
  Bayesian binning"; Guo et al., 2017, "On calibration of modern neural networks"): split
  answers into equal-width confidence bins and average |accuracy - mean confidence| over bins,
  weighted by the share of answers in each. Lower is better.
- Brier score (Brier, 1950, "Verification of forecasts expressed in terms of probability",
  Monthly Weather Review 78(1)): the mean squared difference between confidence and 0/1
  correctness. It rewards both calibration and sharpness: the chance-level answerer above
  scores 0.25, a perfect confident one 0. Lower is better.
- AUROC of confidence against correctness (Hanley & McNeil, 1982, "The meaning and use of the
  area under a receiver operating characteristic (ROC) curve", Radiology 143(1)): the chance
  that a random right answer was stated with higher confidence than a random wrong one, ties
  counting 1/2 (the Mann-Whitney U statistic over n_right * n_wrong). 0.5 means confidence says
  nothing about being right. Unknown (None) when all answers are right or all wrong.

`discriminates` says whether confidence tells right from wrong answers at all: AUROC minus
1.96 Hanley-McNeil standard errors must clear 0.5. A chance-level answerer does not, however
small its ECE. The diagram is drawn with OpenCV, so no plotting library is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

BINS = 10
Z = 1.96  # one-sided check of AUROC's lower bound against 0.5
MIN_EACH = 5  # right and wrong answers each, before confidence can be said to tell them apart


def _arrays(confidence: Sequence[float], correct: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, bool)
    if len(confidence) == 0:
        raise ValueError("no answers with a stated confidence")
    if confidence.shape != correct.shape:
        raise ValueError("confidence and correct differ in length")
    return confidence, correct


def bin_stats(confidence: np.ndarray, correct: np.ndarray, bins: int = BINS):
    """Per bin: (count, mean confidence, accuracy); empty bins have count 0."""
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    count = np.bincount(index, minlength=bins)
    safe = np.maximum(count, 1)
    mean_conf = np.bincount(index, weights=confidence, minlength=bins) / safe
    accuracy = np.bincount(index, weights=correct.astype(float), minlength=bins) / safe
    return count, mean_conf, accuracy


def expected_calibration_error(
    confidence: Sequence[float], correct: Sequence[bool], bins: int = BINS
) -> float:
    confidence, correct = _arrays(confidence, correct)
    count, mean_conf, accuracy = bin_stats(confidence, correct, bins)
    return float(np.sum(count / len(confidence) * np.abs(accuracy - mean_conf)))


def brier_score(confidence: Sequence[float], correct: Sequence[bool]) -> float:
    """Mean squared error of confidence against correctness as 0/1 (Brier, 1950)."""
    confidence, correct = _arrays(confidence, correct)
    return float(np.mean((confidence - correct.astype(float)) ** 2))


def auroc(confidence: Sequence[float], correct: Sequence[bool]) -> float | None:
    """P(a random right answer has higher confidence than a random wrong one), ties 1/2;
    None when there is no right or no wrong answer to compare."""
    confidence, correct = _arrays(confidence, correct)
    n_right = int(correct.sum())
    n_wrong = len(correct) - n_right
    if n_right == 0 or n_wrong == 0:
        return None
    # average 1-based ranks, tied values sharing the mean of their ranks
    _, inverse, counts = np.unique(confidence, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2)[inverse.ravel()]
    u = ranks[correct].sum() - n_right * (n_right + 1) / 2  # Mann-Whitney U of the right ones
    return float(u / (n_right * n_wrong))


def auroc_standard_error(area: float, n_right: int, n_wrong: int) -> float:
    """Hanley & McNeil (1982), eq. 2, with Q1 = A/(2-A) and Q2 = 2A^2/(1+A)."""
    q1, q2 = area / (2 - area), 2 * area**2 / (1 + area)
    variance = (
        area * (1 - area) + (n_right - 1) * (q1 - area**2) + (n_wrong - 1) * (q2 - area**2)
    ) / (n_right * n_wrong)
    return float(np.sqrt(max(variance, 0.0)))


def calibration_summary(confidence: Sequence[float], correct: Sequence[bool]) -> dict:
    """For a run's metrics.json: {'ece', 'brier', 'auroc': {mean, n}, 'discriminates', 'bins'}.

    Point values with n, no intervals. `auroc.mean` is None when all answers are right or all
    wrong. `discriminates` is True only when there are at least MIN_EACH right and MIN_EACH
    wrong answers and AUROC - 1.96 * SE > 0.5, SE being the Hanley & McNeil (1982) standard
    error (a one-sided check at z = 1.96)."""
    confidence, correct = _arrays(confidence, correct)
    n = len(confidence)
    area = auroc(confidence, correct)
    discriminates = False
    n_right = int(correct.sum())
    # the standard error is no guide with a handful of either (it is 0 at an AUROC of 1)
    if area is not None and min(n_right, n - n_right) >= MIN_EACH:
        se = auroc_standard_error(area, n_right, n - n_right)
        discriminates = bool(area - Z * se > 0.5)
    count, mean_conf, accuracy = bin_stats(confidence, correct)
    return {
        "ece": {"mean": round(expected_calibration_error(confidence, correct), 6), "n": n},
        "brier": {"mean": round(brier_score(confidence, correct), 6), "n": n},
        "auroc": {"mean": None if area is None else round(area, 6), "n": n},
        "discriminates": discriminates,
        "bins": [
            {
                "low": i / BINS,
                "n": int(c),
                "confidence": round(float(m), 4),
                "accuracy": round(float(a), 4),
            }
            for i, (c, m, a) in enumerate(zip(count, mean_conf, accuracy, strict=True))
            if c
        ],
    }


def summary_line(summary: dict) -> str:
    """'ECE 0.050  Brier 0.210  AUROC 0.73  n=120' (AUROC '-' when unknown)."""
    area = summary["auroc"]["mean"]
    shown = "-" if area is None else f"{area:.2f}"
    return (
        f"ECE {summary['ece']['mean']:.3f}  Brier {summary['brier']['mean']:.3f}  "
        f"AUROC {shown}  n={summary['ece']['n']}"
    )


def reliability_diagram(path: Path, summary: dict, title: str, size: int = 360) -> Path:
    """Accuracy per confidence bin (bars) against the diagonal of perfect calibration."""
    margin, plot = 40, size - 100  # room for two lines of title above the plot
    image = np.full((size, size, 3), 255, np.uint8)
    x0, y0 = margin, size - margin

    def point(conf: float, acc: float) -> tuple[int, int]:
        return int(x0 + conf * plot), int(y0 - acc * plot)

    cv2.rectangle(image, point(0, 0), point(1, 1), (0, 0, 0), 1)
    for item in summary["bins"]:
        top_left = point(item["low"] + 0.005, item["accuracy"])
        bottom_right = point(item["low"] + 1 / BINS - 0.005, 0)
        cv2.rectangle(image, top_left, bottom_right, (200, 120, 40), -1)
        cv2.circle(image, point(item["confidence"], item["accuracy"]), 3, (0, 0, 0), -1)
    cv2.line(image, point(0, 0), point(1, 1), (60, 60, 220), 1, cv2.LINE_AA)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(image, title[:40], (8, 18), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    line = summary_line(summary)
    scale = 0.4
    (width, _), _ = cv2.getTextSize(line, font, scale, 1)
    if width > size - 16:  # a long n: shrink the line to fit rather than cut it
        scale *= (size - 16) / width
    cv2.putText(image, line, (8, 34), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, "confidence", (size // 2 - 35, size - 12), font, 0.4, (0, 0, 0), 1)
    cv2.putText(image, "accuracy", (2, y0 - plot - 6), font, 0.4, (0, 0, 0), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    if not cv2.imwrite(str(tmp), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    tmp.replace(path)
    return path
