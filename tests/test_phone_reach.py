"""Every text and call the customer's phone starts asks reach_refused first: the same opt-outs and local hours as
the nightly's reminders, on a real warehouse (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from dunning_cases import at_local
from selfservice_cases import ACME, COMPANY, NOBODY, TODAY, seed_world

from blocks.dunning_policy import DunningPolicy
from tasks import warehouse as wh
from tasks.selfservice.reach import reach_refused

POLICY = DunningPolicy()  # 08:00 to 21:00 at the contact
NOON = at_local(TODAY, 12)  # Acme's contact is in New York


@pytest.fixture
def conn(warehouse):
    seed_world(warehouse)
    with warehouse.begin() as conn:
        yield conn


def test_a_known_number_in_its_hours_may_be_texted_and_called(conn):
    assert reach_refused(conn, "sms", ACME, NOON, COMPANY, POLICY) is None
    assert reach_refused(conn, "voice", ACME, NOON, COMPANY, POLICY) is None


def test_a_number_that_texted_stop_gets_no_text_but_may_still_be_called(conn):
    conn.execute(sa.text("INSERT INTO channel_opt_outs (channel, address, reason, recorded_at) "
                         "VALUES ('sms', :a, 'replied STOP by SMS', :t)"), {"a": ACME, "t": wh.utcnow()})
    assert reach_refused(conn, "sms", ACME, NOON, COMPANY, POLICY) == \
        "the number opted out of sms (replied STOP by SMS)"
    assert reach_refused(conn, "voice", ACME, NOON, COMPANY, POLICY) is None


def test_the_ledgers_opt_out_of_calls_holds(conn):
    conn.execute(sa.text("UPDATE contacts SET opt_out_voice = :y WHERE phone = :a"), {"y": True, "a": ACME})
    assert reach_refused(conn, "voice", ACME, NOON, COMPANY, POLICY) == \
        "the ledger marks the contact opted out of voice"
    assert reach_refused(conn, "sms", ACME, NOON, COMPANY, POLICY) is None


def test_a_number_the_contact_checks_closed_a_channel_for_gets_nothing_on_it(conn):
    conn.execute(sa.text("INSERT INTO contact_gate (contact_id, customer_id, email_ok, sms_ok, voice_ok, run_id, "
                         "decided_on) SELECT contact_id, customer_id, :y, :n, :y, 'r1', :d FROM contacts "
                         "WHERE phone = :a"), {"y": True, "n": False, "d": TODAY, "a": ACME})
    assert reach_refused(conn, "sms", ACME, NOON, COMPANY, POLICY) == \
        "the contact checks hold sms to this number (see the contact-cleanup worklist)"
    assert reach_refused(conn, "voice", ACME, NOON, COMPANY, POLICY) is None


@pytest.mark.parametrize(("hour", "minute", "allowed"), [(7, 59, False), (8, 0, True), (20, 59, True),
                                                          (21, 0, False), (2, 30, False)])
def test_the_contacts_own_hours_decide_not_the_companys(conn, hour, minute, allowed):
    now = at_local(TODAY, hour, minute=minute)  # New York, where the contact is; the company is in Chicago
    refused = reach_refused(conn, "sms", ACME, now, COMPANY, POLICY)
    if allowed:
        assert refused is None
    else:
        assert refused == f"outside the contact's hours (Mon {hour:02d}:{minute:02d} America/New_York)"


def test_a_number_not_on_file_is_judged_in_the_companys_hours(conn):
    assert reach_refused(conn, "sms", NOBODY, at_local(TODAY, 7, "America/Chicago", 30), COMPANY, POLICY) == \
        "outside the contact's hours (Mon 07:30 America/Chicago)"
    assert reach_refused(conn, "sms", NOBODY, at_local(TODAY, 8, "America/Chicago"), COMPANY, POLICY) is None


def test_only_texts_and_calls_are_asked_about(conn):
    with pytest.raises(ValueError, match="'email' is not one of"):
        reach_refused(conn, "email", ACME, NOON, COMPANY, POLICY)
