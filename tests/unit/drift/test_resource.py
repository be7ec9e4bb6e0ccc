"""ReleaseDrift's provider logic that needs no cluster: check, diff and the failure message (its inputs as the
program registers them: tests/unit/test_program.py; read/create on a real cluster: tests/e2e/test_drift.py)."""

from __future__ import annotations

from components.drift.resource import PROVIDER_VERSION, ReleaseDriftProvider, drift_message
from components.unknowns import UNKNOWN

OLDS = {"kubeconfig": "/k", "context": "c", "namespace": "system", "release_name": "llama", "revision": 2,
        "provider_version": PROVIDER_VERSION, "drift": [], "checked_revision": 2, "objects": 3}


def news(**changes):
    base = {k: OLDS[k] for k in ("kubeconfig", "context", "namespace", "release_name", "revision",
                                 "provider_version")}
    return {**base, "drift": [], **changes}


def test_no_change_when_nothing_moved_and_nothing_drifted():
    assert ReleaseDriftProvider().diff("id", OLDS, news(revision=2.0)).changes is False


def test_a_refreshed_drift_is_a_change():
    olds = {**OLDS, "drift": ["Deployment system/llama: spec.replicas is 3, the release sets 1"]}
    assert ReleaseDriftProvider().diff("id", olds, news()).changes is True


def test_a_new_revision_or_unknown_revision_is_a_change():
    provider = ReleaseDriftProvider()
    assert provider.diff("id", OLDS, news(revision=3)).changes is True
    assert provider.diff("id", OLDS, news(revision=UNKNOWN)).changes is True
    assert provider.diff("id", OLDS, news(provider_version="0")).changes is True


def test_check_names_a_missing_release_and_skips_unknowns():
    provider = ReleaseDriftProvider()
    failures = provider.check({}, news(release_name="")).failures
    assert [f.property for f in failures] == ["release_name"]
    assert provider.check({}, news(namespace=UNKNOWN, revision=UNKNOWN)).failures == []
    assert provider.check({}, news(revision=4.0)).inputs["revision"] == 4


def test_failure_message_lists_every_difference_and_the_remedy():
    text = drift_message("system", "llama", 2, ["Deployment system/llama: spec.replicas is 3, the release sets 1"])
    assert text.startswith("Helm release system/llama (revision 2) was changed outside Pulumi:")
    assert "  - Deployment system/llama: spec.replicas is 3, the release sets 1" in text
    assert "helm rollback llama -n system" in text

