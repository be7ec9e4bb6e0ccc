from .builders import release_props, violations, vllm_values

RULE = "vllm-timeouts-cover-loading-budget"


def test_each_environment_default_covers_its_budget():
    for environment in ("development", "staging", "production"):
        assert violations(RULE, release_props(environment)) == []


def test_startup_budget_below_the_size_budget_is_refused():
    values = vllm_values("staging", startup={"budgetSeconds": 600})
    assert violations(RULE, release_props("staging", values=values, timeout=4500)) == [
        'vLLM release "llama-13b-staging": startup.budgetSeconds is 600 but a medium model needs 2400 s to load; '
        'set startup.budgetSeconds >= 2400 so the startup probe does not kill a loading pod.']


def test_production_needs_a_longer_budget():
    values = vllm_values("production", startup={"budgetSeconds": 3600})
    assert violations(RULE, release_props("production", values=values)) == [
        'vLLM release "llama-70b-production": startup.budgetSeconds is 3600 but a large model in production needs '
        '1.5 x 3600 s = 5400 s to load; set startup.budgetSeconds >= 5400 so the startup probe does not kill a '
        'loading pod.']


def test_helm_timeout_shorter_than_the_startup_budget_is_refused():
    assert violations(RULE, release_props("staging", timeout=600)) == [
        'vLLM release "llama-13b-staging": Helm timeout is 600 s but the release waits for pods whose startup '
        'budget is 3600 s (a medium model needs 2400 s to load); set timeout >= 3600 (or skipAwait: true when the '
        'post-deploy verification does the waiting).']


def test_unset_helm_timeout_means_helms_300_seconds():
    assert "Helm timeout is not set (Helm waits 300 s)" in violations(RULE, release_props(timeout=None))[0]


def test_helm_timeout_does_not_matter_when_the_release_does_not_wait():
    assert violations(RULE, release_props(timeout=None, skipAwait=True)) == []


def test_missing_startup_budget_is_refused():
    assert "startup.budgetSeconds is (not set)" in violations(RULE, release_props(
        values=vllm_values(startup={"budgetSeconds": None})))[0]


def test_configured_factor_and_budgets_apply():
    config = {"productionBudgetFactor": 2.0}
    assert "2 x 3600 s = 7200 s" in violations(RULE, release_props("production"), config=config)[0]
    config = {"modelSizes": {"small": {"loadingBudgetSeconds": 1800}}}
    assert "a small model needs 1800 s to load" in violations(RULE, release_props(), config=config)[0]


def test_unknown_timeouts_skip_their_checks(unknown_values):
    values = vllm_values(startup={"budgetSeconds": unknown_values.number})
    assert violations(RULE, release_props(values=values, timeout=unknown_values.number)) == []
