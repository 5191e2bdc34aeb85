"""What the kill tests share: the sandbox servers in a process of their own (so they outlive a killed sender), and
a flow run as a subprocess that ARPILOT_KILL_AT stops with SIGKILL at a named checkpoint, or the test at any
moment after the run announced it is about to start the flow.

A run may wait at the gate, its imports done, until the test says go: the next run of a series then imports while
the one before it runs, which halves the time a long series of killed runs takes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from prefect.settings import get_current_settings

READY = "ready"  # what a flow process prints once its imports are done, just before it calls the flow
GO = "go"  # what a gated flow process waits for on stdin before it calls the flow (anything else: it exits)


def start_sandbox(folder: Path, *options: str) -> tuple[subprocess.Popen, dict]:
    """`python -m sandbox` with these options, and the endpoints it announced (smtp_port, twilio_url, stripe_url)."""
    process = subprocess.Popen([sys.executable, "-m", "sandbox", "--folder", str(folder), *options],
                               stdout=subprocess.PIPE, text=True)
    return process, json.loads(process.stdout.readline())


def stop_sandbox(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(10)
    process.stdout.close()


def run_flow(flow: str, params: dict, kill_at: str | None = None, gated: bool = False) -> subprocess.Popen:
    """Call ``flow`` ("module:function") with ``params`` in a new process on this session's Prefect API (when
    gated, only once told GO); stdout carries the READY line, stderr what went wrong."""
    env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url), "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("ARPILOT_KILL_AT", None)
    if kill_at:
        env["ARPILOT_KILL_AT"] = kill_at
    module, _, function = flow.partition(":")
    gate = f"sys.exit(0) if sys.stdin.readline().strip() != {GO!r} else None; " if gated else ""
    code = (f"import json, sys; from {module} import {function}; print({READY!r}, flush=True); {gate}"
            f"{function}(**json.loads(sys.argv[1]))")
    return subprocess.Popen([sys.executable, "-c", code, json.dumps(params)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.PIPE if gated else subprocess.DEVNULL, text=True)


def one_ahead(spawn: Callable[[], subprocess.Popen]) -> Iterator[subprocess.Popen]:
    """Gated runs from ``spawn``, the next one already importing while the one handed out runs; the one left
    waiting when the series ends is sent away without running."""
    following = spawn()
    try:
        while True:
            current, following = following, None
            following = spawn()
            yield current
    finally:
        if following is not None:
            following.communicate("", timeout=120)


def started(*processes: subprocess.Popen) -> bool:
    """Wait until the runs have done their imports, then let those that are gated call the flow together; False when
    one ended before."""
    for process in processes:
        if not hasattr(process, "ready"):
            process.ready = process.stdout.readline().strip() == READY
    for process in processes:
        if process.ready and process.stdin is not None and not getattr(process, "let_through", False):
            process.stdin.write(GO + "\n")
            process.stdin.flush()
            process.let_through = True
    return all(process.ready for process in processes)


def finished(process: subprocess.Popen, timeout: float = 120) -> None:
    """Wait for a run that must succeed."""
    started(process)
    _, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]


def killed_at_checkpoint(process: subprocess.Popen, kill_at: str, timeout: float = 120) -> None:
    """Wait for a run that ARPILOT_KILL_AT must have stopped: a run that ends by itself never reached the point."""
    started(process)
    _, err = process.communicate(timeout=timeout)
    assert process.returncode == -signal.SIGKILL, f"the run was not killed at {kill_at}: {err[-2000:]}"


def run_length(process: subprocess.Popen, timeout: float = 120) -> float:
    """Seconds from the call of the flow to the end of a run that must succeed: how long the flow itself took."""
    assert started(process), process.stderr.read()[-3000:]
    begun = time.monotonic()
    finished(process, timeout)
    return time.monotonic() - begun


def kill_after(process: subprocess.Popen, seconds: float, timeout: float = 120) -> bool:
    """SIGKILL the run ``seconds`` after it called the flow; False when it had already ended by then (it must have
    succeeded)."""
    if started(process):
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
    _, err = process.communicate(timeout=timeout)
    assert process.returncode in (0, -signal.SIGKILL), err[-3000:]
    return process.returncode == -signal.SIGKILL
