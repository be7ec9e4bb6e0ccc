"""Valid ModelRegistryEntry inputs and rows for tests (override any key)."""

from __future__ import annotations

from typing import Any

from components.registry.rows import entry_row
from components.registry.settings import PROVIDER_VERSION, settings_from


def entry_inputs(**overrides: Any) -> dict[str, Any]:
    """Inputs as the engine hands them to the provider (numbers as floats)."""
    inputs = {
        "database_url": "",
        "environment": "development",
        "served_model_name": "llama-7b",
        "model_path": "meta-llama/Llama-2-7b-chat-hf",
        "stack": "vllm-deploy/local",
        "namespace": "system",
        "release_name": "llama-7b-local",
        "service_port": 8000.0,
        "api_path": "/v1/chat/completions",
        "image": "vllm/vllm-openai:v0.11.0",
        "chart_version": "0.1.0",
        "helm_revision": 1.0,
        "gpus_per_pod": 1.0,
        "replicas": 1.0,
        "max_model_len": 4096.0,
        "verified_at": "2026-12-02T13:30:00+00:00",
        "p50_seconds": 0.12,
        "p95_seconds": 0.25,
        "model_init_seconds": None,
        "routing_enabled": True,
        "on_destroy": "retire",
        "connect_timeout_seconds": 5.0,
        "retry_timeout_seconds": 10.0,
        "provider_version": PROVIDER_VERSION,
    }
    inputs.update(overrides)
    return inputs


def entry(writer: str = "tester@vllm-deploy/local", **overrides: Any) -> dict[str, Any]:
    """The row a registration with these inputs writes."""
    return entry_row(settings_from(entry_inputs(**overrides)), writer)


def key(row: dict[str, Any], writer: str = "tester@vllm-deploy/local") -> dict[str, Any]:
    return {"environment": row["environment"], "served_model_name": row["served_model_name"], "stack": row["stack"],
            "updated_by": writer}
