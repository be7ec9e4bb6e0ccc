from pulumi_policy import EnforcementLevel

from .builders import policy_named, release_props, violations, vllm_values

RULE = "vllm-pod-security"


def test_is_advisory_by_default():
    assert policy_named(RULE).enforcement_level == EnforcementLevel.ADVISORY


def test_hardened_context_and_chart_defaults_pass():
    assert violations(RULE, release_props()) == []
    assert violations(RULE, release_props(values=vllm_values(securityContext=None))) == []


def test_privilege_escalation_is_reported():
    values = vllm_values(securityContext={"allowPrivilegeEscalation": True})
    assert violations(RULE, release_props(values=values)) == [
        'vLLM release "llama-7b-development": securityContext.allowPrivilegeEscalation is True; set it to false.']


def test_capabilities_not_dropped_are_reported():
    values = vllm_values(securityContext={"capabilities": {"drop": ["NET_RAW"], "add": ["IPC_LOCK"]},
                                          "privileged": True})
    found = violations(RULE, release_props(values=values))
    assert found == [
        'vLLM release "llama-7b-development": securityContext.privileged is true; remove it (vLLM needs GPUs, not '
        'a privileged pod).',
        'vLLM release "llama-7b-development": securityContext.capabilities.drop is [\'NET_RAW\']; drop ["ALL"] and '
        'add back only what the image needs.',
        'vLLM release "llama-7b-development": securityContext.capabilities.add is [\'IPC_LOCK\']; keep it empty '
        'unless the vLLM image needs it (then record the exception with this policy\'s enforcement level).']
