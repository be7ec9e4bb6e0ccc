import pytest
from pulumi_policy import StackValidationPolicy

from .builders import policy_named, release_resource, stack_resource, stack_violations, verification_resource

RULE = "vllm-post-deploy-verification"


def test_is_a_stack_policy():
    assert isinstance(policy_named(RULE), StackValidationPolicy)


@pytest.mark.parametrize("via", ["depends_on", "revision"])
@pytest.mark.parametrize("environment", ["development", "staging", "production"])
def test_verification_depending_on_the_release_passes(environment, via):
    release = release_resource(environment)
    assert stack_violations([release, verification_resource(release, environment, via=via)]) == []


def test_release_without_verification_is_refused_on_the_release():
    release = release_resource()
    assert stack_violations([release]) == [(
        'vLLM release "llama-7b-development" has no post-deploy verification depending on it; add a '
        'DeploymentVerification (pulumi-python:dynamic/vllm:DeploymentVerification) with release_name '
        '"llama-7b-development" and depends_on=[the release] (or an input taken from the release, e.g. its '
        'revision).', release.urn)]


def test_verification_that_does_not_depend_on_the_release_does_not_count():
    release = release_resource()
    assert len(stack_violations([release, verification_resource(None)])) == 1


def test_loose_p95_limit_is_refused_on_the_verification():
    release = release_resource("production")
    verification = verification_resource(release, "production", p95_limit_seconds=5.0)
    assert stack_violations([release, verification]) == [(
        'DeploymentVerification "llama-70b-production-verification" of vLLM release "llama-70b-production": '
        'p95_limit_seconds is 5; set it to at most 3 s so a slow deployment fails verification.', verification.urn)]


def test_missing_p95_limit_is_refused():
    release = release_resource()
    found = stack_violations([release, verification_resource(release, p95_limit_seconds=None)])
    assert "p95_limit_seconds is (not set)" in found[0][0]


def test_config_may_tighten_the_p95_limit():
    release = release_resource()
    assert "at most 2 s" in stack_violations([release, verification_resource(release)], {"maxP95Seconds": 2})[0][0]


def test_verification_of_another_release_name_is_refused():
    release = release_resource()
    found = stack_violations([release, verification_resource(release, release_name="other")])
    assert found[0][0] == ('DeploymentVerification "llama-7b-development-verification" of vLLM release '
                           '"llama-7b-development": release_name is "other" but it depends on release '
                           '"llama-7b-development"; set release_name to "llama-7b-development".')


def test_pod_ready_timeout_below_the_loading_budget_is_refused():
    release = release_resource("production")
    found = stack_violations([release, verification_resource(release, "production", pod_ready_timeout_seconds=3600.0)])
    assert (
        "pod_ready_timeout_seconds is 3600 but a large model in production needs 1.5 x 3600 s = 5400 s"
        in found[0][0]
    )


def test_every_release_of_the_stack_is_checked():
    first, second = release_resource("development"), release_resource("staging")
    found = stack_violations([first, second, verification_resource(first)])
    assert [urn for _, urn in found] == [second.urn]


def test_unknown_inputs_during_preview_are_skipped(unknown_values):
    release = release_resource()
    verification = verification_resource(release, release_name=unknown_values.string,
                                         p95_limit_seconds=unknown_values.number,
                                         pod_ready_timeout_seconds=unknown_values.number)
    assert stack_violations([release, verification]) == []


def test_unrelated_resources_are_ignored():
    other = stack_resource("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "vllm"}})
    assert stack_violations([other]) == []
