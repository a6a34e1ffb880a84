"""A small OpenAI-compatible chat-completions server over any backend (`beyondmode serve MODEL_DIR`).

Endpoints: `POST /v1/chat/completions` (messages, temperature, max_tokens, n, seed, stream,
stream_options.include_usage; answers with `choices` and `usage.completion_tokens`, the generated
tokenizer tokens) and `GET /v1/models`. With `stream: true` the answer is server-sent events in OpenAI's
chunk format: per choice a first chunk with the role, one chunk per word of the text (whitespace kept),
a last chunk with `finish_reason`, then a usage chunk when `stream_options.include_usage`, then
`data: [DONE]`. The backend generates whole completions, so the chunks follow the generation rather than
accompany it (a client sees the right stream, not lower latency). Each request logs one INFO line
(method, path, status, n, tokens, seconds). Requests are served by a `ThreadingHTTPServer`; generation
itself is serialized by a lock (one model in memory). Meant for localhost tests and demos, not
production: use `vllm serve` for that.

>>> text_pieces("a  b c")
['a  ', 'b ', 'c']
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from beyondmode.evaluate.backends.base import Backend, Generation

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
        return self.response(self.generate(request))

    def response(self, result: SampledCompletions) -> dict[str, Any]:
        """The `chat.completion` object for sampled completions."""
        return {
            **self._header(result, "chat.completion"),
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": s.text},
                    "finish_reason": result.finish_reason(s),
                }
                for i, s in enumerate(result.samples)
            ],
            "usage": result.usage(),
        }

    def stream(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The `chat.completion.chunk` objects of a streamed answer (generation happens before the first)."""
        return self.chunks(self.generate(request), request.get("stream_options"))

    def chunks(self, result: SampledCompletions, options: Any = None) -> Iterator[dict[str, Any]]:
        """`chat.completion.chunk` objects for sampled completions; `options` is `stream_options`."""
        if options is not None and not isinstance(options, dict):
            raise ValueError("'stream_options' must be an object")
        header = self._header(result, "chat.completion.chunk")
        for index, sample in enumerate(result.samples):
            yield {**header, "choices": [_delta(index, {"role": "assistant", "content": ""})]}
            for piece in text_pieces(sample.text):
                yield {**header, "choices": [_delta(index, {"content": piece})]}
            yield {**header, "choices": [_delta(index, {}, result.finish_reason(sample))]}
        if (options or {}).get("include_usage"):
            yield {**header, "choices": [], "usage": result.usage()}

    def generate(self, request: dict[str, Any]) -> SampledCompletions:
        """Validate a request body and sample its completions."""
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
        return SampledCompletions(tuple(samples), max_tokens, _prompt_tokens(self.backend, messages))

    def _header(self, result: SampledCompletions, kind: str) -> dict[str, Any]:
        return {"id": result.id, "object": kind, "created": result.created, "model": self.model_name}


@dataclass(frozen=True, slots=True)
class SampledCompletions:
    """The completions sampled for one request, with what the response needs to describe them."""

    samples: tuple[Generation, ...]
    max_tokens: int
    prompt_tokens: int
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def completion_tokens(self) -> int:
        return sum(s.num_tokens for s in self.samples)

    def finish_reason(self, sample: Generation) -> str:
        return "length" if sample.num_tokens >= self.max_tokens else "stop"

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def _delta(index: int, delta: dict[str, str], finish_reason: str | None = None) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": finish_reason}


_PIECE = re.compile(r"\S+\s*|\s+")


def text_pieces(text: str) -> list[str]:
    """`text` cut into words, each keeping the whitespace after it (leading whitespace is its own piece);
    the pieces join back to `text` exactly."""
    return _PIECE.findall(text)


def _prompt_tokens(backend: Backend, messages: list[dict[str, str]]) -> int:
    render = getattr(backend, "render", None)
    count = getattr(backend, "count_tokens", None)
    return int(count(render(messages))) if render and count else 0


class _Handler(BaseHTTPRequestHandler):
    server: ChatServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Replaced by the one INFO line per request written in `_log`."""

    def _log(self, status: int, started: float, detail: str = "") -> None:
        """One INFO line per request, written just before the response (so a client that has its answer
        can rely on the line being there); the seconds are the time taken to build the response."""
        logger.info(
            "%s %s %s -> %d%s (%.2f s)",
            self.address_string(),
            self.command,
            self.path,
            status,
            f" {detail}" if detail else "",
            time.monotonic() - started,
        )

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str, started: float) -> None:
        self._log(status, started, message)
        self._send(status, {"error": {"message": message, "type": kind, "code": status}})

    def do_GET(self) -> None:
        started = time.monotonic()
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": self.server.model_name, "object": "model", "owned_by": "beyondmode"}
            self._log(200, started)
            self._send(200, {"object": "list", "data": [model]})
        else:
            self._error(404, f"no route {self.path}", "not_found", started)

    def do_POST(self) -> None:
        started = time.monotonic()
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(404, f"no route {self.path}", "not_found", started)
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, json.JSONDecodeError) as error:
            self._error(400, f"request body is not JSON: {error}", "invalid_request_error", started)
            return
        if request.get("model") not in (None, self.server.model_name):
            self._error(
                404,
                f"model {request.get('model')!r} not served (serving {self.server.model_name!r})",
                "not_found",
                started,
            )
            return
        try:
            result = self.server.generate(request)
            if request.get("stream"):
                chunks = list(self.server.chunks(result, request.get("stream_options")))
            else:
                response = self.server.response(result)
        except (ValueError, TypeError, KeyError) as error:
            self._error(400, str(error), "invalid_request_error", started)
            return
        usage = result.usage()
        detail = (
            f"n={len(result.samples)}, stream={bool(request.get('stream'))}, "
            f"{usage['prompt_tokens']}+{usage['completion_tokens']} tokens"
        )
        self._log(200, started, detail)
        if request.get("stream"):
            self._send_events(chunks)
        else:
            self._send(200, response)

    def _send_events(self, chunks: list[dict[str, Any]]) -> None:
        """Server-sent events: `data: {json}` per chunk, then `data: [DONE]`; the connection closes after."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True
