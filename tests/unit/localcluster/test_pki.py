from pathlib import Path

import yaml

from tools.localcluster.pki import CERTS, Cert, render_kubeconfig


def test_kubeconfig_names_context_server_and_certificate_files():
    doc = yaml.safe_load(render_kubeconfig(Path("/s/pki"), "https://127.0.0.1:26443", "admin", "admin"))
    assert doc["current-context"] == "vllm-local"
    assert doc["clusters"][0]["cluster"] == {"server": "https://127.0.0.1:26443",
                                             "certificate-authority": "/s/pki/ca.crt"}
    assert doc["users"][0] == {"name": "admin", "user": {"client-certificate": "/s/pki/admin.crt",
                                                         "client-key": "/s/pki/admin.key"}}
    assert doc["contexts"][0]["context"] == {"cluster": "vllm-local", "user": "admin"}


def test_server_certificates_have_loopback_sans_and_server_usage():
    cert = Cert("x", "localhost", server=True, sans=("IP:127.0.0.1", "DNS:localhost"))
    ext = cert.extensions()
    assert "extendedKeyUsage=serverAuth,clientAuth" in ext and "subjectAltName=IP:127.0.0.1,DNS:localhost" in ext


def test_client_certificates_carry_their_group():
    admin = next(c for c in CERTS if c.name == "admin")
    assert admin.subject() == "/CN=kubernetes-admin/O=system:masters"
    assert "extendedKeyUsage=clientAuth" in admin.extensions() and "subjectAltName" not in admin.extensions()


def test_every_serving_certificate_covers_only_loopback_names():
    for cert in CERTS:
        for san in cert.sans:
            assert san.startswith("IP:127.") or san.startswith("DNS:"), (cert.name, san)
