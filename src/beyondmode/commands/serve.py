"""`beyondmode serve MODEL_DIR`: an OpenAI-compatible /v1/chat/completions endpoint on localhost."""

from __future__ import annotations

import argparse
import logging
from typing import Any

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model over an OpenAI-compatible chat-completions endpoint",
        description="Serve MODEL_DIR (transformers) at http://HOST:PORT/v1/chat/completions.",
    )
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="model directory (config.json + tokenizer)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    parser.add_argument(
        "--served-model-name", default=None, help="model name clients send (default: MODEL_DIR)"
    )
    parser.add_argument("--device", default="auto", help="torch device (default: cuda when available)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from beyondmode.config import check_model_reference
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend
    from beyondmode.evaluate.server import ChatServer

    check_model_reference(args.model_dir, "MODEL_DIR")
    backend = TransformersBackend.from_pretrained(args.model_dir, device=args.device)
    server = ChatServer(backend, args.served_model_name or args.model_dir, args.host, args.port)
    logger.info("serving %r at %s", server.model_name, server.base_url)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
