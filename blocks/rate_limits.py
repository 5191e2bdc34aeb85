"""Provider rate limits as Prefect global concurrency limits: one per channel block that sets a rate, shared by
every run, process and worker, so the provider never sees more than the block allows however the sends fan out.

A limit holds ``ceil(rate)`` slots that decay at ``rate`` per second; each request to the provider takes one slot,
so a short burst of up to ``ceil(rate)`` requests goes at once and the rest at the rate. The limit is created (or
set to the block's rate) the first time a process sends through the block; a block without a rate is not limited.
"""

from __future__ import annotations

import math
import re
import threading

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.concurrency.sync import rate_limit
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

_ready: dict[str, float] = {}
_lock = threading.Lock()


def limit_name(block_name: str) -> str:
    """The limit of a channel block, as the UI lists it under Concurrency (e.g. rate-arpilot-email-channel-arpilot)."""
    return "rate-" + re.sub(r"[^a-z0-9]+", "-", block_name.lower()).strip("-")


def _ensure(name: str, per_second: float) -> None:
    """The limit exists with this rate (once per process and rate: the API is asked only then)."""
    with _lock:
        if _ready.get(name) == per_second:
            return
        slots, wanted = max(1, math.ceil(per_second)), {"slot_decay_per_second": per_second}
        with get_client(sync_client=True) as client:
            try:
                current = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                try:
                    client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                        name=name, limit=slots, active=True, **wanted))
                except ObjectAlreadyExists:  # another process created it meanwhile: set it below
                    current = client.read_global_concurrency_limit_by_name(name)
                else:
                    current = None
            if current is not None and (current.limit, current.slot_decay_per_second, current.active) != (
                    slots, per_second, True):
                client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(
                    limit=slots, active=True, **wanted))
        _ready[name] = per_second


def throttle(block_name: str, per_second: float | None) -> None:
    """Wait for a slot of the block's rate limit before one request to its provider (no rate: at once)."""
    if not per_second:
        return
    name = limit_name(block_name)
    _ensure(name, per_second)
    rate_limit(name, strict=True)
