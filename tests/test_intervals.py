"""mmsafe.run.intervals: known values, input checks, and coverage of the nominal 95%.

Coverage of rate and difference intervals is computed exactly, by enumerating every binomial
outcome weighted by its probability; that of weighted combinations of three sources by a seeded
Monte Carlo (and exactly where the outcome grid is small). Every interval type must cover the true
value at least 93% of the time at n in {2, 7, 13, 50, 200} and true rates in {0.05, 0.5}. A
deliberately bad interval shows that the coverage helpers can fail.

``python tests/test_intervals.py`` prints the coverage table (type x n x p -> coverage, width).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import pytest
from scipy.stats import binom, norm

from mmsafe.run.intervals import (
    LEVEL,
    _clopper_pearson,
    combination_interval,
    difference_interval,
    rate_interval,
)

NS = (2, 7, 13, 50, 200)
PS = (0.05, 0.5)
FLOOR = 0.93  # required coverage of the nominal 95%
DRAWS = 4000
SEED = 20240613

Interval = tuple[float, float]


# ---- coverage helpers ---------------------------------------------------------------------------


def rate_coverage(
    interval: Callable[[int, int], Interval], n: int, p: float
) -> tuple[float, float]:
    """Exact (coverage, mean width) of interval(x, n) for x ~ Binomial(n, p)."""
    pmf = binom.pmf(np.arange(n + 1), n, p)
    limits = np.array([interval(x, n) for x in range(n + 1)])
    covered = (limits[:, 0] <= p) & (p <= limits[:, 1])
    return float(pmf @ covered), float(pmf @ (limits[:, 1] - limits[:, 0]))


@cache
def _difference_grid(n1: int, n2: int, method: str = "mmsafe") -> np.ndarray:
    """Limits of the difference interval for every outcome (x1, x2): shape (n1+1, n2+1, 2)."""
    interval = difference_interval if method == "mmsafe" else wilson_mover_difference
    return np.array([[interval(x1, n1, x2, n2) for x2 in range(n2 + 1)] for x1 in range(n1 + 1)])


def difference_coverage(
    n1: int, p1: float, n2: int, p2: float, method: str = "mmsafe"
) -> tuple[float, float]:
    """Exact (coverage, mean width) of the p1 - p2 interval over all outcomes of both arms."""
    limits = _difference_grid(n1, n2, method)
    prob = np.outer(binom.pmf(np.arange(n1 + 1), n1, p1), binom.pmf(np.arange(n2 + 1), n2, p2))
    d = p1 - p2
    covered = (limits[..., 0] <= d) & (d <= limits[..., 1])
    return float((prob * covered).sum()), float((prob * (limits[..., 1] - limits[..., 0])).sum())


def combination_coverage_mc(
    ns: Sequence[int],
    ps: Sequence[float],
    weights: Sequence[float],
    draws: int = DRAWS,
    interval: Callable[..., Interval] = combination_interval,
) -> tuple[float, float]:
    """Monte Carlo (coverage, mean width) of combination_interval, seeded, so deterministic.

    Each distinct outcome is evaluated once and weighted by how often it was drawn.
    """
    rng = np.random.default_rng(SEED)
    outcomes = rng.binomial(list(ns), list(ps), size=(draws, len(ns)))
    rows, counts = np.unique(outcomes, axis=0, return_counts=True)
    theta = float(np.dot(weights, ps))
    covered = width = 0.0
    for row, count in zip(rows, counts, strict=True):
        lo, hi = interval(list(zip(row.tolist(), ns, strict=True)), weights)
        covered += count * (lo <= theta <= hi)
        width += count * (hi - lo)
    return covered / draws, width / draws


def combination_coverage_exact(
    ns: Sequence[int], ps: Sequence[float], weights: Sequence[float]
) -> float:
    """Exact coverage of combination_interval by enumerating every outcome (small n only)."""
    pmfs = [binom.pmf(np.arange(n + 1), n, p) for n, p in zip(ns, ps, strict=True)]
    theta = float(np.dot(weights, ps))
    total = 0.0
    for xs in itertools.product(*(range(n + 1) for n in ns)):
        lo, hi = combination_interval(list(zip(xs, ns, strict=True)), weights)
        if lo <= theta <= hi:
            total += math.prod(pmf[x] for pmf, x in zip(pmfs, xs, strict=True))
    return total


# ---- deliberately bad or weaker intervals, to show the helpers can fail ------------------------

Z = float(norm.ppf(0.975))


def wald_interval(x: int, n: int) -> Interval:
    """p_hat +- z sqrt(p_hat (1 - p_hat) / n): zero width at x = 0, known to undercover."""
    p = x / n
    half = Z * math.sqrt(p * (1 - p) / n)
    return max(0.0, p - half), min(1.0, p + half)


def wilson_interval(x: int, n: int) -> Interval:
    """Wilson score interval (no continuity correction)."""
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_mover_difference(x1: int, n1: int, x2: int, n2: int) -> Interval:
    """Newcombe's method 10: square-and-add on plain Wilson limits."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1)
    l2, u2 = wilson_interval(x2, n2)
    d = p1 - p2
    return d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def test_coverage_helpers_catch_a_bad_interval():
    # Wald at n = 2, p = 0.05: x = 0 gives [0, 0] and x = 2 gives [1, 1], both missing 0.05;
    # only x = 1 (probability 2 * 0.05 * 0.95) gives [0, 1], which covers it
    coverage, _ = rate_coverage(wald_interval, 2, 0.05)
    assert coverage == pytest.approx(2 * 0.05 * 0.95) and coverage < FLOOR
    coverage, width = rate_coverage(lambda x, n: (x / n, x / n), 2, 0.05)
    assert coverage < FLOOR and width == 0.0
    # plain Wilson (and Newcombe's method 10 built on it) dip below the floor at n = 2
    assert rate_coverage(wilson_interval, 2, 0.05)[0] == pytest.approx(0.9025)
    assert difference_coverage(2, 0.5, 2, 0.5, method="wilson")[0] < FLOOR

    # the Monte Carlo helper fails a zero-width interval at the estimate, on the same draws on
    # which the module's interval passes
    def point(parts, weights):
        est = sum(w * x / n for (x, n), w in zip(parts, weights, strict=True))
        return est, est

    assert combination_coverage_mc([2, 2, 2], [0.05] * 3, MEAN3, interval=point)[0] < FLOOR
    assert combination_coverage_mc([2, 2, 2], [0.05] * 3, MEAN3)[0] >= FLOOR


# ---- coverage of the module's intervals ---------------------------------------------------------


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("n", NS)
def test_rate_interval_coverage(n, p):
    coverage, _ = rate_coverage(rate_interval, n, p)
    assert coverage >= FLOOR, f"rate n={n} p={p}: coverage {coverage:.4f}"


P_PAIRS = list(itertools.product(PS, PS))  # p1 = p2 = p, and p1 = p with p2 the other one


@pytest.mark.parametrize("p1,p2", P_PAIRS)
@pytest.mark.parametrize("n", NS)
def test_difference_interval_coverage_equal_arms(n, p1, p2):
    coverage, _ = difference_coverage(n, p1, n, p2)
    assert coverage >= FLOOR, f"difference n={n},{n} p={p1},{p2}: coverage {coverage:.4f}"


@pytest.mark.parametrize("p1,p2", P_PAIRS)
@pytest.mark.parametrize("n", NS)
def test_difference_interval_coverage_unequal_arms(n, p1, p2):
    coverage, _ = difference_coverage(n, p1, 2 * n, p2)
    assert coverage >= FLOOR, f"difference n={n},{2 * n} p={p1},{p2}: coverage {coverage:.4f}"


# Monte Carlo error: with 4000 draws the standard error of a coverage near 0.95 is
# sqrt(0.95 * 0.05 / 4000) ~ 0.0034. Exact coverage of these cases is >= 0.954 (measured by full
# enumeration when the method was chosen), about 7 standard errors above the 0.93 floor, so a
# failure means a real regression, not bad luck; the seed makes the draws repeatable anyway.

MEAN3 = [1 / 3] * 3


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("n", NS)
def test_combination_mean_of_three_equal_n(n, p):
    coverage, _ = combination_coverage_mc([n] * 3, [p] * 3, MEAN3)
    assert coverage >= FLOOR, f"mean of 3, n={n} p={p}: MC coverage {coverage:.4f}"


@pytest.mark.parametrize("ps", list(itertools.product(PS, repeat=3)))
def test_combination_mean_of_three_unequal_n(ps):
    coverage, _ = combination_coverage_mc([2, 13, 50], ps, MEAN3)
    assert coverage >= FLOOR, f"mean of 3, n=2,13,50 p={ps}: MC coverage {coverage:.4f}"


@pytest.mark.parametrize("p1,p2", P_PAIRS)
@pytest.mark.parametrize("n", NS)
def test_combination_contrast(n, p1, p2):
    coverage, _ = combination_coverage_mc([n, n], [p1, p2], [1.0, -1.0])
    assert coverage >= FLOOR, f"contrast n={n} p={p1},{p2}: MC coverage {coverage:.4f}"


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("n", [2, 7, 13])
def test_combination_exact_coverage_small_n(n, p):
    # where the outcome grid is small, no Monte Carlo error: every outcome of the three sources
    assert combination_coverage_exact([n] * 3, [p] * 3, MEAN3) >= FLOOR
    assert combination_coverage_exact([n] * 3, [p] * 3, [1.0, -0.5, -0.5]) >= FLOOR


# ---- known values -------------------------------------------------------------------------------


def test_clopper_pearson_known_values():
    lo, hi = rate_interval(0, 10)
    assert (
        lo == 0.0
        and hi == pytest.approx(1 - 0.025 ** (1 / 10))
        and hi == pytest.approx(0.3085, abs=1e-4)
    )
    lo, hi = rate_interval(10, 10)
    assert (
        hi == 1.0
        and lo == pytest.approx(0.025 ** (1 / 10))
        and lo == pytest.approx(0.6915, abs=1e-4)
    )
    # textbook values: 1/10 -> (0.0025, 0.4450), 3/10 -> (0.0667, 0.6525)
    assert rate_interval(1, 10) == pytest.approx((0.002529, 0.445016), abs=1e-6)
    assert rate_interval(3, 10) == pytest.approx((0.066739, 0.652453), abs=1e-6)
    # a 99% interval is wider than the 95% one
    lo99, hi99 = rate_interval(3, 10, level=0.99)
    assert lo99 < 0.066739 and hi99 > 0.652453
    assert LEVEL == 0.95


def test_values_are_python_floats_and_ints_may_be_numpy():
    for result in (
        rate_interval(np.int64(3), np.int64(10)),
        difference_interval(3, 10, 5, 12),
        combination_interval([(1, 4), (np.int32(2), 9)], [np.float64(0.5), 0.5]),
    ):
        assert all(type(v) is float for v in result)
    assert rate_interval(np.int64(3), np.int64(10)) == rate_interval(3, 10)


def test_degenerate_n_zero():
    assert rate_interval(0, 0) == (0.0, 1.0)
    assert difference_interval(0, 0, 0, 0) == (-1.0, 1.0)
    # an empty arm leaves its rate anywhere in [0, 1]: p1 - p2 in [l1 - 1, u1]
    l1, u1 = rate_interval(4, 10)
    assert difference_interval(4, 10, 0, 0) == pytest.approx((l1 - 1, u1))
    assert combination_interval([(0, 0), (0, 0)], [0.5, 0.5]) == (0.0, 1.0)
    assert combination_interval([(0, 0)], [-2.0]) == (-2.0, 0.0)


def test_mover_reduces_to_clopper_pearson_for_one_part():
    for x, n in [(0, 5), (3, 10), (7, 7), (20, 200)]:
        lo, hi = rate_interval(x, n)
        assert combination_interval([(x, n)], [1.0]) == pytest.approx((lo, hi), abs=1e-12)
        assert combination_interval([(x, n)], [2.0]) == pytest.approx((2 * lo, 2 * hi), abs=1e-12)
        assert combination_interval([(x, n)], [-1.0]) == pytest.approx((-hi, -lo), abs=1e-12)


def test_difference_is_a_contrast_and_antisymmetric():
    assert difference_interval(3, 10, 8, 20) == combination_interval([(3, 10), (8, 20)], [1, -1])
    lo, hi = difference_interval(3, 10, 8, 20)
    assert difference_interval(8, 20, 3, 10) == pytest.approx((-hi, -lo), abs=1e-12)
    lo, hi = difference_interval(5, 10, 5, 10)
    assert lo == pytest.approx(-hi) and lo < 0 < hi


def test_results_stay_in_the_parameter_range():
    for n1, n2 in [(1, 1), (2, 7), (13, 13)]:
        for x1 in range(n1 + 1):
            for x2 in range(n2 + 1):
                lo, hi = rate_interval(x1, n1)
                assert 0.0 <= lo <= x1 / n1 <= hi <= 1.0
                lo, hi = difference_interval(x1, n1, x2, n2)
                assert -1.0 <= lo <= x1 / n1 - x2 / n2 <= hi <= 1.0
                weights = [0.7, -0.2, 1.5]
                lo, hi = combination_interval([(x1, n1), (x2, n2), (n2, n2)], weights)
                est = 0.7 * x1 / n1 - 0.2 * x2 / n2 + 1.5
                assert -0.2 <= lo <= est + 1e-12 and est - 1e-12 <= hi <= 2.2
    # the extremes are reached exactly
    assert difference_interval(10, 10, 0, 10)[1] == 1.0
    assert difference_interval(0, 10, 10, 10)[0] == -1.0
    assert combination_interval([(4, 4)] * 3, MEAN3)[1] == 1.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rate_interval(-1, 5), "successes must be in"),
        (lambda: rate_interval(6, 5), "successes must be in"),
        (lambda: rate_interval(0, -1), "n must be >= 0"),
        (lambda: rate_interval(1.5, 5), "must be integers"),
        (lambda: rate_interval(1, 5, level=0.0), "level must be"),
        (lambda: rate_interval(1, 5, level=1.0), "level must be"),
        (lambda: rate_interval(1, 5, level=float("nan")), "level must be"),
        (lambda: difference_interval(3, 2, 0, 1), "successes must be in"),
        (lambda: difference_interval(0, 1, 0, -2), "n must be >= 0"),
        (lambda: combination_interval([(1, 2)], [1.0, 2.0]), "differ in length"),
        (lambda: combination_interval([], []), "at least one part"),
        (lambda: combination_interval([(1, 2)], [math.inf]), "weights must be finite"),
        (lambda: combination_interval([(1, 2, 3)], [1.0]), "must be a pair"),
        (lambda: combination_interval([(3, 2)], [1.0]), "successes must be in"),
    ],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_limits_are_cached():
    _clopper_pearson.cache_clear()
    for _ in range(3):
        rate_interval(3, 10)
        difference_interval(3, 10, 4, 11)
    info = _clopper_pearson.cache_info()
    assert info.misses == 2 and info.hits >= 4


# ---- the coverage table -------------------------------------------------------------------------


def coverage_table(draws: int = 20000) -> list[tuple[str, str, str, str, float, float]]:
    """Rows (type, n, p, how, coverage, mean width) over the test grid."""
    rows = []
    for n, p in itertools.product(NS, PS):
        rows.append(("rate", f"{n}", f"{p}", "exact", *rate_coverage(rate_interval, n, p)))
    for (n, k), (p1, p2) in itertools.product(itertools.product(NS, (1, 2)), P_PAIRS):
        cov = difference_coverage(n, p1, k * n, p2)
        kind = "difference" if k == 1 else "difference n,2n"
        rows.append((kind, f"{n},{k * n}", f"{p1},{p2}", "exact", *cov))
    for n, p in itertools.product(NS, PS):
        cov = combination_coverage_mc([n] * 3, [p] * 3, MEAN3, draws)
        rows.append(("mean of 3", f"{n}x3", f"{p}", f"MC {draws}", *cov))
    for ps in itertools.product(PS, repeat=3):
        cov = combination_coverage_mc([2, 13, 50], ps, MEAN3, draws)
        rows.append(("mean of 3 unequal n", "2,13,50", ",".join(map(str, ps)), f"MC {draws}", *cov))
    for n, (p1, p2) in itertools.product(NS, P_PAIRS):
        cov = combination_coverage_mc([n, n], [p1, p2], [1.0, -1.0], draws)
        rows.append(("contrast (1,-1)", f"{n},{n}", f"{p1},{p2}", f"MC {draws}", *cov))
    return rows


def print_coverage_table(draws: int = 20000) -> None:
    rows = coverage_table(draws)
    print(f"{'type':22} {'n':>9} {'p':>16} {'how':>9} {'coverage':>9} {'width':>7}")
    for kind, n, p, how, cov, width in rows:
        print(f"{kind:22} {n:>9} {p:>16} {how:>9} {cov:9.4f} {width:7.4f}")
    print("\nminimum coverage per type (nominal 0.95, floor 0.93):")
    for kind in dict.fromkeys(r[0] for r in rows):
        worst = min((r for r in rows if r[0] == kind), key=lambda r: r[4])
        print(f"  {kind:22} {worst[4]:.4f} at n={worst[1]} p={worst[2]}")


if __name__ == "__main__":
    print_coverage_table()
