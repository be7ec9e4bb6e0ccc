"""The chart's /ready middleware, loaded into a FastAPI app the way vLLM's --middleware loads it."""

import asyncio
import importlib.util
import socket
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

MODULE = Path(__file__).resolve().parents[3] / "charts/vllm-deployment/files/vllm_ready_middleware.py"


def load_middleware_module():
    spec = importlib.util.spec_from_file_location("vllm_ready_middleware", MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Engine:
    """What the fake vLLM app reports: engine health, served models, required API key."""

    def __init__(self, healthy=True, models=("llama-7b",), api_key=None, models_raises=False):
        self.healthy, self.models, self.api_key, self.models_raises = healthy, list(models), api_key, models_raises
        self.chat_calls = 0


def vllm_like_app(engine: Engine) -> FastAPI:
    """Routes shaped like vLLM's OpenAI server, with the middleware added as vLLM adds it."""
    app = FastAPI()

    def authorised(request: Request) -> bool:
        return engine.api_key is None or request.headers.get("authorization") == f"Bearer {engine.api_key}"

    @app.get("/health")
    async def health():
        return Response(status_code=200 if engine.healthy else 503)

    @app.get("/v1/models")
    async def models(request: Request):
        if not authorised(request):
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        if engine.models_raises:
            raise RuntimeError("engine dead")
        return {"object": "list", "data": [{"id": m, "object": "model"} for m in engine.models]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        engine.chat_calls += 1
        return {"choices": [{"message": {"role": "assistant", "content": "hi"}}]}

    middleware = load_middleware_module().ReadyEndpoint
    app.add_middleware(middleware)  # vllm.entrypoints.openai.api_server: app.add_middleware(imported)
    return app


async def get(app, method, path, **kwargs):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://vllm") as client:
        return await client.request(method, path, **kwargs)


def call(app, method="GET", path="/ready", **kwargs) -> httpx.Response:
    return asyncio.run(get(app, method, path, **kwargs))


def test_ready_when_healthy_and_serving_a_model():
    response = call(vllm_like_app(Engine()))
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "models": ["llama-7b"]}


def test_not_ready_when_engine_unhealthy():
    response = call(vllm_like_app(Engine(healthy=False)))
    assert response.status_code == 503
    assert response.json()["reason"] == "/health answered 503"


def test_not_ready_when_no_model_is_served():
    response = call(vllm_like_app(Engine(models=())))
    assert response.status_code == 503
    assert response.json()["reason"] == "/v1/models lists no model"


def test_not_ready_not_500_when_model_listing_breaks():
    response = call(vllm_like_app(Engine(models_raises=True)))
    assert response.status_code == 503
    assert response.json()["reason"] == "RuntimeError while checking readiness"


def test_head_answers_without_body():
    response = call(vllm_like_app(Engine()), method="HEAD")
    assert response.status_code == 200
    assert response.content == b""


def test_other_routes_pass_through_untouched():
    engine = Engine()
    app = vllm_like_app(engine)
    assert call(app, path="/health").status_code == 200
    assert call(app, method="POST", path="/v1/chat/completions", json={}).status_code == 200
    assert engine.chat_calls == 1
    assert call(app, method="POST", path="/ready").status_code == 404  # only GET/HEAD are answered here


def test_api_key_protected_server_is_probed_with_its_own_key(monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "k-123")
    assert call(vllm_like_app(Engine(api_key="k-123"))).status_code == 200
    monkeypatch.setenv("VLLM_API_KEY", "wrong")
    response = call(vllm_like_app(Engine(api_key="k-123")))
    assert (response.status_code, response.json()["reason"]) == (503, "/v1/models answered 401")


def test_ready_path_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("VLLM_READY_PATH", "/readyz")
    app = vllm_like_app(Engine())
    assert call(app, path="/readyz").status_code == 200
    assert call(app, path="/ready").status_code == 404


@pytest.fixture
def served_app():
    engine = Engine(healthy=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(vllm_like_app(engine), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        for _ in range(500):  # bounded: uvicorn sets `started` once it listens
            if server.started:
                break
            threading.Event().wait(0.01)
        yield engine, client
    server.should_exit = True
    thread.join(timeout=5)


def test_served_by_uvicorn_ready_follows_engine_state(served_app):
    engine, client = served_app
    assert client.get("/ready").status_code == 503
    engine.healthy = True
    assert client.get("/ready").status_code == 200
