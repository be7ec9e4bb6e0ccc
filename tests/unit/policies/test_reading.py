"""Unknown values (computed during the update) skip a check instead of failing the policy."""

from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policies.rules.reading import UNKNOWN, as_bool, as_number, is_unknown, lookup, show, walk
from policies.rules.subjects import is_vllm_release, release_from


def test_lookup_follows_mappings_and_lists():
    props = unknown_checking_proxy({"values": {"env": [{"name": "A"}]}})
    assert lookup(props, "values", "env", 0, "name") == "A"
    assert lookup(props, "values", "missing", default="d") == "d"
    assert lookup(props, "values", "env", 5, "name") is None


def test_lookup_turns_unknown_values_into_the_unknown_sentinel():
    props = unknown_checking_proxy(
        {"values": {"image": {"tag": UNKNOWN_STRING_VALUE}}, "timeout": UNKNOWN_NUMBER_VALUE}
    )
    assert lookup(props, "values", "image", "tag") is UNKNOWN
    assert lookup(props, "timeout") is UNKNOWN
    assert is_unknown(UNKNOWN_STRING_VALUE) and not is_unknown("v0.11.0")


def test_walk_yields_every_leaf_with_its_path_and_unknown_leaves_as_unknown():
    leaves = dict(walk(unknown_checking_proxy({"a": {"b": [1, UNKNOWN_STRING_VALUE]}, "c": "x"})))
    assert leaves == {"a.b[0]": 1, "a.b[1]": UNKNOWN, "c": "x"}


def test_numbers_and_booleans_arrive_in_wire_shapes():
    assert as_number(1.0) == 1.0 and as_number("1500") == 1500.0 and as_number(True) is None
    assert as_bool("true") is True and as_bool(False) is False and as_bool(UNKNOWN) is None
    assert show(1200.0) == "1200" and show("latest") == '"latest"' and show(None) == "(not set)"


def test_recognises_the_vllm_release_by_chart_or_model_path():
    helm = "kubernetes:helm.sh/v3:Release"
    assert is_vllm_release(helm, unknown_checking_proxy({"chart": "./charts/vllm-deployment"}))
    assert is_vllm_release(helm, unknown_checking_proxy({"chart": "/abs/charts/vllm-deployment/"}))
    assert is_vllm_release(helm, unknown_checking_proxy({"chart": "oci://x/other", "values": {"model": {"path": "m"}}}))
    assert not is_vllm_release(helm, unknown_checking_proxy({"chart": "ingress-nginx", "values": {}}))
    assert not is_vllm_release("kubernetes:apps/v1:Deployment", {"chart": "./charts/vllm-deployment"})
    assert not is_vllm_release(helm, unknown_checking_proxy({"chart": UNKNOWN_STRING_VALUE}))


def test_release_is_named_after_its_helm_release_name_when_known():
    assert release_from("res", unknown_checking_proxy({"name": "llama-7b"})).label == 'vLLM release "llama-7b"'
    assert release_from("res", unknown_checking_proxy({"name": UNKNOWN_STRING_VALUE})).name == "res"
