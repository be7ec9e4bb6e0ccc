import base64
import json
import subprocess
import sys
from pathlib import Path

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

import components.verification.verify as verify_module
from components.verification.checks import FAILED, PASSED, CheckResult
from components.verification.resource import DeploymentVerificationProvider, VerificationFailed
from components.verification.settings import UNKNOWN, settings_from
from components.verification.stats import summarize
from components.verification.verify import VerificationReport

ROOT = Path(__file__).resolve().parents[3]
INPUTS = {
    "kubeconfig": "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: SECRET-TOKEN}}]\n",
    "context": "",
    "namespace": "system",
    "release_name": "llama-7b-development",
    "revision": 2.0,
    "samples": 20.0,
    "p95_limit_seconds": 3.0,
    "summary": None,
    "passed": None,
}


def checked(**changes):
    return DeploymentVerificationProvider().check({}, {**INPUTS, **changes}).inputs


def passed_outs(**changes):
    """Outputs of a passed verification of INPUTS (as the engine stores them: numbers as floats)."""
    provider = DeploymentVerificationProvider()
    outs = provider_outs(provider, checked(**changes))
    return json.loads(json.dumps(outs), parse_int=float)


def provider_outs(provider, props, report=None):
    report = report or fake_report(props, passed=True)
    saved = verify_module.verify_deployment
    verify_module.verify_deployment = lambda settings, factory, progress, **_options: report
    try:
        return provider.create(props).outs
    finally:
        verify_module.verify_deployment = saved


def fake_report(props, passed):
    settings = settings_from(props)
    status = PASSED if passed else FAILED
    rows = [
        CheckResult("pod Running", PASSED, "1 current-revision pod(s) Running", "1/1 Running"),
        CheckResult(
            "completion latency p95", status, "p95 <= 3.00s (N=20)", "p95 3.41s > 3.00s (N=20, p50 1.20s, max 4.02s)"
        ),
    ]
    latency = summarize([1.2] * 18 + [3.41, 4.02] if not passed else [0.5] * 20, 3.0)
    return VerificationReport(
        settings,
        rows,
        latency=latency,
        endpoint="x (direct)",
        verified_pods=["p"],
        verified_at="t",
        duration_seconds=1.0,
    )


# --- check ----------------------------------------------------------------------------------------


def test_check_converts_numbers_and_names_bad_inputs():
    result = DeploymentVerificationProvider().check({}, {**INPUTS, "samples": 0.0, "access_mode": "ssh"})
    failures = {f.property: f.reason for f in result.failures}
    assert set(failures) == {"samples", "access_mode"}
    assert failures["samples"] == "samples is 0.0; allowed: a whole number from 1 to 1000"
    assert DeploymentVerificationProvider().check({}, INPUTS).inputs["samples"] == 20


def test_check_tolerates_unknowns_during_preview():
    result = DeploymentVerificationProvider().check({}, {**INPUTS, "revision": UNKNOWN, "namespace": UNKNOWN})
    assert result.failures == []


# --- diff -----------------------------------------------------------------------------------------


def diff(olds, **changes):
    return DeploymentVerificationProvider().diff("system/llama-7b-development", olds, checked(**changes)).changes


def test_no_op_when_revision_and_settings_are_unchanged():
    assert diff(passed_outs()) is False


def test_kubeconfig_rotation_alone_does_not_reverify():
    assert diff(passed_outs(), kubeconfig="/other/kubeconfig") is False


@pytest.mark.parametrize(
    "change",
    [
        {"revision": 3.0},
        {"samples": 40.0},
        {"p95_limit_seconds": 2.0},
        {"prompt": "Hi"},
        {"access_mode": "direct"},
        {"provider_version": "99"},
        {"revision": UNKNOWN},
    ],
)
def test_reverify_when_revision_or_a_setting_changes(change):
    assert diff(passed_outs(), **change) is True


def test_reverify_when_the_stored_state_did_not_pass():
    outs = passed_outs()
    outs.pop("passed")
    assert diff(outs) is True


# --- create / update ------------------------------------------------------------------------------


def test_create_returns_the_summary_and_never_the_kubeconfig():
    outs = provider_outs(DeploymentVerificationProvider(), checked())
    assert outs["passed"] is True and outs["verified_revision"] == 2 and outs["n"] == 20
    assert outs["p95_seconds"] == 0.5 and outs["summary"][0]["name"] == "pod Running"
    assert "kubeconfig" not in outs and "SECRET-TOKEN" not in json.dumps(outs)
    assert outs["samples"] == 20 and outs["namespace"] == "system"


def test_failed_verification_raises_with_every_check():
    props = checked()
    with pytest.raises(VerificationFailed) as failure:
        provider_outs(DeploymentVerificationProvider(), props, report=fake_report(props, passed=False))
    text = str(failure.value)
    assert "verification FAILED: release llama-7b-development in namespace system (revision 2)" in text
    assert "pod Running" in text and "p95 3.41s > 3.00s (N=20, p50 1.20s, max 4.02s)" in text
    assert "SECRET-TOKEN" not in text


def test_update_reverifies_with_the_new_inputs():
    seen = []
    saved = verify_module.verify_deployment
    verify_module.verify_deployment = lambda settings, factory, progress, **_options: (
        seen.append(settings.revision) or fake_report(checked(revision=5.0), True)
    )
    try:
        outs = DeploymentVerificationProvider().update("id", passed_outs(), checked(revision=5.0)).outs
    finally:
        verify_module.verify_deployment = saved
    assert seen == [5] and outs["verified_revision"] == 5


def test_create_with_invalid_inputs_raises_every_problem():
    with pytest.raises(ValueError, match="samples is 0"):
        DeploymentVerificationProvider().create({**INPUTS, "samples": 0})


# --- the provider as the engine handles it ----------------------------------------------------------


def test_provider_survives_the_dill_round_trip():
    blob = serialize_provider(DeploymentVerificationProvider())
    provider = dill.loads(base64.b64decode(blob))
    assert provider.check({}, INPUTS).failures == []
    assert serialize_provider(DeploymentVerificationProvider()) == blob  # stable: no spurious diffs of __provider


def test_registration_under_mocks():
    run = subprocess.run(
        [sys.executable, "-m", "tests.unit.verification.mock_resource"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    (registration,) = report["registrations"]
    assert registration["type"] == "pulumi-python:dynamic/vllm:DeploymentVerification"
    assert "kubeconfig" in registration["secret_inputs"]
    expected_keys = {"namespace", "release_name", "revision", "samples", "provider_version", "kubeconfig"}
    assert expected_keys <= set(registration["keys"])
    assert report["passed"] is True and report["n"] == 20
    assert report["provider_class"] == "components.verification.resource.DeploymentVerificationProvider"
    # samples: a float on the wire
    assert report["inputs"]["access_mode"] == "port-forward" and report["inputs"]["samples"] == 20


def test_after_a_failed_update_the_next_up_verifies_again():
    """The engine keeps the last successful outputs when an update raises; diff must not call that a no-op."""
    provider = DeploymentVerificationProvider()
    state = passed_outs()  # revision 2 verified
    news = checked(revision=3.0)  # helm upgraded to revision 3
    assert provider.diff("id", state, news).changes is True
    with pytest.raises(VerificationFailed):
        provider_outs(provider, news, report=fake_report(news, passed=False))  # update fails: state stays as it was
    assert provider.diff("id", state, news).changes is True  # next `pulumi up` with nothing changed: verifies again
    assert provider.diff("id", passed_outs(revision=3.0), news).changes is False  # once it passed: no-op


def test_no_reverify_for_state_stored_under_the_old_settings_version_name():
    """Up to provider version 3 the input was called settings_version: the same version under the old name is no
    change, so upgrading the program does not re-verify every deployed stack; a bumped version still does."""
    outs = passed_outs()
    outs["settings_version"] = outs.pop("provider_version")
    assert diff(outs) is False
    outs["settings_version"] = "2"
    assert diff(outs) is True
