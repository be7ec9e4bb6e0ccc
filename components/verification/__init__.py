"""Post-deploy verification of a vLLM release: pods Running/Ready, /health, /ready, completions, p95 latency.

Modules: ``stats`` (percentiles), ``checks``/``report`` (check table), ``settings`` (inputs), ``pods`` (pod
state and diagnosis), ``pod_wait`` (bounded wait on the cluster), ``transport`` (port-forward / direct /
service proxy), ``http_checks``, ``verify`` (the whole run), ``resource`` (the dynamic resource).
"""

from .resource import DeploymentVerification, DeploymentVerificationArgs

__all__ = ["DeploymentVerification", "DeploymentVerificationArgs"]
