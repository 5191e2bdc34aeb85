"""The Prefect tasks of the dispute stage: record what the ledger says, raise levels as days pass, find what is
still to be told, put disputes on the collectors' worklists, and show the controller what happened."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy.engine import Engine

from blocks.dunning_policy import DunningPolicy
from blocks.escalation_policy import EscalationPolicy
from reports.formats import money
from tasks import warehouse as wh
from tasks.disputes.cases import DisputeCase, read_cases
from tasks.disputes.notices import DisputeNotices, level_due
from tasks.disputes.records import record_disputes
from tasks.staff_mail import StaffMailResult

CATCH_UP_DAYS = 30  # notices of disputes seen or resolved longer ago than this are not sent any more
DONE = "('sent', 'unknown', 'failed')"  # a notice in any other state is still to be sent, or under way


@task(name="record-ledger-disputes", cache_policy=NO_CACHE)
def record_ledger_disputes(engine: Engine) -> None:
    """After the whole ledger is synced (credit notes and allocations too, which decide an outcome)."""
    with engine.begin() as conn:
        record_disputes(conn, wh.utcnow())


@task(name="raise-dispute-levels", cache_policy=NO_CACHE)
def raise_levels(engine: Engine, policy: EscalationPolicy, today: date) -> int:
    """Raise every open dispute to the level its days open have reached; returns how many went up."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT dispute_id, opened_at, level FROM invoice_disputes "
                                    "WHERE closed_at IS NULL")).all()
    raised = [{"id": i, "level": level_due((today - wh.to_date(opened)).days, policy), "at": wh.utcnow()}
              for i, opened, level in rows if level_due((today - wh.to_date(opened)).days, policy) > level]
    if raised:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE invoice_disputes SET level = :level, level_raised_at = :at "
                                 "WHERE dispute_id = :id"), raised)
    return len(raised)


@task(name="read-disputes-to-tell", cache_policy=NO_CACHE)
def cases_to_tell(engine: Engine, invoice: str | None, dunning: DunningPolicy | None, today: date,
                  seen_before: datetime | None = None) -> dict[str, list[DisputeCase]]:
    """Disputes whose people have not all been told yet: 'opened' (open, seen), 'resolved', 'level' (open at a
    level whose notice is not sent). For one invoice, or all seen in the last CATCH_UP_DAYS days (and, with
    ``seen_before``, announced before it: the events' runs have had their chance)."""
    since = datetime.combine(today - timedelta(days=CATCH_UP_DAYS), datetime.min.time())
    scope, params = ("d.invoice_number = :invoice", {"invoice": invoice}) if invoice else ("1 = 1", {})
    if seen_before and not invoice:
        # a datetime, not text: PostgreSQL compares no TIMESTAMP with a VARCHAR (SQLite sees the same text)
        scope, params = "d.announced_at < :before", {"before": seen_before.replace(microsecond=0)}

    def not_done(event: str, first: str) -> str:
        """The event's first notice not sent yet, or one of its notices still owed (the relay refused it)."""
        key = f"'dispute|' || d.dispute_id || {event}"
        return (f"(NOT EXISTS (SELECT 1 FROM staff_notices n WHERE n.status IN {DONE} AND n.notice_key = {key} "
                f"|| {first}) OR EXISTS (SELECT 1 FROM staff_notices n WHERE n.status = 'owed' "
                f"AND n.notice_key LIKE {key} || '%'))")

    opened, resolved = not_done("'|opened'", "'|manager'"), not_done("'|resolved'", "'|manager'")
    level = not_done("'|level-' || CAST(d.level AS VARCHAR(8))", "''")
    wheres = {"opened": f"d.closed_at IS NULL AND d.opened_at >= :since AND {opened}",
              "resolved": f"d.closed_at IS NOT NULL AND d.closed_at >= :since AND {resolved}",
              "level": f"d.closed_at IS NULL AND d.level > 0 AND {level}"}
    with engine.connect() as conn:
        return {kind: read_cases(conn, f"{scope} AND {where}", params | ({"since": since} if ":since" in where else {}),
                                 dunning, today)
                for kind, where in wheres.items()}


@task(name="put-disputes-on-worklists", cache_policy=NO_CACHE)
def put_on_worklists(engine: Engine, cases: list[DisputeCase], locale: str) -> int:
    """Each open dispute once on its owner's worklist (the customer's collector)."""
    rows = [{"key": f"dispute|{c.dispute_id}", "collector": c.owner or c.collector, "customer": c.customer_id,
             "detail": f"{c.invoice_number}: {money(c.amount_cents, c.currency, locale)} disputed since "
                       f"{c.opened_at.date().isoformat()} ({c.reason})", "at": wh.utcnow()} for c in cases]
    if not rows:
        return 0
    with engine.begin() as conn:
        return sum(conn.execute(sa.text(
            "INSERT INTO collector_worklist (item_key, collector, customer_id, kind, detail, created_at) "
            "VALUES (:key, :collector, :customer, 'dispute', :detail, :at) ON CONFLICT (item_key) DO NOTHING"),
            row).rowcount for row in rows)


def publish_escalation(cases: dict[str, list[DisputeCase]], notices: DisputeNotices, sent: StaffMailResult,
                       today: date, locale: str) -> None:
    """One row per dispute: what it is, and who was told now, earlier, or could not be told (and why)."""
    status = {n.key: "sent now" for n in sent.sent} | {n.key: "sent earlier" for n in sent.already} | {
        n.key: f"{s}: {r}" for n, s, r in sent.unsent}
    rows = []
    for kind, group in cases.items():
        for c in group:
            told = [f"{key.split('|', 2)[2]} {v}" for key, v in status.items()
                    if key.startswith(f"dispute|{c.dispute_id}|")]
            missing = [who for d, who in notices.missing if d == c.dispute_id]
            rows.append({"dispute": c.dispute_id, "event": kind, "customer": f"{c.customer_name} ({c.customer_id})",
                         "amount": money(c.amount_cents, c.currency, locale), "reason": c.reason,
                         "days open": c.days_open(today), "level": c.level, "status": c.status,
                         "told": "; ".join(told) or "nobody",
                         "no address for": "; ".join(missing) or ""})
    create_table_artifact(rows, key="dispute-escalation",
                          description=f"{len(rows)} dispute(s): {len(sent.sent)} email(s) sent now, "
                                      f"{len(sent.already)} sent by an earlier run, {len(sent.unsent)} not sent. "
                                      "A person without an address: add them to the report recipients block.")
    for who in sorted({w for _, w in notices.missing}):
        get_run_logger().warning("No address for %s in the report recipients block: they were not told", who)
