from components.verification.transport import resolve_container_port

SERVICE = {
    "spec": {
        "ports": [
            {"name": "http", "port": 8000, "targetPort": "http"},
            {"name": "m", "port": 9000, "targetPort": 9100},
        ]
    }
}
POD = {"spec": {"containers": [{"name": "vllm", "ports": [{"name": "http", "containerPort": 8080}]}]}}


def test_named_target_port_is_looked_up_in_the_pod():
    assert resolve_container_port(SERVICE, POD, 8000) == 8080


def test_numeric_target_port():
    assert resolve_container_port(SERVICE, POD, 9000) == 9100


def test_a_target_port_of_other_digits_is_a_name_not_a_number():
    service = {"spec": {"ports": [{"port": 8000, "targetPort": "8080"}, {"port": 9000, "targetPort": "\u00b2"}]}}
    assert resolve_container_port(service, POD, 8000) == 8080
    assert resolve_container_port(service, POD, 9000) == 9000  # no container port of that name: the Service port


def test_falls_back_to_the_service_port():
    assert resolve_container_port(None, None, 8000) == 8000
    assert resolve_container_port(SERVICE, None, 8000) == 8000  # named, but no pod to resolve it
    assert resolve_container_port(SERVICE, POD, 7000) == 7000


def test_port_forward_handshake_errors_become_one_line_without_headers():
    from kubernetes.client.exceptions import ApiException

    from components.verification.transport import describe_open_error

    reason = (
        "Handshake status 404 Not Found -+-+- {'audit-id': 'x', 'content-type': 'application/json'} -+-+- "
        '{"kind":"Status","status":"Failure","message":"pods \\"llama-1\\" not found","code":404}'
    )
    assert (
        describe_open_error(ApiException(status=0, reason=reason))
        == 'Handshake status 404 Not Found: pods "llama-1" not found'
    )
    assert describe_open_error(RuntimeError("boom")) == "boom"
