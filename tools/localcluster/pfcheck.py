"""``tools/cluster check``'s second probe: GET /health through the Python kubernetes client's port-forward
(what the verification uses). Run with the project's virtualenv:

    python -m tools.localcluster.pfcheck KUBECONFIG CONTEXT POD NAMESPACE PORT

Prints the first response line; exit status 0 when it is ``HTTP/1.1 200``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from kubernetes import client, config
    from kubernetes.stream import portforward

    kubeconfig, context, pod, namespace, port = argv
    config.load_kube_config(config_file=kubeconfig, context=context)
    api = client.CoreV1Api()
    pf = portforward(api.connect_get_namespaced_pod_portforward, pod, namespace, ports=port)
    sock = pf.socket(int(port))
    sock.settimeout(10)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    data = b""
    while b"\r\n" not in data:
        try:
            chunk = sock.recv(4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    sock.close()
    print(data.decode(errors="replace").splitlines()[0] if data else "NO DATA", "| error:", pf.error(int(port)))
    return 0 if data.startswith(b"HTTP/1.1 200") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
