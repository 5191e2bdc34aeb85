"""A run that waits in the Prefect UI for a person's form (the sales rep's choices, the credit approver's answer).

Prefect fails a paused run whose own pause times out, so the run does not rely on it: a timer resumes the paused
run with the form's empty answer when the answer window closes, and the run reads that as silence. The pause itself
outlives the window by SILENCE_GRACE_SECONDS, for the timer to come first.
"""

from __future__ import annotations

import contextvars
import threading

from prefect import get_run_logger, pause_flow_run, resume_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run

SILENCE_GRACE_SECONDS = 120


def _close_on_silence(run_id, empty: dict) -> None:
    try:
        resume_flow_run(run_id, run_input=empty)
    except Exception as error:  # answered meanwhile, or the API is away: the pause's own timeout ends the run
        get_run_logger().info("Closing the answer window found nothing to close: %s", error)


def wait_for_answer(form, window_seconds: int, empty: dict) -> RunInput:
    """Pause this flow run until the form is answered, or ``window_seconds`` pass and it is answered ``empty``."""
    closer = threading.Timer(window_seconds, contextvars.copy_context().run,
                             args=(_close_on_silence, flow_run.id, empty))
    closer.daemon = True
    closer.start()
    try:
        return pause_flow_run(wait_for_input=form, timeout=window_seconds + SILENCE_GRACE_SECONDS)
    finally:
        closer.cancel()
