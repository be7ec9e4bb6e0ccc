import pytest
from pulumi.runtime import rpc

from components.presets import service_url
from components.verification.settings import (
    DEFAULTS,
    REVERIFY_KEYS,
    UNKNOWN,
    normalize_revision,
    settings_from,
    validate,
)

BASE = {"namespace": "system", "release_name": "llama-7b-development", "revision": 1.0}


def reasons(problems):
    return {p.property: p.reason for p in problems}


def test_unknown_sentinel_is_pulumis():
    assert UNKNOWN == rpc.UNKNOWN


def test_defaults_fill_missing_inputs_and_numbers_become_ints():
    inputs, problems = validate({**BASE, "samples": 20.0, "max_tokens": 16.0, "service_port": 8000.0})
    assert problems == []
    assert inputs["samples"] == 20 and isinstance(inputs["samples"], int)
    assert inputs["revision"] == 1 and isinstance(inputs["revision"], int)
    assert inputs["access_mode"] == "port-forward"
    assert inputs["p95_limit_seconds"] == 3.0
    assert inputs["provider_version"] == DEFAULTS["provider_version"]


def test_every_problem_is_reported_at_once_naming_input_value_and_allowed():
    _, problems = validate(
        {
            **BASE,
            "samples": 0,
            "warmup_requests": 1.5,
            "access_mode": "kubectl",
            "p95_limit_seconds": -1,
            "health_path": "health",
            "namespace": "Bad_NS",
            "prompt": "  ",
        }
    )
    found = reasons(problems)
    assert set(found) == {
        "samples", "warmup_requests", "access_mode", "p95_limit_seconds", "health_path", "namespace", "prompt"
    }
    assert found["samples"] == "samples is 0; allowed: a whole number from 1 to 1000"
    assert found["access_mode"] == "access_mode is 'kubectl'; allowed: one of 'port-forward', 'direct', 'service-proxy'"
    assert "a number of seconds > 0" in found["p95_limit_seconds"]
    assert "DNS-1123" in found["namespace"]


def test_unknown_values_are_never_a_failure():
    inputs, problems = validate(
        {**BASE, "revision": UNKNOWN, "namespace": UNKNOWN, "samples": UNKNOWN, "base_url": UNKNOWN}
    )
    assert problems == []
    assert inputs["revision"] == UNKNOWN


def test_base_url_only_with_direct_mode():
    _, problems = validate({**BASE, "access_mode": "port-forward", "base_url": "http://127.0.0.1:8000"})
    assert reasons(problems)["base_url"].startswith(
        "base_url is 'http://127.0.0.1:8000' but access_mode is 'port-forward'"
    )
    inputs, problems = validate({**BASE, "access_mode": "direct", "base_url": "http://127.0.0.1:8000/"})
    assert problems == [] and inputs["base_url"] == "http://127.0.0.1:8000"


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://host", "http://", "http://h/?q=1"])
def test_base_url_must_be_http_url(url):
    _, problems = validate({**BASE, "access_mode": "direct", "base_url": url})
    assert "base_url" in reasons(problems)


def test_completions_path_must_be_openai_compatible():
    _, problems = validate({**BASE, "completions_path": "/generate"})
    assert "completions_path" in reasons(problems)
    assert validate({**BASE, "completions_path": "/v1/completions"})[1] == []


def test_direct_url_defaults_to_the_in_cluster_service():
    settings = settings_from({**BASE, "access_mode": "direct"})
    assert settings.direct_url == service_url("llama-7b-development", "system", 8000)
    assert settings.direct_url == "http://llama-7b-development.system.svc.cluster.local:8000"


def test_model_defaults_to_the_release_name():
    assert settings_from(BASE).model == "llama-7b-development"
    assert settings_from({**BASE, "served_model_name": "llama"}).model == "llama"


def test_settings_from_raises_with_every_problem_and_on_unknowns():
    with pytest.raises(ValueError) as error:
        settings_from({**BASE, "samples": 0, "max_tokens": 0})
    assert "samples is 0" in str(error.value) and "max_tokens is 0" in str(error.value)
    with pytest.raises(ValueError, match="not known yet"):
        settings_from({**BASE, "revision": UNKNOWN})


def test_revision_normalization():
    assert normalize_revision(3.0) == normalize_revision("3") == normalize_revision(3) == 3
    assert normalize_revision("v2") == "v2"


def test_revision_digits_are_0_to_9_only():
    """A superscript or full-width digit is text, never int()'s crash (superscript) or a silent 3 (full-width)."""
    assert normalize_revision(" 7 ") == 7
    assert normalize_revision("\u00b2") == "\u00b2" and normalize_revision("\uff13") == "\uff13"
    assert normalize_revision(float("nan")) != 0 and normalize_revision(True) is True


def test_reverify_keys_cover_every_setting_but_not_the_kubeconfig():
    assert "kubeconfig" not in REVERIFY_KEYS
    for key in ("revision", "samples", "p95_limit_seconds", "prompt", "provider_version", "access_mode", "namespace"):
        assert key in REVERIFY_KEYS


def test_output_placeholders_pass_through():
    inputs, problems = validate({**BASE, "summary": None, "passed": None})
    assert problems == [] and inputs["summary"] is None
