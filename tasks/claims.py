"""Rows claimed by a process before an outside call (outbox messages, charges): who holds one, and whether that
process still lives, so that the next run settles a dead run's rows explicitly and leaves a live run's alone.
Also the fault injection the kill tests use to stop a run at a named point."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path


def _process_start() -> str:
    """This process's start time in clock ticks since boot (Linux), so a reused pid is not mistaken for us."""
    try:
        return Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


OWNER = f"{socket.gethostname()}:{os.getpid()}:{_process_start()}"


def owner_alive(owner: str) -> bool | None:
    """Is the process that wrote ``owner`` still running? None when it ran on another host."""
    host, _, rest = owner.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname():
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return started == "?" or stat.rsplit(")", 1)[1].split()[19] == started


def checkpoint(name: str) -> None:
    """Fault injection for the kill test: ARPILOT_KILL_AT="name:n" kills this process at the n-th pass here."""
    target = os.environ.get("ARPILOT_KILL_AT")
    if not target or target.rpartition(":")[0] != name:
        return
    passes = _passes.get(name, 0) + 1
    _passes[name] = passes
    if passes == int(target.rpartition(":")[2]):
        os.kill(os.getpid(), signal.SIGKILL)


_passes: dict[str, int] = {}
