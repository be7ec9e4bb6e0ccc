import pytest

from .builders import release_props, violations, vllm_values


def test_production_defaults_pass_every_production_rule():
    for rule in ("vllm-production-helm-atomic", "vllm-production-gpu-safe-rollout",
                 "vllm-production-disruption-budget"):
        assert violations(rule, release_props("production")) == []


@pytest.mark.parametrize("environment", ["development", "staging"])
def test_production_rules_ignore_other_environments(environment):
    values = vllm_values(environment, replicaCount=3, podDisruptionBudget={"enabled": False},
                         rollout={"mode": "recreate"})
    props = release_props(environment, values=values, atomic=False)
    for rule in ("vllm-production-helm-atomic", "vllm-production-gpu-safe-rollout",
                 "vllm-production-disruption-budget"):
        assert violations(rule, props) == []


RECREATE = {"rollout": {"mode": "recreate"}}


def test_non_atomic_production_release_is_refused():
    props = release_props("production", values=vllm_values("production", **RECREATE), atomic=False,
                          cleanupOnFail=False)
    assert violations("vllm-production-helm-atomic", props) == [
        'vLLM release "llama-70b-production": production Helm release is not atomic (atomic is False); set atomic: '
        'true so a failed install or upgrade rolls back to the last good revision, or set cleanupOnFail: true and '
        'accept it explicitly with this policy\'s config {"acceptCleanupOnFail": true}.']


def test_verified_rollout_needs_no_atomic_release():
    # Helm must not wait in the verified rollout; a failed update leaves the previous revision serving.
    props = release_props("production", atomic=False, cleanupOnFail=False, skipAwait=True)
    assert violations("vllm-production-helm-atomic", props) == []


def test_cleanup_on_fail_is_an_alternative_only_when_accepted_in_config():
    props = release_props("production", values=vllm_values("production", **RECREATE), atomic=False,
                          cleanupOnFail=True)
    assert violations("vllm-production-helm-atomic", props)
    assert violations("vllm-production-helm-atomic", props, config={"acceptCleanupOnFail": True}) == []


def test_verified_rollout_passes_the_safe_rollout_rule():
    assert violations("vllm-production-gpu-safe-rollout", release_props("production")) == []


@pytest.mark.parametrize("values", [RECREATE, {"rollout": {}}])
def test_production_recreate_is_refused_with_both_choices(values):
    props = release_props("production", values=vllm_values("production", **values))
    if values == {"rollout": {}}:  # no mode: the chart default, recreate
        props["values"].pop("rollout")
    assert violations("vllm-production-gpu-safe-rollout", props) == [
        'vLLM release "llama-70b-production": production rollout.mode is "recreate": an update deletes the '
        'serving pods before the new revision has loaded and passed the verification, so the model is down during '
        'every update and a failed update leaves nothing serving. Set vllm-deploy:release.rollout: verified (an '
        'update then needs GPUs for one extra pod), or accept the downtime explicitly with this policy\'s config '
        '{"acceptDowntime": true}.']


def test_production_recreate_passes_when_downtime_is_accepted_explicitly():
    props = release_props("production", values=vllm_values("production", **RECREATE))
    assert violations("vllm-production-gpu-safe-rollout", props, config={"acceptDowntime": True}) == []


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
                         rollout={"mode": unknown_values.string})
    props = release_props("production", values=values, atomic=unknown_values.string)
    for rule in ("vllm-production-helm-atomic", "vllm-production-gpu-safe-rollout",
                 "vllm-production-disruption-budget"):
        assert violations(rule, props) == []
