"""GPU capacity gate: wait, before the Helm release, until the cluster can place the deployment's GPU pods.

``capacity`` (pure fit maths), ``cluster_feed``/``cluster_view`` (list+watch of nodes and pods), ``waiter``
(the event-driven wait), ``progress`` (log lines), ``inputs`` (validation) and ``resource`` (the dynamic
resource). Import the resource from ``components.gpu_gate.resource``; this package imports nothing eagerly.
"""
