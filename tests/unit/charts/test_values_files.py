"""values-{development,staging,production}.yaml agree with what the program deploys from its presets.

Teams still run the chart with `helm -f values-<environment>.yaml`. Each file, laid over values.yaml, must give
the values that components/presets.py and components/config.py give a stack of that environment and the file's
model size (components/chart_values.py turns those into chart values). Keys that name one deployment rather than
a default (release name, image tag, model path and name, the model cache's storage) are the file's own choice.
"""

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.chart_values import chart_values
from components.config import validate_config
from components.presets import ENVIRONMENTS

CHART = Path(__file__).resolve().parents[3] / "charts" / "vllm-deployment"

# Per-deployment choices, not defaults: the program takes them from each stack's own configuration.
# rollout.mode: the values files serve standalone `helm install`, where no verification would open the readiness
# gate of the verified rollout, so they keep the chart's recreate; the program sets verified per environment.
OWN_CHOICES = {
    ("rollout", "mode"),
    ("fullnameOverride",),
    ("image", "tag"),
    ("model", "path"),
    ("model", "servedModelName"),
    ("modelCache", "persistence", "enabled"),
    ("modelCache", "persistence", "existingClaim"),
    ("modelCache", "persistence", "storageClassName"),
    ("modelCache", "persistence", "size"),
}


def merged(base: dict, override: dict) -> dict:
    result = copy.deepcopy(base)
    for key, value in override.items():
        result[key] = merged(result[key], value) if isinstance(value, dict) and isinstance(result.get(key), dict) \
            else value
    return result


def leaves(values: Any, prefix: tuple[str, ...] = ()):
    if isinstance(values, dict) and values:
        for key, value in values.items():
            yield from leaves(value, (*prefix, key))
    else:
        yield prefix, values


def lookup(values: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        values = values[key]
    return values


def program_values(environment: str, size: str, model_path: str) -> dict:
    """The chart values the program deploys for a stack that sets only what it must."""
    config = validate_config({
        "environment": environment,
        "model": {"path": model_path, "size": size},
        "release": {"name": f"llama-{environment}", "namespace": "system"},
        "image": {"tag": "v0.11.0"},
    })
    return chart_values(config)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_values_file_matches_presets(environment):
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    overrides = yaml.safe_load((CHART / f"values-{environment}.yaml").read_text())
    effective = merged(defaults, overrides)
    assert effective["environment"] == environment
    expected = program_values(environment, effective["model"]["size"], effective["model"]["path"])
    disagreements = [f"{'.'.join(path)}: file gives {lookup(effective, path)!r}, presets give {value!r}"
                     for path, value in leaves(expected) if path not in OWN_CHOICES
                     if lookup(effective, path) != value]
    assert not disagreements, f"values-{environment}.yaml disagrees with components/presets.py:\n" + \
        "\n".join(disagreements)


def test_every_values_file_key_exists_in_values_yaml():
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    for environment in ENVIRONMENTS:
        overrides = yaml.safe_load((CHART / f"values-{environment}.yaml").read_text())
        for path, _ in leaves(overrides):
            lookup(defaults, path)  # KeyError names a key values.yaml does not have
