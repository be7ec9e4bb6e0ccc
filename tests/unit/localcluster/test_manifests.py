from tools.localcluster.layout import CPU_NODES, GPU_NODES, GPUS_PER_NODE, ROUTE_PROBE_PORT
from tools.localcluster.manifests import (
    check_pod,
    cluster_objects,
    node_manifest,
    pod_logs,
    pod_port_forward,
    route_token,
)

POD = {"metadata": {"name": "llama-abc", "namespace": "ns1", "uid": "u-1"}}


def test_gpu_node_has_gpus_label_and_taint():
    node = node_manifest("gpu-node-0", gpu=True)
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == str(GPUS_PER_NODE)
    assert node["metadata"]["labels"]["node-type"] == "gpu"
    assert node["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"


def test_cpu_node_has_no_gpu_and_no_taint():
    node = node_manifest("cpu-node-0", gpu=False)
    assert "nvidia.com/gpu" not in node["status"]["capacity"]
    assert node["spec"] == {} and node["metadata"]["labels"]["node-type"] == "cpu"


def test_cluster_objects_are_every_node_and_the_system_namespace():
    names = [(o["kind"], o["metadata"]["name"]) for o in cluster_objects()]
    assert names == [("Node", n) for n in (*GPU_NODES, *CPU_NODES)] + [("Namespace", "system")]


def test_check_pod_is_a_runner_pod_on_a_gpu_node():
    pod = check_pod("p", "system")
    assert pod["metadata"]["labels"] == {"app.kubernetes.io/name": "vllm"}
    assert pod["spec"]["containers"][0]["ports"] == [{"containerPort": 8000}]
    assert pod["spec"]["nodeSelector"] == {"node-type": "gpu"}


def test_port_forward_is_named_after_the_pod_and_owned_by_it():
    pf = pod_port_forward(POD, [8000, 9000], 41234)
    assert (pf["kind"], pf["metadata"]["name"], pf["metadata"]["namespace"]) == ("PortForward", "llama-abc", "ns1")
    assert pf["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Pod", "name": "llama-abc",
                                                  "uid": "u-1"}]
    assert pf["spec"]["forwards"] == [{"ports": [8000, 9000], "target": {"address": "127.0.0.1", "port": 41234}},
                                      {"ports": [ROUTE_PROBE_PORT], "command": ["echo", "u-1 41234"]}]


def test_the_route_token_tells_pods_of_one_name_and_versions_of_one_pod_apart():
    other_pod = {**POD, "metadata": {**POD["metadata"], "uid": "u-2"}}
    tokens = {route_token(POD, 41234), route_token(POD, 41235), route_token(other_pod, 41234)}
    assert len(tokens) == 3
    assert ROUTE_PROBE_PORT not in (8000, 9000)


def test_logs_point_at_the_current_and_previous_files():
    logs = pod_logs(POD, ["vllm"], "/l/cur.log", "/l/prev.log")
    assert logs["kind"] == "Logs" and logs["metadata"]["name"] == "llama-abc"
    assert logs["spec"]["logs"] == [{"containers": ["vllm"], "logsFile": "/l/cur.log",
                                     "previousLogsFile": "/l/prev.log", "follow": True}]
