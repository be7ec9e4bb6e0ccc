"""Pure rules of the vllm-deploy policy pack; catalog.all_policies() wraps them for pulumi-policy."""
