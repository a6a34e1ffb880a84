"""The OpenAI-compatible path end to end: `beyondmode serve`'s server on localhost, the official client."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from eval_toy import SCRIPT, FakeBackend, ToyTask

openai = pytest.importorskip("openai")

from beyondmode.evaluate.backends.openai_backend import BackendUnreachableError, OpenAIBackend  # noqa: E402
from beyondmode.evaluate.backends.scripted import ScriptedBackend  # noqa: E402
from beyondmode.evaluate.runner import run_evaluation  # noqa: E402
from beyondmode.evaluate.server import ChatServer  # noqa: E402
from beyondmode.evaluate.settings import EvalSettings  # noqa: E402

MESSAGES = [{"role": "user", "content": "which pet meows?"}]


@pytest.fixture
def serve():
    """Start a ChatServer over a backend on a free port in a thread; yields a function backend -> server."""
    servers: list[ChatServer] = []

    def start(backend, name: str = "tiny") -> ChatServer:
        server = ChatServer(backend, name, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_official_client_gets_completion_tokens(tiny_model_dir, serve) -> None:
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend

    server = serve(TransformersBackend.from_pretrained(tiny_model_dir, device="cpu"))
    client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    response = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=5, n=2, seed=3)
    assert len(response.choices) == 2
    assert 2 <= response.usage.completion_tokens <= 10 and response.usage.prompt_tokens > 0
    assert [m.id for m in client.models.list().data] == ["tiny"]


def test_openai_backend_against_served_tiny_model(tiny_model_dir, serve) -> None:
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend

    server = serve(TransformersBackend.from_pretrained(tiny_model_dir, device="cpu"))
    backend = OpenAIBackend(server.base_url, "tiny", max_retries=0, concurrency=2)
    out = backend.generate([MESSAGES, MESSAGES], n=2, temperature=1.0, max_new_tokens=4, seed=0)
    assert [len(samples) for samples in out] == [2, 2]
    assert all(1 <= g.num_tokens <= 4 and g.seconds > 0 for samples in out for g in samples)


def test_evaluation_through_http_matches_direct(serve, tmp_path) -> None:
    """The same scripted completions give the same metrics through the server as directly."""
    settings = EvalSettings(
        methods=("multi_answer",),
        num_candidates=2,
        require_think=False,
        max_answers=4,
        recall_ks=(1, 4),
        bootstrap_resamples=50,
        concurrency=1,
    )
    server = serve(FakeBackend(SCRIPT), name="fake")
    over_http = run_evaluation(
        ToyTask(),
        OpenAIBackend(server.base_url, "fake", max_retries=0, concurrency=1),
        settings,
        tmp_path / "http",
        model="fake",
    )
    direct = run_evaluation(ToyTask(), FakeBackend(SCRIPT), settings, tmp_path / "direct", model="fake")
    for key in ("recall@1", "recall@4", "tokens_per_example", "ece", "auroc"):
        assert over_http["methods"]["multi_answer"]["metrics"][key]["mean"] == pytest.approx(
            direct["methods"]["multi_answer"]["metrics"][key]["mean"]
        ), key


SCRIPTED_TEXTS = ("<answer1> cat </answer1> <confidence1> 0.9 </confidence1>", "  two  spaces\nand a line ")


def _scripted() -> ScriptedBackend:
    return ScriptedBackend(lambda prompt, index: SCRIPTED_TEXTS[index % len(SCRIPTED_TEXTS)])


def test_streaming_with_the_official_client(serve) -> None:
    server = serve(_scripted(), name="scripted")
    client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="scripted",
        messages=MESSAGES,
        max_tokens=64,
        n=2,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    texts = {0: "", 1: ""}
    finish = {}
    for chunk in chunks[:-1]:
        assert chunk.object == "chat.completion.chunk" and chunk.model == "scripted"
        (choice,) = chunk.choices
        texts[choice.index] += choice.delta.content or ""
        if choice.finish_reason:
            finish[choice.index] = choice.finish_reason
    assert texts == {0: SCRIPTED_TEXTS[0], 1: SCRIPTED_TEXTS[1]}  # the pieces join back exactly
    assert finish == {0: "stop", 1: "stop"}
    assert len(chunks) > 6  # more than role + finish per choice: the text comes in pieces
    assert len({c.id for c in chunks}) == 1
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.completion_tokens == sum(len(t.split()) for t in SCRIPTED_TEXTS)


def test_stream_is_server_sent_events(serve) -> None:
    import json
    import urllib.request

    server = serve(_scripted(), name="scripted")
    body = json.dumps({"messages": MESSAGES, "stream": True, "max_tokens": 3}).encode()
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        raw = response.read().decode()
    events = raw.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert all(e.startswith("data: ") for e in events[:-1])
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"  # 5 tokens > max_tokens 3
    assert "usage" not in chunks[-1]  # only with stream_options.include_usage


def test_one_log_line_per_request(serve, caplog: pytest.LogCaptureFixture) -> None:
    server = serve(_scripted(), name="scripted")
    client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    with caplog.at_level(logging.INFO, logger="beyondmode.evaluate.server"):
        client.chat.completions.create(model="scripted", messages=MESSAGES, max_tokens=8, n=2)
        list(client.chat.completions.create(model="scripted", messages=MESSAGES, max_tokens=8, stream=True))
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="scripted", messages=[], max_tokens=8)
    lines = [r.getMessage() for r in caplog.records if r.name == "beyondmode.evaluate.server"]
    assert len(lines) == 3, lines
    assert "POST /v1/chat/completions -> 200 n=2, stream=False" in lines[0]
    assert "stream=True" in lines[1] and "-> 400" in lines[2] and "messages" in lines[2]


def test_unreachable_server_names_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    backend = OpenAIBackend(url, "tiny", max_retries=0, timeout_s=2)
    with pytest.raises(BackendUnreachableError, match=f"127.0.0.1:{port}"):
        backend.generate([MESSAGES], n=1, temperature=0.0, max_new_tokens=2, seed=0)


def test_unknown_model_is_a_clear_error(serve) -> None:
    server = serve(FakeBackend(SCRIPT), name="fake")
    backend = OpenAIBackend(server.base_url, "other", max_retries=0)
    with pytest.raises(BackendUnreachableError, match="'other'"):
        backend.generate([MESSAGES], n=1, temperature=0.0, max_new_tokens=2, seed=0)


@pytest.mark.slow
def test_serve_command_in_a_subprocess(tiny_model_dir) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "beyondmode.cli",
        "serve",
        str(tiny_model_dir),
        "--port",
        str(port),
        "--served-model-name",
        "tiny",
        "--device",
        "cpu",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    try:
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=5
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                response = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=3)
                break
            except openai.APIConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
        assert 1 <= response.usage.completion_tokens <= 3
    finally:
        process.terminate()
        process.wait(timeout=10)
