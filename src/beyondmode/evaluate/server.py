"""A small OpenAI-compatible chat-completions server over any backend (`beyondmode serve MODEL_DIR`).

Endpoints: `POST /v1/chat/completions` (messages, temperature, max_tokens, n, seed; answers with
`choices` and `usage.completion_tokens`, the generated tokenizer tokens) and `GET /v1/models`. Requests are
served by a `ThreadingHTTPServer`; generation itself is serialized by a lock (one model in memory). Meant
for localhost tests and demos, not production: use `vllm serve` for that.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from beyondmode.evaluate.backends.base import Backend

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 256


class ChatServer(ThreadingHTTPServer):
    """Serves `backend` under the model name `model_name`."""

    daemon_threads = True

    def __init__(self, backend: Backend, model_name: str, host: str = "127.0.0.1", port: int = 8000) -> None:
        super().__init__((host, port), _Handler)
        self.backend = backend
        self.model_name = model_name
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """The chat-completion response for a parsed request body (raises ValueError on bad input)."""
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list of {role, content}")
        n = int(request.get("n") or 1)
        temperature = float(
            request.get("temperature", 1.0) if request.get("temperature") is not None else 1.0
        )
        max_tokens = int(
            request.get("max_tokens") or request.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
        )
        seed = int(request.get("seed") or 0)
        with self.lock:
            samples = self.backend.generate([messages], n, temperature, max_tokens, seed)[0]
        completion_tokens = sum(s.num_tokens for s in samples)
        prompt_tokens = _prompt_tokens(self.backend, messages)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": s.text},
                    "finish_reason": "length" if s.num_tokens >= max_tokens else "stop",
                }
                for i, s in enumerate(samples)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _prompt_tokens(backend: Backend, messages: list[dict[str, str]]) -> int:
    render = getattr(backend, "render", None)
    count = getattr(backend, "count_tokens", None)
    return int(count(render(messages))) if render and count else 0


class _Handler(BaseHTTPRequestHandler):
    server: ChatServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str) -> None:
        self._send(status, {"error": {"message": message, "type": kind, "code": status}})

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": self.server.model_name, "object": "model", "owned_by": "beyondmode"}
            self._send(200, {"object": "list", "data": [model]})
        else:
            self._error(404, f"no route {self.path}", "not_found")

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(404, f"no route {self.path}", "not_found")
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, json.JSONDecodeError) as error:
            self._error(400, f"request body is not JSON: {error}", "invalid_request_error")
            return
        if request.get("model") not in (None, self.server.model_name):
            self._error(
                404,
                f"model {request.get('model')!r} not served (serving {self.server.model_name!r})",
                "not_found",
            )
            return
        try:
            response = self.server.complete(request)
        except (ValueError, TypeError, KeyError) as error:
            self._error(400, str(error), "invalid_request_error")
            return
        self._send(200, response)
