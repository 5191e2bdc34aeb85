"""The serve app on a free loopback port in a thread of this process, as Twilio and Stripe reach it in the demo and
the tests (production runs `arpilot serve` under uvicorn behind a TLS proxy)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def served(make_app: Callable[[str], object]) -> Iterator[str]:
    """``make_app(base_url)`` under uvicorn until the block ends; yields the base URL (http://127.0.0.1:<port>)."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(make_app(base), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=5)
