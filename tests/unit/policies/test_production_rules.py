import pytest

from .builders import release_props, violations, vllm_values


def test_production_defaults_pass_every_production_rule():
    for rule in ("vllm-production-helm-atomic", "vllm-production-gpu-safe-rollout",
                 "vllm-production-disruption-budget"):
        assert violations(rule, release_props("production")) == []


@pytest.mark.parametrize("environment", ["development", "staging"])
def test_production_rules_ignore_other_environments(environment):
    values = vllm_values(environment, replicaCount=3, podDisruptionBudget={"enabled": False},
                         strategy={"type": "RollingUpdate"})
    props = release_props(environment, values=values, atomic=False)
    for rule in ("vllm-production-helm-atomic", "vllm-production-gpu-safe-rollout",
                 "vllm-production-disruption-budget"):
        assert violations(rule, props) == []


def test_non_atomic_production_release_is_refused():
    props = release_props("production", atomic=False, cleanupOnFail=False)
    assert violations("vllm-production-helm-atomic", props) == [
        'vLLM release "llama-70b-production": production Helm release is not atomic (atomic is False); set atomic: '
        'true so a failed install or upgrade rolls back to the last good revision, or set cleanupOnFail: true and '
        'accept it explicitly with this policy\'s config {"acceptCleanupOnFail": true}.']


def test_cleanup_on_fail_is_an_alternative_only_when_accepted_in_config():
    props = release_props("production", atomic=False, cleanupOnFail=True)
    assert violations("vllm-production-helm-atomic", props)
    assert violations("vllm-production-helm-atomic", props, config={"acceptCleanupOnFail": True}) == []


@pytest.mark.parametrize("strategy", [
    {"type": "Recreate"},
    {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
    {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "0%", "maxUnavailable": 1}},
])
def test_gpu_safe_rollouts_pass(strategy):
    props = release_props("production", values=vllm_values("production", strategy=strategy))
    assert violations("vllm-production-gpu-safe-rollout", props) == []


def test_surging_rolling_update_is_refused():
    values = vllm_values("production", strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}})
    assert violations("vllm-production-gpu-safe-rollout", release_props("production", values=values)) == [
        'vLLM release "llama-70b-production": production rollout is RollingUpdate with '
        'strategy.rollingUpdate.maxSurge 1; a surge pod needs a spare GPU and the rollout stalls without one: set '
        'maxSurge: 0 (with maxUnavailable: 1) or strategy.type: Recreate.']


def test_rolling_update_with_the_default_surge_is_refused():
    values = vllm_values("production", strategy={"type": "RollingUpdate"})
    found = violations("vllm-production-gpu-safe-rollout", release_props("production", values=values))
    assert "maxSurge not set (Kubernetes defaults to 25%)" in found[0]


def test_multiple_replicas_without_a_disruption_budget_are_refused():
    values = vllm_values("production", podDisruptionBudget={"enabled": False})
    assert violations("vllm-production-disruption-budget", release_props("production", values=values)) == [
        'vLLM release "llama-70b-production": production runs replicaCount 2 without a PodDisruptionBudget '
        '(podDisruptionBudget.enabled is False); set podDisruptionBudget.enabled: true so node drains keep serving '
        'replicas.']


def test_a_single_replica_needs_no_disruption_budget():
    values = vllm_values("production", replicaCount=1, podDisruptionBudget={"enabled": False})
    assert violations("vllm-production-disruption-budget", release_props("production", values=values)) == []


def test_unknown_settings_skip_production_checks(unknown_values):
    values = vllm_values("production", replicaCount=unknown_values.number,
                         strategy={"rollingUpdate": {"maxSurge": unknown_values.string}, "type": "RollingUpdate"})
    props = release_props("production", values=values, atomic=unknown_values.string)
    for rule in ("vllm-production-helm-atomic", "vllm-production-gpu-safe-rollout",
                 "vllm-production-disruption-budget"):
        assert violations(rule, props) == []
