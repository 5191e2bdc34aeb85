"""Emails to arpilot's own staff about an account (a new dispute, an escalation, a broken promise, a final notice
coming), each exactly once.

Every notice has a key that says what it is about and for whom (e.g. 'dispute|INV-1@2026-11-02|opened|sales'),
reserved in staff_notices before the relay is called, marked 'sending' just before the message's DATA ends, and
completed after: a rerun, a retry or a second run finds the row and sends nothing. A run that died leaves rows
owned by a dead process: reserved ones were never handed over and are released to be sent again; 'sending'
ones may have reached the relay and become 'unknown', never resent. Templates: reports/templates/staff.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache, partial

import sqlalchemy as sa
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_UI_URL
from sqlalchemy.engine import Connection, Engine

from blocks.email_channel import EmailChannel
from blocks.ledger import PROJECT_ROOT
from tasks import warehouse as wh
from tasks.claims import OWNER, checkpoint, owner_alive
from tasks.dunning.channels import EmailSender, deliver
from tasks.dunning.messages import RenderedMessage, compose_email

TEMPLATES = PROJECT_ROOT / "reports" / "templates" / "staff"
LEASE_SECONDS = 900
DONE = ("sent", "failed", "unknown")


@dataclass(frozen=True)
class StaffNotice:
    key: str  # what the notice is about and for whom: sent once, ever
    kind: str  # dispute-opened, dispute-level, dispute-resolved, promise-broken, sales-heads-up...
    to: tuple[str, ...]
    message: RenderedMessage
    customer_id: str | None = None


@dataclass
class StaffMailResult:
    sent: list[StaffNotice] = field(default_factory=list)
    already: list[StaffNotice] = field(default_factory=list)  # an earlier run holds or sent it
    unsent: list[tuple[StaffNotice, str, str]] = field(default_factory=list)  # (notice, status, reason)


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(loader=FileSystemLoader(str(TEMPLATES)),
                                autoescape=select_autoescape(enabled_extensions=("html.j2",)),
                                undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_staff(name: str, context: dict) -> RenderedMessage:
    """Subject, text and HTML from reports/templates/staff/<name>.subject.j2, .txt.j2 and .html.j2."""
    env = _environment()
    subject = " ".join(env.get_template(f"{name}.subject.j2").render(context).split())
    context = context | {"subject": subject}
    return RenderedMessage(subject, env.get_template(f"{name}.txt.j2").render(context).strip() + "\n",
                           env.get_template(f"{name}.html.j2").render(context))


def run_url(run_id) -> str | None:
    """A flow run's page in the Prefect UI, for an email that asks someone to act there (None: no UI known)."""
    ui = PREFECT_UI_URL.value()
    return f"{ui.rstrip('/')}/runs/flow-run/{run_id}" if run_id and ui else None


def _now() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)


def reconcile(conn: Connection) -> int:
    """Settle rows a dead run left: reserved -> released (never handed over), sending -> unknown. Returns how many."""
    rows = conn.execute(sa.text("SELECT notice_key, status, owner, lease_until FROM staff_notices "
                                "WHERE status IN ('reserved', 'sending')")).all()
    now = wh.utcnow()
    alive = {owner: owner_alive(owner) for _, _, owner, _ in rows}
    gone = [(key, status) for key, status, owner, lease in rows
            if alive[owner] is False or (alive[owner] is None and str(lease)[:19] < now)]
    for key, status in gone:
        if status == "reserved":
            conn.execute(sa.text("DELETE FROM staff_notices WHERE notice_key = :k AND status = 'reserved'"), {"k": key})
        else:
            conn.execute(sa.text("UPDATE staff_notices SET status = 'unknown', completed_at = :t, reason = "
                                 "'the run died while handing it to the relay; counted as sent, not resent' "
                                 "WHERE notice_key = :k AND status = 'sending'"), {"k": key, "t": now})
    return len(gone)


def reserve(conn: Connection, notice: StaffNotice, run_id: str) -> bool:
    """Claim a notice nobody has claimed (or one the relay refused for now); True when this run now owns it."""
    now = datetime.fromisoformat(wh.utcnow())
    return conn.execute(sa.text(
        "INSERT INTO staff_notices (notice_key, kind, customer_id, recipients, subject, status, run_id, owner, "
        "lease_until, reserved_at) VALUES (:k, :kind, :c, :to, :s, 'reserved', :run, :owner, :lease, :now) "
        "ON CONFLICT (notice_key) DO UPDATE SET status = 'reserved', run_id = excluded.run_id, "
        "owner = excluded.owner, lease_until = excluded.lease_until WHERE staff_notices.status = 'owed'"),
        {"k": notice.key, "kind": notice.kind, "c": notice.customer_id, "to": "; ".join(notice.to),
         "s": notice.message.subject, "run": run_id, "owner": OWNER, "now": now,
         "lease": now + timedelta(seconds=LEASE_SECONDS)}).rowcount == 1


def send_staff_notices(engine: Engine, email: EmailChannel, email_name: str, notices: Iterable[StaffNotice],
                       run_id: str, sender_name: str, attempts: int = 3,
                       backoff: tuple[float, ...] = (2.0, 10.0)) -> StaffMailResult:
    """Send each notice once, on one SMTP connection; the result says what went, what an earlier run had done,
    and what did not go (owed: the relay refused for now and the next run sends it; failed; unknown)."""
    result = StaffMailResult()
    notices = list(notices)
    if not notices:
        return result
    with engine.begin() as conn:
        reconcile(conn)
        owned = [n for n in notices if reserve(conn, n, run_id)]
    result.already = [n for n in notices if n not in owned]
    mailer = EmailSender(email, email_name)
    handover = engine.connect()
    try:
        for notice in owned:
            def sending(key: str = notice.key) -> None:
                handover.execute(sa.text("UPDATE staff_notices SET status = 'sending' WHERE notice_key = :k"),
                                 {"k": key})
                handover.commit()
                checkpoint("staff-handing-over")

            def refused(key: str = notice.key) -> None:
                handover.execute(sa.text("UPDATE staff_notices SET status = 'reserved' WHERE notice_key = :k "
                                         "AND status = 'sending'"), {"k": key})
                handover.commit()

            mail = compose_email(notice.message, [(None, a) for a in notice.to], notice.key, email.from_address,
                                 email.from_name or sender_name, email.reply_to, _now())
            delivery = deliver(partial(mailer.send, mail, email.from_address, list(notice.to), sending),
                               attempts, list(backoff), refused=refused)
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE staff_notices SET status = :st, attempts = :a, provider_id = :p, "
                                     "reason = :r, completed_at = :t WHERE notice_key = :k"),
                             {"st": delivery.status, "a": delivery.attempts, "p": delivery.provider_id,
                              "r": delivery.reason, "t": wh.utcnow(), "k": notice.key})
            if delivery.status == "sent":
                result.sent.append(notice)
            else:
                result.unsent.append((notice, delivery.status, delivery.reason or ""))
    finally:
        mailer.close()
        handover.close()
    return result


@task(name="send-staff-notices", cache_policy=NO_CACHE)
def send_staff_notices_task(engine: Engine, email: EmailChannel, email_name: str, notices: list[StaffNotice],
                            run_id: str, sender_name: str) -> StaffMailResult:
    """The Prefect task around send_staff_notices; logs what went and what did not, by key."""
    result = send_staff_notices(engine, email, email_name, notices, run_id, sender_name)
    logger = get_run_logger()
    logger.info("Staff notices: %d sent, %d sent by an earlier run, %d not sent", len(result.sent),
                len(result.already), len(result.unsent))
    for notice, status, reason in result.unsent:
        logger.warning("Staff notice %s %s: %s", notice.key, status, reason)
    return result
