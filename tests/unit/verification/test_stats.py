import math

import pytest

from components.verification.stats import (
    allowed_exceedances,
    nearest_rank,
    nearest_rank_index,
    p95_can_still_pass,
    p95_lower_bound,
    summarize,
)


def test_nearest_rank_index_matches_integer_formula_for_every_n_up_to_1000():
    for n in range(1, 1001):
        assert nearest_rank_index(n, 0.95) == (95 * n + 99) // 100 - 1
        assert nearest_rank_index(n, 0.5) == math.ceil(n / 2) - 1


@pytest.mark.parametrize(
    "n, index, allowed",
    [(19, 18, 0), (20, 18, 1), (21, 19, 1), (40, 37, 2), (59, 56, 2), (60, 56, 3), (1, 0, 0)],
)
def test_p95_rank_and_allowed_exceedances(n, index, allowed):
    assert nearest_rank_index(n, 0.95) == index
    assert allowed_exceedances(n) == allowed


def test_p95_at_19_is_the_maximum():
    samples = [0.1] * 18 + [9.0]
    assert nearest_rank(samples, 0.95) == 9.0


def test_p95_at_20_is_the_second_largest():
    samples = [0.1] * 18 + [2.5, 9.0]
    assert nearest_rank(samples, 0.95) == 2.5


def test_p95_at_21_is_the_second_largest():
    samples = [float(i) for i in range(1, 22)]  # 1..21
    assert nearest_rank(samples, 0.95) == 20.0


def test_nearest_rank_ignores_order():
    assert nearest_rank([3.0, 1.0, 2.0], 0.5) == 2.0


def test_nearest_rank_rejects_empty_and_bad_quantile():
    with pytest.raises(ValueError):
        nearest_rank([], 0.95)
    with pytest.raises(ValueError):
        nearest_rank_index(3, 0)
    with pytest.raises(ValueError):
        nearest_rank_index(3, 1.5)


@pytest.mark.parametrize(
    "n, exceeded, ok",
    [(19, 0, True), (19, 1, False), (20, 1, True), (20, 2, False), (21, 1, True), (21, 2, False)],
)
def test_p95_can_still_pass(n, exceeded, ok):
    assert p95_can_still_pass(exceeded, n) is ok


def test_lower_bound_after_early_stop_is_the_allowed_plus_one_largest():
    # N planned = 20 allows 1 exceedance: the final p95 is at least the 2nd largest seen so far
    assert p95_lower_bound([4.0, 0.1, 3.5], 20) == 3.5
    assert p95_lower_bound([4.0], 19) == 4.0


def test_summarize_full_run():
    samples = [1.0] * 18 + [3.41, 4.02]
    summary = summarize(samples, limit=3.0)
    assert (summary.n, summary.p50, summary.p95, summary.max, summary.exceeded) == (20, 1.0, 3.41, 4.02, 2)
    assert not summary.passed and not summary.stopped_early


def test_summarize_passes_at_limit_exactly():
    summary = summarize([3.0] * 20, limit=3.0)
    assert summary.passed


def test_summarize_early_stop_reports_a_lower_bound_and_fails():
    summary = summarize([3.2, 3.5], limit=3.0, planned=20)
    assert summary.stopped_early and summary.planned == 20 and summary.n == 2
    assert summary.p95 == 3.2
    assert not summary.passed


def test_unanswered_samples_count_as_over_the_limit():
    one = summarize([0.1] * 19, limit=3.0, failed=1)
    assert (one.n, one.failed, one.exceeded, one.passed) == (20, 1, 1, True)  # N=20 allows one
    assert one.p95 == 0.1 and one.max == 0.1
    two = summarize([0.1] * 18, limit=3.0, failed=2)
    assert two.p95 == math.inf and not two.passed and two.exceeded == 2


def test_only_unanswered_samples():
    summary = summarize([], limit=3.0, planned=3, failed=1)
    assert (summary.n, summary.p50, summary.max, summary.p95, summary.passed) == (1, 0.0, 0.0, math.inf, False)
