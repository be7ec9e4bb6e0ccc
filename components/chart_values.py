"""``DeploymentConfig`` -> Helm values for ``charts/vllm-deployment`` (pure)."""

from __future__ import annotations

from typing import Any

from components.config import DeploymentConfig
from components.presets import GPU_RESOURCE, ROLLOUT_SURGE_PODS, VERIFIED_CONDITION

__all__ = ["chart_values"]


def chart_values(config: DeploymentConfig) -> dict[str, Any]:
    """The values the Helm release passes to the chart; keys match ``values.yaml``."""
    model, resources = config.model, config.resources
    return {
        "fullnameOverride": config.release.name,
        "environment": config.environment,
        "replicaCount": config.release.replicas,
        "image": {
            "repository": config.image.repository,
            "tag": config.image.tag,
            "pullPolicy": config.image.pull_policy,
        },
        "model": {
            "path": model.path,
            "size": model.size,
            "servedModelName": model.served_model_name,
            "tensorParallelSize": model.tensor_parallel_size,
            "maxModelLen": model.max_model_len,
            "gpuMemoryUtilization": model.gpu_memory_utilization,
            "dtype": model.dtype,
            "extraArgs": list(model.extra_args),
            "hfToken": {"existingSecret": model.hf_token_secret_name, "key": model.hf_token_secret_key},
        },
        "apiKey": {"existingSecret": model.api_key_secret_name, "key": model.api_key_secret_key},
        "resources": {
            "limits": {GPU_RESOURCE: resources.gpus, "memory": resources.memory_limit, "cpu": resources.cpu_limit},
            "requests": {GPU_RESOURCE: resources.gpus, "memory": resources.memory_request,
                         "cpu": resources.cpu_request},
        },
        "startup": {"budgetSeconds": model.startup_budget_seconds, "periodSeconds": 10},
        "readyEndpoint": {"enabled": True, "path": config.verification.ready_path},
        "shm": {"enabled": True, "sizeLimit": config.storage.shm_size_limit},
        "modelCache": {
            "persistence": {
                "enabled": config.storage.persistent_cache,
                "existingClaim": config.storage.cache_existing_claim,
                "storageClassName": config.storage.cache_storage_class,
                "size": config.storage.cache_size,
            },
        },
        "nodeSelector": dict(config.scheduling.node_selector),
        "tolerations": [dict(t) for t in config.scheduling.tolerations],
        "runtimeClassName": config.scheduling.runtime_class_name,
        "podAnnotations": dict(config.release.pod_annotations),
        "rollout": {
            "mode": config.release.rollout,
            "maxSurge": ROLLOUT_SURGE_PODS,
            "verifiedCondition": VERIFIED_CONDITION,
        },
        "podDisruptionBudget": {"enabled": config.release.replicas > 1, "maxUnavailable": 1},
        "serviceMonitor": {"enabled": config.observability.service_monitor},
        "grafanaDashboard": {"enabled": config.observability.grafana_dashboard},
        "prometheusRule": {
            "enabled": config.observability.prometheus_rule,
            "labels": dict(config.observability.rule_labels),
            "thresholds": config.observability.alert_thresholds(),
        },
    }
