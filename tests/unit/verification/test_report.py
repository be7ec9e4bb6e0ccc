import pytest

from components.verification.checks import FAILED, PASSED, SKIPPED, CheckResult, all_passed, skipped_after
from components.verification.report import describe_latency, render_table, seconds, summary_outputs
from components.verification.stats import summarize


def test_check_result_rejects_unknown_status():
    with pytest.raises(ValueError, match="not one of"):
        CheckResult("x", "ok", "a", "b")


def test_all_passed_needs_at_least_one_and_every_check_passed():
    assert not all_passed([])
    assert all_passed([CheckResult("a", PASSED, "", "")])
    assert not all_passed([CheckResult("a", PASSED, "", ""), skipped_after("b", "e", "why")])


def test_skipped_after_says_why():
    result = skipped_after("GET /ready", "HTTP 200", "the pods are not Ready")
    assert result.status == SKIPPED and result.observed == "not run: the pods are not Ready"


def test_render_table_aligns_columns_and_keeps_the_observed_text_whole():
    rows = [
        CheckResult("pod Running", PASSED, "1 current-revision pod(s) Running", "1/1 Running"),
        CheckResult(
            "completion latency p95", FAILED, "p95 <= 3.00s (N=20)", "p95 3.41s > 3.00s (N=20, p50 1.20s, max 4.02s)"
        ),
    ]
    table = render_table(rows).splitlines()
    assert table[0].split() == ["CHECK", "STATUS", "EXPECTED", "OBSERVED"]
    assert table[0].index("STATUS") == table[1].index("passed") == table[2].index("failed")
    assert table[2].endswith("p95 3.41s > 3.00s (N=20, p50 1.20s, max 4.02s)")


def test_summary_outputs_are_plain_dicts():
    assert summary_outputs([CheckResult("a", PASSED, "e", "o")]) == [
        {"name": "a", "status": "passed", "expected": "e", "observed": "o"}
    ]


def test_describe_latency_failure_in_the_issue_format():
    summary = summarize([1.2] * 18 + [3.41, 4.02], limit=3.0)
    assert describe_latency(summary) == "p95 3.41s > 3.00s (N=20, p50 1.20s, max 4.02s)"


def test_describe_latency_pass():
    assert describe_latency(summarize([0.5] * 20, 3.0)) == "p95 0.50s <= 3.00s (N=20, p50 0.50s, max 0.50s)"


def test_describe_latency_early_stop():
    text = describe_latency(summarize([3.5, 0.2, 3.2], 3.0, planned=20))
    assert text == "p95 >= 3.20s > 3.00s (stopped early after 3 of 20: 2 over 3.00s, p50 3.20s, max 3.50s)"


def test_seconds_keep_small_values_readable():
    assert seconds(3.414) == "3.41s" and seconds(0.0) == "0.00s" and seconds(0.05) == "0.05s"
    assert seconds(0.001234) == "0.00123s" and seconds(1e-06) == "1e-06s"


def test_latency_with_unanswered_samples_says_why():
    text = describe_latency(summarize([0.5] * 18, limit=3.0, failed=2))
    assert text == ("p95 no answer > 3.00s (N=20, 2 without an answer: connection dropped after the request was sent, "
                    "counted as over the limit; 0 of 18 answered over the limit, p50 0.50s, max 0.50s)")
