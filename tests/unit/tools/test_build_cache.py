"""tools/build's binary cache, on a real (small) tool: a second checkout links the cached binary instead of
building it, a changed wrapper module gets a new key (never the old binary), and .tools is never half-written.

Each checkout is a copy of tools/ in a temporary directory (tools/build works relative to its own location) with
a private binary cache; Go's module and build caches are the user's (VLLM_DEPLOY_CACHE/{gomod,gobuild}, linked),
so the build is a relink of actionlint, the smallest tool.
"""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
USER_CACHE = Path(os.environ.get("VLLM_DEPLOY_CACHE", Path.home() / ".cache" / "vllm-deploy"))
TOOL = "actionlint"

pytestmark = pytest.mark.tools


@pytest.fixture
def cache(tmp_path) -> Path:
    if not shutil.which("go"):
        if os.environ.get("CI"):
            pytest.fail("go not found on PATH")
        pytest.skip("go not found on PATH")
    cache = tmp_path / "cache"
    cache.mkdir()
    for shared in ("gomod", "gobuild"):
        (USER_CACHE / shared).mkdir(parents=True, exist_ok=True)
        (cache / shared).symlink_to(USER_CACHE / shared)
    return cache


def checkout(parent: Path, name: str) -> Path:
    root = parent / name
    root.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "_src", "*-embed.json")
    shutil.copytree(ROOT / "tools", root / "tools", ignore=ignore)
    return root


def build(root: Path, cache: Path, *args: str) -> str:
    completed = subprocess.run([str(root / "tools" / "build"), *args], capture_output=True, text=True, timeout=900,
                               env={**os.environ, "VLLM_DEPLOY_CACHE": str(cache)})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def entries(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "bin" / TOOL).iterdir())


def test_second_checkout_links_the_cached_binary(tmp_path, cache):
    first, second = checkout(tmp_path, "first"), checkout(tmp_path, "second")
    assert "building" in build(first, cache, TOOL)
    assert "up to date" in build(first, cache, TOOL)

    output = build(second, cache, TOOL)
    assert "linked from the binary cache" in output and "building" not in output
    (key,) = entries(cache)
    cached = cache / "bin" / TOOL / key / TOOL
    for root in (first, second):
        installed = root / ".tools" / "bin" / TOOL
        assert installed.samefile(cached)
        assert (root / ".tools" / "keys" / TOOL).read_text().strip() == key
    digest = hashlib.sha256(cached.read_bytes()).hexdigest()
    assert f"{digest}  {TOOL}\n" in (cache / "bin" / TOOL / key / "MANIFEST").read_text()
    version = subprocess.run([str(second / ".tools" / "bin" / TOOL), "-version"], capture_output=True, text=True)
    assert version.returncode == 0 and "1.7" in version.stdout
    # Nothing half-written is left next to the binaries or in the cache.
    assert [p.name for p in (second / ".tools" / "bin").iterdir()] == [TOOL]
    assert not [p for p in (cache / "bin" / TOOL).iterdir() if p.name.startswith(".tmp-")]


def test_changed_inputs_change_the_key(tmp_path, cache):
    root = checkout(tmp_path, "repo")
    build(root, cache, TOOL)
    (first_key,) = entries(cache)

    # A change to the wrapper module (here: a comment in go.mod) is a new key: built, not served from the cache.
    go_mod = root / "tools" / "go" / TOOL / "go.mod"
    go_mod.write_text(go_mod.read_text() + "// changed\n")
    assert "building" in build(root, cache, TOOL)
    assert len(entries(cache)) == 2
    second_key = (root / ".tools" / "keys" / TOOL).read_text().strip()
    assert second_key != first_key

    # So is a change to the build recipe in tools/build (here: the compile step's parallelism).
    script = root / "tools" / "build"
    script.write_text(script.read_text().replace("go build -p 2", "go build -p 1", 1))
    assert "building" in build(root, cache, TOOL)
    assert len(entries(cache)) == 3

    # Going back to the first inputs finds the first entry again.
    go_mod.write_text(go_mod.read_text().replace("// changed\n", ""))
    script.write_text((ROOT / "tools" / "build").read_text())
    assert "linked from the binary cache" in build(root, cache, TOOL)
    assert (root / ".tools" / "keys" / TOOL).read_text().strip() == first_key


def test_concurrent_builds_both_install_a_complete_binary(tmp_path, cache):
    roots = [checkout(tmp_path, f"repo{i}") for i in range(2)]
    env = {**os.environ, "VLLM_DEPLOY_CACHE": str(cache)}
    runs = [subprocess.Popen([str(root / "tools" / "build"), TOOL], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=env) for root in roots]
    for run in runs:
        output, _ = run.communicate(timeout=900)
        assert run.returncode == 0, output
    (key,) = entries(cache)
    for root in roots:
        assert (root / ".tools" / "bin" / TOOL).samefile(cache / "bin" / TOOL / key / TOOL)
