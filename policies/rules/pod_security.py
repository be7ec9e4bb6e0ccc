"""Pod security of the vLLM container: no privilege escalation, all capabilities dropped.

Advisory by default: some vLLM images need more (e.g. IPC_LOCK for RDMA). Absent keys fall back to the
chart defaults (allowPrivilegeEscalation: false, capabilities.drop: [ALL]).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .reading import as_bool, elements, is_list, is_unknown, lookup, show
from .subjects import Release


def check_pod_security(release: Release, config: Mapping[str, Any]) -> Iterator[str]:
    """securityContext: not privileged, allowPrivilegeEscalation false, capabilities.drop includes ALL, none added."""
    context = release.value("securityContext")
    if context is None or is_unknown(context):
        return
    if as_bool(lookup(context, "privileged")) is True:
        yield f"{release.label}: securityContext.privileged is true; remove it (vLLM needs GPUs, not a privileged pod)."
    escalation = lookup(context, "allowPrivilegeEscalation")
    if not is_unknown(escalation) and escalation is not None and as_bool(escalation) is not False:
        yield (f"{release.label}: securityContext.allowPrivilegeEscalation is {show(escalation)}; "
               f"set it to false.")
    drop = lookup(context, "capabilities", "drop")
    if drop is not None and not is_unknown(drop):
        dropped = {str(cap).upper() for cap in elements(drop) if not is_unknown(cap)} if is_list(drop) else set()
        if "ALL" not in dropped:
            yield (f"{release.label}: securityContext.capabilities.drop is "
                   f"{show(list(elements(drop)) if is_list(drop) else drop)}; "
                   f"drop [\"ALL\"] and add back only what the image needs.")
    added = lookup(context, "capabilities", "add")
    if is_list(added) and len(added) > 0:
        names = [cap for cap in elements(added) if not is_unknown(cap)]
        yield (f"{release.label}: securityContext.capabilities.add is {names}; keep it empty unless the vLLM image "
               f"needs it (then record the exception with this policy's enforcement level).")
