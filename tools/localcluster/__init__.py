"""The local cluster: a Kubernetes control plane with kwok GPU nodes on 127.0.0.1 (``tools/cluster``).

Processes (each one module's job; state in <repo>/.state/cluster, binaries from <repo>/.tools/bin):

- etcd, kube-apiserver, kube-controller-manager, kube-scheduler (controlplane.py, pki.py);
- egress-proxy (egress.py): the API server's only way to kubelets and pods; it lets through 127.0.0.1 and
  maps a pod IP to that pod's process, so pod IPs (198.18.0.0/16, not loopback: EndpointSlices refuse
  loopback) give Services real endpoints while nothing ever leaves 127.0.0.1;
- kwok (kwok.py): nodes and pods are simulated; its kubelet API serves port-forward, logs and exec;
- vllm-sim: the shared simulator (``VLLM_SIM_URL``), behind port 8000 of every pod the runner does not run;
- pod-runner (runner.py): gives each vLLM pod (label ``app.kubernetes.io/name=vllm``) its own process.
- postgres (postgres.py): the model registry's PostgreSQL on 127.0.0.1 (initdb into <repo>/.state/postgres, then
  pg_ctl; as root run as the ``postgres`` user), for the ``local`` stack's registry.

Readiness (kwok.py, our stages): a pod is Ready only when every container is ready and every
``spec.readinessGates`` condition is True in ``status.conditions``. Patching a gate's condition True through
pods/status makes the pod Ready and puts it into its Service's endpoints; patching it False takes it out.
A runner pod's container is ready once its process answers ``GET /health`` with 2xx (and, for the
simulator, ``/health/ready`` is not 503: ``--startup-duration`` simulates model loading).

Per-pod processes (runner.py, engines.py, sim.py): ``tools/cluster up --engine sim`` (the only engine so
far; issue 15 adds ``vllm``, the real server run from the pod's container spec) runs llm-d-inference-sim
(or ``$VLLM_SIM_CMD``) per pod on its own loopback port, configured from the pod: its ``--model``,
``--served-model-name`` and the other flags the simulator knows from the container's args; the flags of
the last ``tools/cluster sim -- ARGS`` (for every pod); then these test-only pod annotations:

    sim.vllm-deploy.dev/time-to-first-token: "3500ms"      --time-to-first-token
    sim.vllm-deploy.dev/inter-token-latency: "50ms"        --inter-token-latency
    sim.vllm-deploy.dev/failure-injection-rate: "100"      --failure-injection-rate (percent)
    sim.vllm-deploy.dev/failure-types: "server_error"      --failure-types
    sim.vllm-deploy.dev/startup-duration: "30s"            --startup-duration (not ready while "loading")
    sim.vllm-deploy.dev/args: "--max-num-seqs=2"           more simulator flags (shell quoting)
    sim.vllm-deploy.dev/crash-at-start: "true"             the container exits 1 at every start

A kwok PortForward named after the pod sends its port-forwards to its process, and a kwok Logs object makes
``kubectl logs`` (and ``--previous``) show its output. The process starts once a port-forward through the API
server shows that kwok has the PortForward (until then the container waits in ContainerCreating): a started or
Ready pod never answers port-forwards with the shared simulator. A process that exits shows in the pod status like a
kubelet's crash loop (lastState terminated, waiting CrashLoopBackOff, restartCount, restart after 10 s,
20 s, ... 160 s). An unknown ``sim.vllm-deploy.dev/`` annotation shows as CreateContainerConfigError.
Deleting the pod stops its process. ``tools/cluster status`` lists the pod processes and their ports.
"""
