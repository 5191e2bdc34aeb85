"""Settling what a stopped dunning run left in the outbox, before the next run plans: nothing lost, nothing twice.

reserved rows were never handed over and are planned again; sending SMS and calls are looked up at Twilio;
sending emails cannot be looked up (an SMTP relay cannot be asked) and become ``unknown`` for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.twilio_channel import TwilioChannel
from blocks.warehouse import ArWarehouse
from tasks.claims import checkpoint
from tasks.dunning import outbox
from tasks.dunning.channels import AMBIGUOUS, TwilioSender, identify


@dataclass
class Reconciliation:
    released: int = 0  # reserved, provider never called: planned again
    confirmed: int = 0  # the provider has it: recorded as sent
    resent: int = 0  # the provider has no trace: planned again
    unknown: list[str] = field(default_factory=list)  # outbox keys a person must look at


@task(name="reconcile-outbox", cache_policy=NO_CACHE)
def reconcile_outbox(store: ArWarehouse, twilio: TwilioChannel | None, twilio_name: str) -> Reconciliation:
    """Settle the rows a dead run left behind before planning, so nothing is lost and nothing is sent twice.

    reserved: the provider was never called (an email is only marked "sending" just before its DATA ends, an SMS
    or call just before its request, and a refused attempt goes back to reserved), so the reservation is dropped
    and the message planned again. sending, SMS or voice: Twilio is asked what it has for the number, matched to
    our messages by text and by the sids other rows already hold (see ``identify``); found: sent, nothing: planned
    again, something that may be ours: unknown. sending, email or escalation: the relay was handed the whole
    message, but an SMTP relay cannot be asked; the row becomes ``unknown``, counts as delivered and is never
    resent, and the artifact lists it for a person to check in the relay's log.
    """
    logger = get_run_logger()
    engine = store.engine()
    result = Reconciliation()
    with engine.begin() as conn:
        stale = outbox.orphans(conn)
        release = stale.loc[(stale["status"] == "reserved") | (stale["channel"] == "call"), "outbox_key"].tolist()
        sending = stale[(stale["status"] == "sending") & (stale["channel"] != "call")]
        asked = sending[sending["channel"].isin(["sms", "voice"])] if twilio and len(sending) else sending.iloc[:0]
        verdicts = _ask_twilio(conn, TwilioSender(twilio, twilio_name), asked) if len(asked) else {}
        for row in sending.itertuples():
            sid = verdicts.get(row.outbox_key, AMBIGUOUS)  # an email's relay cannot be asked
            if sid is None:
                release.append(row.outbox_key)
                result.resent += 1
            elif sid != AMBIGUOUS:
                outbox.complete(conn, row.outbox_key, "sent", 1, sid, "confirmed with Twilio after a crash")
                result.confirmed += 1
            else:
                outbox.complete(conn, row.outbox_key, "unknown", 1, None, _unknown_after_crash(row.channel))
                result.unknown.append(row.outbox_key)
        outbox.release(conn, release)
        result.released = len(release) - result.resent
    engine.dispose()
    checkpoint("reconciled")
    if len(stale):
        logger.warning("Reconciled %d outbox rows left by a stopped run: %d released, %d confirmed with Twilio, %d "
                       "resent, %d unknown", len(stale), result.released, result.confirmed, result.resent,
                       len(result.unknown))
    return result


def _ask_twilio(conn, sender: TwilioSender, rows: pd.DataFrame) -> dict[str, str | None]:
    """Per number Twilio was being asked to text or call when the run stopped: which of those messages it has."""
    verdicts: dict[str, str | None] = {}
    for (channel, to), group in rows.groupby(["channel", "recipients"]):
        since = pd.Timestamp(group["reserved_at"].min()).to_pydatetime().replace(tzinfo=UTC)
        ours = [(r.outbox_key, r.subject if channel == "sms" and isinstance(r.subject, str) else None)
                for r in group.itertuples()]
        verdicts |= identify(ours, sender.listed(channel, to, since), outbox.provider_ids(conn, channel, to))
    return verdicts


def _unknown_after_crash(channel: str) -> str:
    if channel in ("sms", "voice"):
        return ("the run stopped while asking Twilio to send it, and Twilio has something to this number since then "
                "that may be it; counted as sent: check Twilio's log and send it by hand if it is not there")
    return ("the run stopped after handing the message to the relay, before its answer was recorded; probably "
            "delivered: if the relay's log has no trace, send it by hand")
