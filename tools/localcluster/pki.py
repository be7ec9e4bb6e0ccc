"""The cluster's PKI (a CA and one certificate per client and server, made with openssl) and kubeconfigs."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .layout import CONTEXT, HOST, SERVICE_IP
from .processes import ClusterError, log


@dataclass(frozen=True)
class Cert:
    """One certificate signed by the cluster CA."""

    name: str  # file stem in pki/
    cn: str
    org: str | None = None
    sans: tuple[str, ...] = ()
    server: bool = False

    def subject(self) -> str:
        return f"/CN={self.cn}" + (f"/O={self.org}" if self.org else "")

    def extensions(self) -> str:
        lines = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
                 "extendedKeyUsage=" + ("serverAuth,clientAuth" if self.server else "clientAuth")]
        if self.sans:
            lines.append("subjectAltName=" + ",".join(self.sans))
        return "\n".join(lines) + "\n"


LOOPBACK_SANS = (f"IP:{HOST}", "DNS:localhost")
CERTS = (
    Cert("apiserver", "kube-apiserver", server=True, sans=(
        f"IP:{HOST}", f"IP:{SERVICE_IP}", "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local")),
    Cert("admin", "kubernetes-admin", org="system:masters"),
    Cert("apiserver-kubelet-client", "kube-apiserver-kubelet-client", org="system:masters"),
    Cert("controller-manager", "system:kube-controller-manager"),
    Cert("scheduler", "system:kube-scheduler"),
    # kwok updates node/pod status and leases for many nodes: give it admin rights.
    Cert("kwok-client", "kwok-controller", org="system:masters"),
    Cert("kwok-serving", "kwok-kubelet", server=True, sans=LOOPBACK_SANS),
    Cert("component-serving", "localhost", server=True, sans=LOOPBACK_SANS),
)


def openssl(*args: str) -> None:
    r = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise ClusterError(f"openssl {' '.join(args)} failed:\n{r.stderr}")


def genkey(path: Path) -> None:
    """An ECDSA P-256 key (PKCS#8): what every component accepts, and ~50x faster to make than RSA-2048."""
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))


def make_cert(pki: Path, cert: Cert) -> None:
    key, csr, crt, ext = (pki / f"{cert.name}{s}" for s in (".key", ".csr", ".crt", ".ext"))
    genkey(key)
    openssl("req", "-new", "-key", str(key), "-subj", cert.subject(), "-out", str(csr))
    ext.write_text(cert.extensions())
    openssl("x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
            "-CAcreateserial", "-days", "3650", "-sha256", "-extfile", str(ext), "-out", str(crt))
    csr.unlink()
    ext.unlink()


def ensure_pki(pki: Path) -> None:
    """Create the PKI once (kept by down; a partial one is made again)."""
    if (pki / "done").exists():
        return
    if shutil.which("openssl") is None:
        raise ClusterError("openssl is required (apt-get install openssl)")
    shutil.rmtree(pki, ignore_errors=True)
    pki.mkdir(parents=True)
    log("generating PKI (openssl)")
    genkey(pki / "ca.key")
    openssl("req", "-x509", "-new", "-key", str(pki / "ca.key"), "-subj", "/CN=vllm-local-ca",
            "-days", "3650", "-sha256", "-out", str(pki / "ca.crt"))
    for cert in CERTS:
        make_cert(pki, cert)
    genkey(pki / "sa.key")
    openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    (pki / "done").write_text("ok\n")


def render_kubeconfig(pki: Path, server: str, user: str, cert: str) -> str:
    """A kubeconfig with one context (``vllm-local``) for ``user`` authenticating with pki/<cert>.crt."""
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: {CONTEXT}\n"
        "  cluster:\n"
        f"    server: {server}\n"
        f"    certificate-authority: {pki / 'ca.crt'}\n"
        "users:\n"
        f"- name: {user}\n"
        "  user:\n"
        f"    client-certificate: {pki / (cert + '.crt')}\n"
        f"    client-key: {pki / (cert + '.key')}\n"
        "contexts:\n"
        f"- name: {CONTEXT}\n"
        "  context:\n"
        f"    cluster: {CONTEXT}\n"
        f"    user: {user}\n"
        f"current-context: {CONTEXT}\n"
    )
