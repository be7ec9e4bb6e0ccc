import pytest
import yaml

from tools.localcluster.egress import EgressRefused, egress_config, egress_target

PODS = {"ns/a": {"pod_ip": "198.18.0.7", "port": 41001, "pid": 123},
        "ns/crashed": {"pod_ip": "198.18.0.9", "port": 41002, "pid": None}}


def test_loopback_passes_through():
    assert egress_target("127.0.0.1", 26250, PODS) == ("127.0.0.1", 26250)


def test_a_pod_ip_reaches_that_pods_process():
    assert egress_target("198.18.0.7", 8000, PODS) == ("127.0.0.1", 41001)


@pytest.mark.parametrize("host,port,message", [
    ("10.0.0.1", 8000, "reaches only 127.0.0.1 and pod IPs (198.18.0.0/16)"),
    ("example.com", 443, "resolves no names"),
    ("198.18.0.8", 8000, "no process serves pod IP 198.18.0.8"),
    ("198.18.0.9", 8000, "no process serves pod IP 198.18.0.9"),  # its process is not running
    ("198.18.0.7", 22, "pod ns/a serves only port 8000, not 22"),
])
def test_everything_else_is_refused(host, port, message):
    with pytest.raises(EgressRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        egress_target(host, port, PODS)


def test_the_api_servers_egress_config_points_cluster_traffic_at_the_socket(tmp_path):
    config = yaml.safe_load(egress_config(tmp_path / "egress.sock"))
    assert config["kind"] == "EgressSelectorConfiguration"
    assert config["egressSelections"] == [{"name": "cluster", "connection": {
        "proxyProtocol": "HTTPConnect", "transport": {"uds": {"udsName": str(tmp_path / "egress.sock")}}}}]
