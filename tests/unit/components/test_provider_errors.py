"""components.provider_errors: a provider's failure shows as its message alone, a bug with its whole traceback."""

import sys
import traceback
import types

import pytest

import components.drift.resource as drift
import components.gpu_gate.resource as gate
import components.registry.resource as registry
import components.verification.resource as verification
from components.input_rules import InvalidInputs
from components.provider_errors import PROVIDER_METHODS, ProviderBug, in_provider_host, plain_failures


class Failed(RuntimeError):
    pass


@plain_failures(Failed)
class Provider:
    def create(self, props):
        if props.get("fail"):
            raise Failed("no GPUs: the table follows") from None
        return props["missing"]  # a bug: KeyError

    def diff(self, _id, olds, news):
        return olds == news


@pytest.fixture
def provider_host(monkeypatch):
    """This process as the SDK's provider host sees itself (``python -m pulumi.dynamic``)."""
    host = types.ModuleType("__main__")
    host.__spec__ = types.SimpleNamespace(name="pulumi.dynamic.__main__")
    monkeypatch.setitem(sys.modules, "__main__", host)
    monkeypatch.setattr(sys, "tracebacklimit", 1000, raising=False)
    yield
    monkeypatch.delattr(sys, "tracebacklimit", raising=False)


def what_the_host_sends(call) -> str:
    """The SDK host's error text: ``traceback.format_exc()`` of whatever the provider method raised."""
    try:
        call()
    except Exception:  # noqa: BLE001 - as pulumi.dynamic.__main__ does
        return traceback.format_exc()
    raise AssertionError("the call did not fail")


def test_in_the_provider_host_a_failure_is_sent_as_its_message_alone(provider_host):
    sent = what_the_host_sends(lambda: Provider().create({"fail": True}))
    assert sent == f"{__name__}.Failed: no GPUs: the table follows\n"
    assert "Traceback" not in sent


def test_in_the_provider_host_a_bug_keeps_its_whole_traceback_in_the_message(provider_host):
    sent = what_the_host_sends(lambda: Provider().create({}))
    assert sent.startswith("components.provider_errors.ProviderBug: Traceback (most recent call last):")
    assert 'return props["missing"]  # a bug: KeyError' in sent and "KeyError: 'missing'" in sent


def test_outside_the_provider_host_nothing_changes(monkeypatch):
    monkeypatch.delattr(sys, "tracebacklimit", raising=False)
    assert not in_provider_host()  # pytest's __main__
    with pytest.raises(Failed) as failed:
        Provider().create({"fail": True})
    assert not hasattr(sys, "tracebacklimit")  # the program's own errors keep their frames
    assert "Traceback (most recent call last)" in "".join(traceback.format_exception(failed.value))
    with pytest.raises(ProviderBug, match="KeyError: 'missing'"):
        Provider().create({})


def test_results_pass_through_unchanged():
    assert Provider().diff("id", {"a": 1}, {"a": 1}) is True
    assert Provider.create.__name__ == "create" and Provider.create.__wrapped__.__qualname__ == "Provider.create"


@pytest.mark.parametrize("provider, failed", [
    (gate.GpuCapacityGateProvider, gate.GpuCapacityGateFailed),
    (verification.DeploymentVerificationProvider, verification.VerificationFailed),
    (registry.ModelRegistryEntryProvider, registry.RegistrationFailed),
    (drift.ReleaseDriftProvider, drift.ReleaseDriftFailed),
], ids=lambda x: x.__name__)
def test_every_dynamic_provider_sends_its_failures_plainly(provider, failed):
    methods = [name for name in PROVIDER_METHODS if name in provider.__dict__]
    assert {"check", "diff", "create", "update", "delete"} <= set(methods)
    expected = (failed, InvalidInputs)
    assert all(getattr(provider.__dict__[name], "expected_failures", None) == expected for name in methods), methods
