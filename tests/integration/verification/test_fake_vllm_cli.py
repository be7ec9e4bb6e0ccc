"""The fake server's CLI, as the local cluster's vLLM simulator runs it."""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serves_vllm_endpoints_after_the_startup_delay():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_vllm", "--host", "127.0.0.1", "--port", str(port),
         "--model", "llama-7b-development", "--latency-seconds", "0.05", "--startup-seconds", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert "fake vLLM: model llama-7b-development on http://127.0.0.1:" in process.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        try:
            httpx.get(f"{url}/health", timeout=1)
            refused = False
        except httpx.ConnectError:
            refused = True
        assert refused  # still "loading": nothing answers
        # the server says when it accepts connections (awaited, not polled; 60 s bound if it never does)
        said: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: said.put(process.stdout.readline()), daemon=True).start()
        assert said.get(timeout=60).startswith(f"fake vLLM: serving on {url}")
        ready = httpx.get(f"{url}/ready", timeout=5)
        assert ready.status_code == 200 and ready.json() == {"status": "ready", "models": ["llama-7b-development"]}
        with httpx.Client(base_url=url) as http:
            assert http.get("/health").status_code == 200
            assert http.get("/v1/models").json()["data"][0]["id"] == "llama-7b-development"
            body = {"model": "llama-7b-development", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
            started = time.perf_counter()
            chat = http.post("/v1/chat/completions", json=body)
            assert chat.status_code == 200 and time.perf_counter() - started >= 0.05
            assert chat.json()["choices"][0]["message"]["content"] == "Hello! I am a"
            legacy = http.post(
                "/v1/completions", json={"model": "llama-7b-development", "prompt": "Hi", "max_tokens": 2}
            )
            assert legacy.json()["choices"][0]["text"] == "Hello! I"
            metrics = http.get("/metrics")
            assert (
                'vllm:request_success_total{finished_reason="length",model_name="llama-7b-development"} 2.0'
                in metrics.text
            )
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_cli_rejects_a_bad_fail_rate():
    run = subprocess.run(
        [sys.executable, "-m", "tests.support.fake_vllm", "--fail-rate", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and "--fail-rate must be between 0 and 1" in run.stderr
