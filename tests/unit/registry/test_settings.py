"""ModelRegistryEntry inputs: conversion, every problem at once, unknowns during preview, the URL never shown."""

from components.registry.settings import REGISTER_KEYS, settings_from, validate
from components.unknowns import UNKNOWN
from tests.unit.registry.builders import entry_inputs


def test_engine_floats_become_ints_and_optional_values_none():
    settings = settings_from(entry_inputs(max_model_len=0.0, p50_seconds=None))
    assert (settings.helm_revision, settings.gpus_per_pod, settings.service_port) == (1, 1, 8000)
    assert settings.max_model_len is None and settings.p50_seconds is None


def test_every_problem_is_reported_with_key_value_and_what_is_allowed():
    _, problems = validate(entry_inputs(namespace="Bad_NS", helm_revision=0.0, p95_seconds=-1.0,
                                        on_destroy="drop", verified_at="yesterday", api_path="v1"))
    reasons = {p.property: p.reason for p in problems}
    assert set(reasons) == {"namespace", "helm_revision", "p95_seconds", "on_destroy", "verified_at", "api_path"}
    assert reasons["on_destroy"] == "on_destroy is 'drop'; allowed: one of 'retire', 'delete'"
    assert "'Bad_NS'" in reasons["namespace"] and "DNS-1123" in reasons["namespace"]


def test_unknown_values_during_preview_are_not_problems():
    _, problems = validate(entry_inputs(helm_revision=UNKNOWN, verified_at=UNKNOWN, chart_version=UNKNOWN))
    assert problems == []


def test_the_database_url_is_never_quoted_and_not_in_repr():
    settings = settings_from(entry_inputs(database_url="postgresql://u:topsecret@db/reg"))
    assert "topsecret" not in repr(settings)
    _, problems = validate(entry_inputs(database_url="topsecret"))
    assert problems and "topsecret" not in problems[0].reason and "secret" in problems[0].reason


def test_retry_settings_do_not_cause_a_new_registration():
    assert "retry_timeout_seconds" not in REGISTER_KEYS and "connect_timeout_seconds" not in REGISTER_KEYS
    assert {"image", "helm_revision", "verified_at", "p95_seconds", "routing_enabled", "database_url"} <= set(
        REGISTER_KEYS)
