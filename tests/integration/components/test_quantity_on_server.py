"""The shared quantity table (tests/support/quantity_cases.py) against a real kube-apiserver.

Each case is sent as a ResourceQuota's hard limit with a server-side dry run: the API server's JSON decoder
(Quantity.UnmarshalJSON, then resource.ParseQuantity) answers 400 BadRequest for what is not a quantity; a
negative quantity parses and is then refused by validation (422). The accepted value comes back in canonical
form, which must equal the table's value wherever canonical form can hold it exactly.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from kubernetes import config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError

from components.quantity import parse_quantity
from tests.support.cluster import ensure_cluster
from tests.support.quantity_cases import CASES, INVALID, case_id

pytestmark = [pytest.mark.cluster, pytest.mark.tools]

NAMESPACE = "default"
STRICTER_THAN_THE_SERVER = frozenset({"str:'Gi'", "str:'e3'", "str:'-'", "str:'+'", "str:'.'"})
"""Cases the table refuses although the server's lenient scanner reads them (as 0): no stack needs them."""

_SENT = [case for case in CASES if case.value is not None]  # YAML null leaves a setting unset: nothing to send
_LARGEST_CANONICAL = Decimal(2**63 - 1)  # canonical form caps larger values ...
_SMALLEST_CANONICAL = Decimal("1e-3")  # ... and rounds finer ones up to a multiple of 1m


@pytest.fixture(scope="module")
def quotas():
    """ResourceQuotas through the dynamic client, which sends the value as JSON without checking its type."""
    cluster = ensure_cluster()
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig), context=cluster.context)
    yield DynamicClient(api).resources.get(api_version="v1", kind="ResourceQuota")
    api.close()


def server_reading(quotas, value: object) -> Decimal | str | None:
    """The value the API server stores for ``value``; INVALID when it cannot decode it; None when it decodes it
    but validation refuses it (a negative quota)."""
    body = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "quantity-probe"},
            "spec": {"hard": {"requests.memory": value}}}
    try:
        created = quotas.create(body=body, namespace=NAMESPACE, query_params=[("dryRun", "All")])
    except DynamicApiError as exc:
        if exc.status == 400:
            return INVALID
        assert exc.status == 422 and "must be greater than or equal to 0" in exc.body, exc.body
        return None
    return parse_quantity(created.spec.hard["requests.memory"])


@pytest.mark.parametrize("case", _SENT, ids=case_id)
def test_the_api_server_agrees_with_the_table(quotas, case):
    got = server_reading(quotas, case.value)
    if case_id(case) in STRICTER_THAN_THE_SERVER:
        assert case.expected == INVALID and got == 0
    elif case.expected == INVALID:
        assert got == INVALID, f"the API server reads it as {got}"
    elif got is None:
        assert case.expected < 0, "the API server refuses it"
    else:
        assert got != INVALID, "the API server refuses it"
        if case.expected <= _LARGEST_CANONICAL and case.expected % _SMALLEST_CANONICAL == 0:
            assert got == case.expected
