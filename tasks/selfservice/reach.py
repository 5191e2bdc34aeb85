"""May arpilot text or call this number now? The same rules as the nightly's reminders (tasks/dunning/plan.py): no
message to a number opted out of the channel (by the ledger or by the customer's own STOP), none to a contact the
last contact checks closed the channel for (a wrong number, an undelivered text, a landline), and none outside the
contact's local window. Every outbound text and call the customer's phone starts (a pay link asked for in the IVR, a
collector's call) asks here first.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from tasks.dunning.plan import in_window

CHANNELS = ("sms", "voice")


def reach_refused(conn: Connection, channel: str, phone: str, now: datetime, company: CompanyProfile,
                  policy: DunningPolicy) -> str | None:
    """Why ``phone`` may not get a ``channel`` message at ``now`` (in words), or None when it may."""
    if channel not in CHANNELS:
        raise ValueError(f"channel {channel!r} is not one of {CHANNELS}")
    opted_out = conn.execute(sa.text(
        "SELECT reason FROM channel_opt_outs WHERE channel = :c AND address = :a"), {"c": channel, "a": phone}).first()
    if opted_out:
        return f"the number opted out of {channel} ({opted_out.reason})"
    contacts = conn.execute(sa.text(
        f"SELECT k.opt_out_{channel} AS opted_out, g.{channel}_ok AS gate_ok, "
        "COALESCE(p.time_zone, k.time_zone) AS time_zone FROM contacts k "
        "LEFT JOIN contact_profiles p ON p.contact_id = k.contact_id "
        "LEFT JOIN contact_gate g ON g.contact_id = k.contact_id WHERE k.contact_id IN "
        "(SELECT contact_id FROM contact_profiles WHERE phone_e164 = :a UNION SELECT contact_id FROM contacts "
        "WHERE phone = :a) ORDER BY k.contact_id"), {"a": phone}).all()
    if any(c.opted_out for c in contacts):
        return f"the ledger marks the contact opted out of {channel}"
    if any(c.gate_ok is not None and not c.gate_ok for c in contacts):
        return f"the contact checks hold {channel} to this number (see the contact-cleanup worklist)"
    zone = next((c.time_zone for c in contacts if c.time_zone), None)
    allowed, local = in_window(now, zone, company, policy, channel)
    return None if allowed else f"outside the contact's hours ({local})"
