"""The pack loaded as the engine loads it: `python -m pulumi.policy <engine> policies/` in its own process,
spoken to over the analyzer gRPC protocol (GetAnalyzerInfo, Configure, Analyze, AnalyzeStack)."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, plugin_pb2

from policies.rules.catalog import PACK_NAME, all_policies
from policies.rules.subjects import HELM_RELEASE_TYPE, VERIFICATION_TYPE

from .builders import UNKNOWN_NUMBER, UNKNOWN_STRING, release_props, urn, verification_props, vllm_values

ROOT = Path(__file__).resolve().parents[3]
PACK_DIR = ROOT / "policies"
STARTUP_SECONDS = 30
LEVEL_NAMES = {"advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY,
               "disabled": analyzer_pb2.DISABLED, "remediate": analyzer_pb2.REMEDIATE}


def _read_port(process: subprocess.Popen) -> int:
    """The port the pack prints on its first stdout line (as the engine reads it), without blocking forever."""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=STARTUP_SECONDS):
            raise AssertionError(f"policy pack printed no port within {STARTUP_SECONDS} s")
    line = process.stdout.readline().decode().strip()
    if not line.isdigit():
        raise AssertionError(f"policy pack did not start: {line!r}\n{process.stderr.read().decode()}")
    return int(line)


@pytest.fixture(scope="module")
def analyzer():
    """An Analyzer stub connected to the pack running in a subprocess; the subprocess is stopped afterwards."""
    process = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(PACK_DIR)],
                               cwd=PACK_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = _read_port(process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=STARTUP_SECONDS)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def configure(stub, environment: str | None) -> None:
    """Send what the engine sends for `--policy-pack-config policies/config/<environment>.json` (None: no file)."""
    config = json.loads((PACK_DIR / "config" / f"{environment}.json").read_text()) if environment else {}
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for policy in all_policies():
        entry = config.get(policy.name, {})
        entry = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
        level = entry.pop("enforcementLevel", None) or config.get("all") or (
            policy.enforcement_level.value if policy.enforcement_level else "mandatory")
        request.policyConfig[policy.name].enforcementLevel = LEVEL_NAMES[level]
        request.policyConfig[policy.name].properties.update(entry)
    stub.Configure(request)


def struct(props: dict) -> struct_pb2.Struct:
    return json_format.ParseDict(props, struct_pb2.Struct())


def analyze(stub, props: dict, resource_type: str = HELM_RELEASE_TYPE, name: str = "llama-release"):
    return stub.Analyze(analyzer_pb2.AnalyzeRequest(
        type=resource_type, properties=struct(props), urn=urn(resource_type, name), name=name)).diagnostics


def resource(props: dict, resource_type: str, name: str, dependencies=(), revision_from=()):
    message = analyzer_pb2.AnalyzerResource(type=resource_type, properties=struct(props),
                                            urn=urn(resource_type, name), name=name, dependencies=list(dependencies))
    if revision_from:
        message.propertyDependencies["revision"].urns.extend(revision_from)
    return message


def test_pack_describes_its_policies_and_default_levels(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME and info.supportsConfig
    levels = {policy.name: policy.enforcementLevel for policy in info.policies}
    assert set(levels) == {policy.name for policy in all_policies()}
    assert levels.pop("vllm-pod-security") == analyzer_pb2.ADVISORY
    assert set(levels.values()) == {analyzer_pb2.MANDATORY}
    stack_policies = [p.name for p in info.policies if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK]
    assert stack_policies == ["vllm-post-deploy-verification"]
    schema = next(p.configSchema for p in info.policies if p.name == "vllm-post-deploy-verification")
    assert json_format.MessageToDict(schema.properties)["maxP95Seconds"]["maximum"] == 3


def test_plugin_info_answers(analyzer):
    assert isinstance(analyzer.GetPluginInfo(empty_pb2.Empty()), plugin_pb2.PluginInfo)


def test_compliant_release_has_no_diagnostics_in_any_environment(analyzer):
    for environment in ("development", "staging", "production"):
        configure(analyzer, environment)
        assert list(analyze(analyzer, release_props(environment))) == []


def test_violation_is_mandatory_in_production_with_the_rules_message(analyzer):
    configure(analyzer, "production")
    props = release_props("production", values=vllm_values("production", image={"tag": "latest"}))
    [diagnostic] = analyze(analyzer, props)
    assert diagnostic.policyName == "vllm-image-pinned"
    assert diagnostic.policyPackName == PACK_NAME
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    assert diagnostic.message.splitlines()[-1] == (
        'vLLM release "llama-70b-production": image "vllm/vllm-openai:latest" uses the floating tag "latest"; set '
        'image.tag to a released version (e.g. "v0.11.0") or pin a digest (repository@sha256:...).')


def test_the_same_violation_is_advisory_in_development(analyzer):
    configure(analyzer, "development")
    [diagnostic] = analyze(analyzer, release_props(values=vllm_values(image={"tag": "latest"})))
    assert diagnostic.enforcementLevel == analyzer_pb2.ADVISORY


def test_pod_security_stays_advisory_in_production(analyzer):
    configure(analyzer, "production")
    values = vllm_values("production", securityContext={"allowPrivilegeEscalation": True})
    [diagnostic] = analyze(analyzer, release_props("production", values=values))
    assert (diagnostic.policyName, diagnostic.enforcementLevel) == ("vllm-pod-security", analyzer_pb2.ADVISORY)


def test_policy_config_properties_reach_the_rules(analyzer):
    configure(analyzer, None)
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    request.policyConfig["vllm-image-pinned"].enforcementLevel = analyzer_pb2.MANDATORY
    request.policyConfig["vllm-image-pinned"].properties.update({"floatingTags": ["edge"]})
    analyzer.Configure(request)
    [diagnostic] = analyze(analyzer, release_props(values=vllm_values(image={"tag": "edge"})))
    assert 'floating tag "edge"' in diagnostic.message


def test_unknown_values_during_preview_produce_no_diagnostics(analyzer):
    configure(analyzer, "production")
    values = vllm_values("production", image={"tag": UNKNOWN_STRING}, startup={"budgetSeconds": UNKNOWN_NUMBER},
                         resources={"limits": {"memory": UNKNOWN_STRING}})
    props = release_props("production", values=values, namespace=UNKNOWN_STRING, timeout=UNKNOWN_NUMBER)
    assert list(analyze(analyzer, props)) == []


def test_stack_without_verification_is_refused_and_with_one_passes(analyzer):
    configure(analyzer, "staging")
    release = resource(release_props("staging"), HELM_RELEASE_TYPE, "llama-13b-staging-release")
    [diagnostic] = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[release])).diagnostics
    assert diagnostic.policyName == "vllm-post-deploy-verification"
    assert diagnostic.urn == release.urn and diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    verification = resource(verification_props("staging", release_name=UNKNOWN_STRING), VERIFICATION_TYPE,
                            "llama-13b-staging-verification", dependencies=[release.urn])
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[release, verification]))
    assert list(response.diagnostics) == []
    by_revision = resource(verification_props("staging"), VERIFICATION_TYPE, "llama-13b-staging-verification",
                           revision_from=[release.urn])
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[release, by_revision]))
    assert list(response.diagnostics) == []
