"""The controller's morning digest: the night in four figures (reminders sent, held back, ledger rows quarantined,
failed runs), read from the warehouse and the Prefect API, emailed once a day through the staff mail.

Reminders and what was held back are the company day's dunning plan (planned_on, the day the nightly ran for);
quarantined rows and failed runs are those of the ``hours`` before the digest, by their timestamps (UTC).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from prefect import get_client, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterEndTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType
from sqlalchemy.engine import Engine

from blocks.company import CompanyProfile
from tasks.staff_mail import StaffNotice, render_staff, run_url

SENT = ("sent", "unknown")  # an email of unknown outcome counts as sent: it is never resent
UNSENT = ("failed", "owed", "reserved", "sending")


@dataclass(frozen=True)
class FailedRun:
    name: str
    state: str
    message: str
    url: str | None


@dataclass
class NightDigest:
    day: date
    since: datetime  # UTC, naive: quarantine and failed runs from here
    reminders: Counter = field(default_factory=Counter)  # outbox status -> messages
    held_back: Counter = field(default_factory=Counter)  # reason -> messages
    quarantined: Counter = field(default_factory=Counter)  # entity -> rows
    failed_runs: list[FailedRun] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(self.reminders[s] for s in SENT)


def night_figures(engine: Engine, day: date, since: datetime) -> NightDigest:
    """What the warehouse says of the night: the day's reminders by outcome and what the plan held back, by reason
    (each message once, however often the nightly ran that day), and the rows quarantined since ``since``."""
    digest = NightDigest(day, since)
    stamp = since.strftime("%Y-%m-%d %H:%M:%S")
    with engine.connect() as conn:
        digest.reminders.update(dict(conn.execute(sa.text(
            "SELECT status, COUNT(*) FROM dunning_outbox WHERE planned_on = :d GROUP BY status"), {"d": day}).all()))
        digest.held_back.update(dict(conn.execute(sa.text(
            "SELECT reason, COUNT(*) FROM (SELECT DISTINCT customer_id, currency, step, channel, reason "
            "FROM dunning_skips WHERE planned_on = :d) held GROUP BY reason"), {"d": day}).all()))
        digest.quarantined.update(dict(conn.execute(sa.text(
            "SELECT entity, COUNT(*) FROM quarantine WHERE quarantined_at >= :t GROUP BY entity"), {"t": stamp}).all()))
    return digest


def failed_runs(since: datetime) -> list[FailedRun]:
    """The arpilot deployments' runs that ended Failed or Crashed (TimedOut is a Failed) since ``since`` (UTC)."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=["arpilot"]), deployment_id=FlowRunFilterDeploymentId(is_null_=False),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.FAILED, StateType.CRASHED])),
            end_time=FlowRunFilterEndTime(after_=since.replace(tzinfo=UTC))))
    return [FailedRun(r.name, r.state.name, (r.state.message or "").strip(), run_url(r.id))
            for r in sorted(runs, key=lambda r: r.end_time or r.expected_start_time)]


def digest_notice(digest: NightDigest, company: CompanyProfile, to: list[str]) -> StaffNotice:
    """The digest email, keyed by its day: one a day, however often the digest runs."""
    key = f"night-digest|{digest.day.isoformat()}|{','.join(sorted(to))}"
    context = {"digest": digest, "company": company, "reference": key,
               "unsent": "; ".join(f"{s}: {digest.reminders[s]}" for s in UNSENT if digest.reminders[s]),
               "held_back": ", ".join(f"{reason} {n}" for reason, n in digest.held_back.most_common()),
               "quarantined": ", ".join(f"{entity} {n}" for entity, n in sorted(digest.quarantined.items()))}
    return StaffNotice(key, "night-digest", tuple(to), render_staff("night-digest", context))


@task(name="night-figures", cache_policy=NO_CACHE)
def night_figures_task(engine: Engine, day: date, hours: float) -> NightDigest:
    """The warehouse's figures and Prefect's failed runs of the ``hours`` before now."""
    since = datetime.now(UTC).replace(microsecond=0, tzinfo=None) - timedelta(hours=hours)
    digest = night_figures(engine, day, since)
    digest.failed_runs = failed_runs(since)
    return digest
