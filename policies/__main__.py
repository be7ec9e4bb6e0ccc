"""vllm-deploy policy pack: serves the rules in rules/ to the Pulumi engine (blocks; never import in tests)."""

from pulumi_policy import PolicyPack
from rules.catalog import DEFAULT_ENFORCEMENT, PACK_NAME, all_policies

PolicyPack(
    name=PACK_NAME,
    policies=all_policies(),
    enforcement_level=DEFAULT_ENFORCEMENT,
    description="Stops unsafe or broken vLLM deployments at `pulumi preview`.",
)
