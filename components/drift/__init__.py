"""Release drift: does the cluster still hold what the Helm release applied? (``helm.v3.Release`` cannot tell.)

pulumi-kubernetes' ``helm.v3.Release`` refresh reads only Helm's release record (values, chart, revision), never
the objects Helm created, so a ``kubectl edit``/``kubectl scale`` of the Deployment is invisible to
``pulumi preview --refresh``. ``ReleaseDrift`` is a dynamic resource whose ``read`` (run by every refresh)
compares each object of the release's manifest with the live object and reports the differences as a change.

``release_record`` (decode Helm's release Secret, pure), ``compare`` (declared vs live, pure), ``live`` (the
Kubernetes reads) and ``resource`` (the dynamic resource). This package imports nothing eagerly.
"""
