"""Prefect's settings for a local process (the demo, the benchmarks): state in the checkout, patience on a busy box.

Without a PREFECT_API_URL, every process that talks to Prefect starts a temporary server of its own, which takes
10-40 s on two idle cores and longer on a busy machine; Prefect gives up after 20 s by default. Call this before
anything imports prefect: Prefect reads its settings once, at import.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EPHEMERAL_STARTUP_TIMEOUT_SECONDS = 600  # only ever waited for in full on a machine that cannot start it at all


def use_local_prefect(home: str = "prefect") -> Path:
    """Keep Prefect's state in var/<home> of the checkout (unless PREFECT_HOME says otherwise) and create it."""
    path = Path(os.environ.setdefault("PREFECT_HOME", str(PROJECT_ROOT / "var" / home)))
    path.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(EPHEMERAL_STARTUP_TIMEOUT_SECONDS))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return path
