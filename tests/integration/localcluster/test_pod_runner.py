"""The local cluster's pod runner and readiness rule, against the real control plane, kwok and simulators.

Each vLLM pod (label app.kubernetes.io/name=vllm) gets its own llm-d-inference-sim process, configured from
the pod; a port-forward to the pod reaches that process; a pod is Ready only when its container is ready and
every readiness gate is True. Waits are watches (or a pidfd for a process exit), bounded by a timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import time
import uuid

import pytest
from kubernetes import client, watch
from kubernetes.stream import portforward

from tests.support.cluster import ensure_cluster, pod_process, restart_simulator, tools_available
from tools.localcluster.layout import DEFAULT_SIM_MODEL

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not tools_available(), reason="local cluster tools not built (tools/build)"),
]

GATE = "vllm-deploy.dev/verified"
SIM = "sim.vllm-deploy.dev/"


@pytest.fixture(scope="module")
def cluster():
    return ensure_cluster()


@pytest.fixture(scope="module")
def api(cluster):
    from kubernetes import config

    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig), context=cluster.context)
    yield api_client
    api_client.close()


@pytest.fixture
def core(api) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def namespace(core):
    name = f"pod-runner-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name, grace_period_seconds=0)


def vllm_pod(name: str, args: list[str] | None = None, annotations: dict | None = None,
             gates: list[str] | None = None) -> dict:
    spec = {
        "nodeSelector": {"node-type": "gpu"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.11.0", "args": args or [],
                        "ports": [{"name": "http", "containerPort": 8000}]}],
    }
    if gates:
        spec["readinessGates"] = [{"conditionType": g} for g in gates]
    return {"metadata": {"name": name, "annotations": annotations or {},
                         "labels": {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": name}},
            "spec": spec}


def condition(pod, kind: str) -> str | None:
    return next((c.status for c in pod.status.conditions or [] if c.type == kind), None)


def wait_pod(core, namespace: str, name: str, predicate, what: str, timeout: int = 90):
    """The pod once ``predicate(pod)`` holds (a watch, at most ``timeout`` seconds)."""
    selector = f"metadata.name={name}"
    listed = core.list_namespaced_pod(namespace, field_selector=selector)
    if listed.items and predicate(listed.items[0]):
        return listed.items[0]
    last = listed.items[0] if listed.items else None
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_pod, namespace, field_selector=selector,
                               resource_version=listed.metadata.resource_version, timeout_seconds=timeout):
        last = event["object"]
        if event["type"] != "DELETED" and predicate(last):
            stream.stop()
            return last
    raise TimeoutError(f"{namespace}/{name}: not {what} after {timeout}s; last status: "
                       f"{last.status.to_dict() if last else 'no pod'}")


def waiting_reason(pod) -> str | None:
    status = (pod.status.container_statuses or [None])[0]
    return status.state.waiting.reason if status and status.state.waiting else None


def ready(pod) -> bool:
    return condition(pod, "Ready") == "True"


def http_get(api, namespace: str, pod: str, path: str) -> tuple[int, str]:
    """GET ``path`` from port 8000 of ``pod`` through the API server's port-forward (HTTP/1.0: one
    response with a Content-Length, read until complete)."""
    pf = portforward(client.CoreV1Api(api).connect_get_namespaced_pod_portforward, pod, namespace, ports="8000")
    sock = pf.socket(8000)
    sock.settimeout(20)
    sock.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), None)
            if sep and length is not None and len(body) >= length:
                break
    finally:
        sock.close()
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    assert head, f"no answer from {namespace}/{pod}{path} (port-forward error: {pf.error(8000)})"
    return int(head.split()[1]), body


def served_models(api, namespace: str, pod: str) -> set[str]:
    status, body = http_get(api, namespace, pod, "/v1/models")
    assert status == 200, body
    return {m["id"] for m in json.loads(body)["data"]}


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


def test_each_pod_gets_its_own_simulator_and_port_forward_reaches_it(api, core, namespace):
    core.create_namespaced_pod(namespace, vllm_pod("alpha", ["--served-model-name=alpha"],
                                                   {f"{SIM}time-to-first-token": "5ms"}))
    core.create_namespaced_pod(namespace, vllm_pod("beta", ["--served-model-name=beta", "--tensor-parallel-size=2"],
                                                   {f"{SIM}time-to-first-token": "900ms"}))
    for name in ("alpha", "beta"):
        wait_pod(core, namespace, name, ready, "Ready")
    alpha, beta = pod_process(namespace, "alpha"), pod_process(namespace, "beta")
    assert alpha["port"] != beta["port"] and alpha["pid"] != beta["pid"]
    assert "--time-to-first-token=5ms" in cmdline(alpha["pid"]) and "--served-model-name=alpha" in cmdline(alpha["pid"])
    assert "--time-to-first-token=900ms" in cmdline(beta["pid"]) and "--served-model-name=beta" in cmdline(beta["pid"])
    assert not any(a.startswith("--tensor-parallel-size") for a in cmdline(beta["pid"]))  # vLLM-only flag dropped
    assert served_models(api, namespace, "alpha") == {"alpha"}
    assert served_models(api, namespace, "beta") == {"beta"}


@contextlib.contextmanager
def port_forwards_held_back(api, namespace: str):
    """Within: the API server refuses kwok PortForwards in ``namespace`` (a ValidatingAdmissionPolicy), as if
    kwok's informer had not seen the pod's PortForward yet. Entered once a dry-run create is refused."""
    admission = client.AdmissionregistrationV1Api(api)
    name = f"hold-port-forwards-{namespace}"
    admission.create_validating_admission_policy({
        "metadata": {"name": name},
        "spec": {"failurePolicy": "Fail",
                 "matchConstraints": {"resourceRules": [{"apiGroups": ["kwok.x-k8s.io"], "apiVersions": ["*"],
                                                         "operations": ["CREATE", "UPDATE"],
                                                         "resources": ["portforwards"]}]},
                 "validations": [{"expression": "false", "message": "held back by the test"}]}})
    admission.create_validating_admission_policy_binding({
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"],
                 "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}}})
    try:
        probe = {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "PortForward", "metadata": {"name": "probe"},
                 "spec": {"forwards": [{"ports": [1], "target": {"address": "127.0.0.1", "port": 1}}]}}
        custom = client.CustomObjectsApi(api)
        for attempt in range(100):  # the API server loads a new policy within about a second
            try:
                custom.create_namespaced_custom_object("kwok.x-k8s.io", "v1alpha1", namespace, "portforwards", probe,
                                                       dry_run="All")
            except client.ApiException as exc:
                assert "held back by the test" in exc.body, exc.body
                break
            time.sleep(0.1 * min(attempt + 1, 5))
        else:
            raise TimeoutError(f"the admission policy {name} does not refuse PortForwards")
        yield
    finally:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)


def test_a_pod_starts_only_once_kwok_routes_its_port_forwards_to_its_own_process(api, core, namespace):
    """Until kwok has a pod's PortForward, a port-forward to the pod reaches the shared simulator: the runner
    keeps the container waiting (ContainerCreating, not started, not Ready) until a port-forward through the API
    server answers the pod's route token, and starts the process as soon as it does."""
    with port_forwards_held_back(api, namespace):
        core.create_namespaced_pod(namespace, vllm_pod("held", ["--served-model-name=held"]))
        pod = wait_pod(core, namespace, "held", lambda p: "(check 1: " in (waiting_message(p) or ""),
                       "waiting for its route")
        status = pod.status.container_statuses[0]
        assert status.state.waiting.reason == "ContainerCreating" and not status.started and not status.ready
        assert not ready(pod) and pod_process(namespace, "held")["pid"] is None
        # What a Ready pod would have served without the check: the shared simulator (the cluster-wide fallback).
        assert served_models(api, namespace, "held") == {DEFAULT_SIM_MODEL}
    wait_pod(core, namespace, "held", ready, "Ready once its PortForward is admitted")
    assert served_models(api, namespace, "held") == {"held"}


def waiting_message(pod) -> str | None:
    status = (pod.status.container_statuses or [None])[0]
    return status.state.waiting.message if status and status.state.waiting else None


def test_a_readiness_gate_holds_the_pod_out_of_its_service_until_its_condition_is_true(api, core, namespace):
    core.create_namespaced_pod(namespace, vllm_pod("gated", gates=[GATE]))
    core.create_namespaced_service(namespace, {
        "metadata": {"name": "gated"},
        "spec": {"selector": {"app.kubernetes.io/instance": "gated"}, "ports": [{"port": 8000, "targetPort": 8000}]}})
    pod = wait_pod(core, namespace, "gated", lambda p: condition(p, "ContainersReady") == "True", "ContainersReady")
    assert condition(pod, "Ready") == "False"
    assert not endpoint_ready(api, namespace, "gated", pod.status.pod_ip)
    assert http_get(api, namespace, "gated", "/health")[0] == 200  # serving, just not Ready

    core.patch_namespaced_pod_status("gated", namespace, {"status": {"conditions": [
        {"type": GATE, "status": "True", "reason": "Verified"}]}})
    pod = wait_pod(core, namespace, "gated", ready, "Ready after its gate became True")
    wait_endpoint(api, namespace, "gated", pod.status.pod_ip, True)

    core.patch_namespaced_pod_status("gated", namespace, {"status": {"conditions": [
        {"type": GATE, "status": "False", "reason": "VerificationFailed"}]}})
    pod = wait_pod(core, namespace, "gated", lambda p: condition(p, "Ready") == "False", "not Ready again")
    assert next(c for c in pod.status.conditions if c.type == "Ready").reason == "ReadinessGatesNotReady"
    wait_endpoint(api, namespace, "gated", pod.status.pod_ip, False)


def endpoint_ready(api, namespace: str, service: str, ip: str) -> bool | None:
    """Whether ``ip`` is a ready endpoint of ``service`` (None: not listed at all)."""
    slices = client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}").items
    for s in slices:
        for e in s.endpoints or []:
            if ip in e.addresses:
                return bool(e.conditions.ready)
    return None


def wait_endpoint(api, namespace: str, service: str, ip: str, want: bool, timeout: int = 60) -> None:
    discovery = client.DiscoveryV1Api(api)
    selector = f"kubernetes.io/service-name={service}"
    listed = discovery.list_namespaced_endpoint_slice(namespace, label_selector=selector)
    if bool(endpoint_ready(api, namespace, service, ip)) == want:
        return
    stream = watch.Watch()
    for _ in stream.stream(discovery.list_namespaced_endpoint_slice, namespace, label_selector=selector,
                           resource_version=listed.metadata.resource_version, timeout_seconds=timeout):
        if bool(endpoint_ready(api, namespace, service, ip)) == want:
            stream.stop()
            return
    raise TimeoutError(f"endpoint {ip} of service {service} not ready={want} after {timeout}s")


def test_deleting_the_pod_stops_its_process(core, namespace):
    core.create_namespaced_pod(namespace, vllm_pod("doomed"))
    wait_pod(core, namespace, "doomed", ready, "Ready")
    pid = pod_process(namespace, "doomed")["pid"]
    pidfd = os.pidfd_open(pid)
    try:
        core.delete_namespaced_pod("doomed", namespace)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        assert poller.poll(60_000), f"process {pid} of the deleted pod still runs after 60s"
    finally:
        os.close(pidfd)


def test_crash_at_start_looks_like_a_crash_loop_with_the_crashed_instances_log(core, namespace):
    core.create_namespaced_pod(namespace, vllm_pod("crasher", annotations={f"{SIM}crash-at-start": "true"}))

    def crashed(pod):
        return waiting_reason(pod) == "CrashLoopBackOff"

    pod = wait_pod(core, namespace, "crasher", crashed, "in CrashLoopBackOff")
    status = pod.status.container_statuses[0]
    assert status.last_state.terminated.exit_code == 1 and status.last_state.terminated.reason == "Error"
    assert not status.ready and condition(pod, "Ready") != "True"
    # The first restart comes after 10 s: then the crashed instance's output is the previous log.
    pod = wait_pod(core, namespace, "crasher", lambda p: p.status.container_statuses[0].restart_count >= 1
                   and crashed(p), "crashed again after a restart")
    log = core.read_namespaced_pod_log("crasher", namespace, container="vllm", previous=True)
    assert "simulated crash at start" in log


def test_an_unknown_test_annotation_is_a_config_error_naming_the_allowed_ones(core, namespace):
    core.create_namespaced_pod(namespace, vllm_pod("typo", annotations={f"{SIM}ttft": "1s"}))

    pod = wait_pod(core, namespace, "typo", lambda p: waiting_reason(p) == "CreateContainerConfigError",
                   "in CreateContainerConfigError")
    message = pod.status.container_statuses[0].state.waiting.message
    assert f"unknown annotation {SIM}ttft" in message and f"{SIM}time-to-first-token" in message


def test_tools_cluster_sim_reconfigures_every_pods_simulator(core, namespace):
    core.create_namespaced_pod(namespace, vllm_pod("faulty"))
    # A pod that loads for an hour: `sim` waits for every process to start, not for this one to be Ready.
    core.create_namespaced_pod(namespace, vllm_pod("slow-loader", annotations={f"{SIM}startup-duration": "3600s"}))
    wait_pod(core, namespace, "faulty", ready, "Ready")
    wait_pod(core, namespace, "slow-loader", lambda p: bool(p.status.container_statuses)
             and p.status.container_statuses[0].started, "started")
    before = pod_process(namespace, "faulty")["pid"]
    try:
        restart_simulator(["--failure-injection-rate=37"])  # returns once every pod process is ready again
        after = pod_process(namespace, "faulty")
        assert after["pid"] != before and "--failure-injection-rate=37" in cmdline(after["pid"])
    finally:
        restart_simulator([])
    assert "--failure-injection-rate=37" not in cmdline(pod_process(namespace, "faulty")["pid"])
    wait_pod(core, namespace, "faulty", ready, "Ready")


def test_a_pod_without_the_vllm_label_is_ready_at_once_and_reaches_the_shared_simulator(api, core, namespace):
    pod = vllm_pod("plain")
    pod["metadata"]["labels"] = {"app": "other"}
    core.create_namespaced_pod(namespace, pod)
    wait_pod(core, namespace, "plain", ready, "Ready")
    assert pod_process(namespace, "plain") is None
    assert http_get(api, namespace, "plain", "/health")[0] == 200


def test_a_loading_simulator_serves_health_but_its_pod_is_not_ready(api, core, namespace):
    """startup-duration: /health answers at once, /health/ready says 503 while "loading": not Ready (as vLLM,
    whose readiness waits for the model)."""
    core.create_namespaced_pod(namespace, vllm_pod("loading", annotations={f"{SIM}startup-duration": "3600s"}))
    wait_pod(core, namespace, "loading", lambda p: bool(p.status.container_statuses)
             and p.status.container_statuses[0].started, "started (its process answers /health)")
    assert http_get(api, namespace, "loading", "/health")[0] == 200
    assert http_get(api, namespace, "loading", "/health/ready")[0] == 503
    pod = core.read_namespaced_pod("loading", namespace)
    assert condition(pod, "ContainersReady") == "False" and condition(pod, "Ready") == "False"
    assert pod_process(namespace, "loading")["ready"] is False
