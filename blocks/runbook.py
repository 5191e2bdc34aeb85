"""Where an error message sends the person who reads it: the README's runbook entry for that failure."""

from __future__ import annotations

RUNBOOK_README = "README.md"


def runbook(entry: str) -> str:
    """The pointer a failure's message ends with, e.g. "Runbook: README.md#runbook-ledger-unreachable"; the alert
    email turns it into a link (the alert email block's runbook_url)."""
    return f"Runbook: {RUNBOOK_README}#runbook-{entry}"
