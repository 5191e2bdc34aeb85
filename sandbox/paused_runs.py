"""Runs that wait for a person in the Prefect UI, as the demo and the tests drive them: started in a thread as a
worker would (they block while paused), and found once paused, to be resumed with the form's values as the UI sends
them."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName


def start_in_thread(run: Callable[[], object]) -> tuple[threading.Thread, dict]:
    """Run ``run`` (a flow call with return_state=True) in a thread; its state lands in outcome["state"]."""
    outcome: dict = {}
    thread = threading.Thread(target=contextvars.copy_context().run,
                              args=(lambda: outcome.__setitem__("state", run()),), daemon=True)
    thread.start()
    return thread, outcome


def paused_run(name: str, within: float = 90):
    """The paused run of that name (runs of the same name started earlier have ended)."""
    deadline, runs = time.monotonic() + within, []
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
            waiting = [r for r in runs if r.state.is_paused()]
            if waiting:
                return waiting[0]
            time.sleep(0.5)
    raise RuntimeError(f"{name} did not pause within {within:.0f} s: {[r.state for r in runs]}")
