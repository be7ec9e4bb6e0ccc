"""``ReleaseDrift``: a dynamic resource that makes ``pulumi preview --refresh`` see hand edits of the release's objects.

create/update check that the live objects match the Helm release's manifest (right after Helm applied it they
do; a difference then means something else rewrites them, and the update fails naming it). ``read`` -- run by
every ``pulumi refresh`` and ``pulumi preview/up --refresh`` -- reads the cluster again and returns the
differences both as the ``drift`` output and as the ``drift`` input, while the program always declares
``drift: []``. So after a ``kubectl edit`` the refreshed state differs from the program: the preview shows
``~ drift`` with one line per changed field and ``--expect-no-changes`` fails. An ``up`` then fails with the
same lines and the remedy instead of hiding the edit.

The kubeconfig is kept in the outputs (as a secret: ``additional_secret_outputs``) because ``read`` receives
only the outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dyn

from components.kube import KubeAccess, KubeAccessError, api_client_for, describe_source
from components.provider_errors import plain_failures
from components.resource_args import ClusterArgs
from components.unknowns import is_unknown

__all__ = ["OUTPUT_KEYS", "PROVIDER_VERSION", "ReleaseDrift", "ReleaseDriftArgs", "ReleaseDriftFailed",
           "ReleaseDriftProvider", "drift_message"]

PROVIDER_VERSION = "1"
"""Bump when the comparison changes, so the change shows in the next diff."""

INPUT_KEYS = ("kubeconfig", "context", "namespace", "release_name", "revision", "provider_version")
CHANGE_KEYS = ("kubeconfig", "context", "namespace", "release_name", "revision", "provider_version")
OUTPUT_KEYS = ("drift", "checked_revision", "objects")


class ReleaseDriftFailed(RuntimeError):
    """The release's live objects differ from its manifest; the message lists them and the remedy."""


@dataclass
class ReleaseDriftArgs(ClusterArgs, provider_version=PROVIDER_VERSION):
    """Inputs of ``ReleaseDrift``; ``kubeconfig`` is always made secret."""

    namespace: pulumi.Input[str]
    release_name: pulumi.Input[str]
    revision: pulumi.Input[int]

    def to_inputs(self) -> dict[str, Any]:
        return {**super().to_inputs(), "drift": []}  # what the program declares: no differences


def _revision(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def drift_message(namespace: str, release_name: str, revision: Any, drift: list[str]) -> str:
    lines = [f"Helm release {namespace}/{release_name} (revision {revision}) was changed outside Pulumi:"]
    lines += [f"  - {line}" for line in drift]
    lines.append(f"Restore it: `helm rollback {release_name} -n {namespace}` re-applies the last revision, or "
                 "change the stack configuration so that the next `pulumi up` rolls out a new revision (Helm's "
                 "three-way merge restores every field the chart sets). To keep a change, put it in the stack "
                 "configuration instead of editing the cluster.")
    return "\n".join(lines)


def _read(props: dict[str, Any]) -> tuple[Any, int, list[str]]:
    from .live import read_drift  # the kubernetes client only where the cluster is read

    access = KubeAccess.from_inputs(props)
    try:
        with api_client_for(access) as api:
            reading = read_drift(api, str(props["namespace"]), str(props["release_name"]))
    except KubeAccessError as exc:
        raise ReleaseDriftFailed(str(exc)) from None
    except Exception as exc:  # an API error: name it, never the kubeconfig
        status = getattr(exc, "status", None)
        raise ReleaseDriftFailed(f"cannot read Helm release {props['namespace']}/{props['release_name']} "
                                 f"({describe_source(access)}): {type(exc).__name__}"
                                 f"{f' HTTP {status}' if status else ''}") from None
    drift = list(reading.drift)
    expected = _revision(props.get("revision"))
    if reading.revision is not None and isinstance(expected, int) and reading.revision != expected:
        drift.insert(0, f"Helm release {props['namespace']}/{props['release_name']}: revision {reading.revision} "
                        f"is deployed, Pulumi deployed revision {expected} (helm upgrade/rollback by hand?)")
    return reading.revision, reading.objects, drift


def _outputs(props: dict[str, Any], revision: Any, objects: int, drift: list[str]) -> dict[str, Any]:
    outs = {key: props.get(key) for key in INPUT_KEYS}
    outs["revision"] = _revision(outs["revision"])
    outs.update(drift=drift, checked_revision=revision, objects=objects)
    return outs


@plain_failures(ReleaseDriftFailed)
class ReleaseDriftProvider(dyn.ResourceProvider):
    """check / diff / create / update / read of ``ReleaseDrift``; delete has nothing to remove."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.CheckResult:
        failures = [dyn.CheckFailure(key, f"{key} must be a non-empty string, got {news.get(key)!r}")
                    for key in ("namespace", "release_name")
                    if not is_unknown(news.get(key)) and not (isinstance(news.get(key), str) and news[key])]
        return dyn.CheckResult({**news, "revision": _revision(news.get("revision"))}, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        changed = [key for key in CHANGE_KEYS
                   if is_unknown(news.get(key)) or _revision(olds.get(key)) != _revision(news.get(key))]
        if olds.get("drift"):
            changed.append("drift")
        return dyn.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        return dyn.CreateResult(id_=f"{props['namespace']}/{props['release_name']}", outs=self._check(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        return dyn.UpdateResult(outs=self._check(news))

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        revision, objects, drift = _read(props)
        outs = _outputs(props, revision, objects, drift)
        inputs = {key: outs[key] for key in INPUT_KEYS}
        inputs["drift"] = drift  # differs from the program's `drift: []` exactly when the cluster drifted
        return dyn.ReadResult(id_=id_, outs=outs, inputs=inputs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None

    def _check(self, props: dict[str, Any]) -> dict[str, Any]:
        revision, objects, drift = _read(props)
        if drift:
            raise ReleaseDriftFailed(drift_message(props["namespace"], props["release_name"],
                                                   _revision(props.get("revision")), drift)) from None
        return _outputs(props, revision, objects, drift)


class ReleaseDrift(dyn.Resource, module="vllm", name="ReleaseDrift"):
    """Reports, on every refresh, the fields of the release's objects that differ from its manifest."""

    drift: pulumi.Output[list[str]]
    checked_revision: pulumi.Output[int]
    objects: pulumi.Output[int]

    def __init__(self, resource_name: str, args: ReleaseDriftArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {**args.to_inputs(), "checked_revision": None, "objects": None}
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"]))
        super().__init__(ReleaseDriftProvider(), resource_name, props, opts)
