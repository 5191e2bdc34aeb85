"""The planning rules, one by one: who gets what today, and the reason for every message held back."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from dunning_cases import COMPANY, TODAY, Ledger, at_local

from blocks.company import CompanyProfile
from blocks.dunning_policy import CustomerOverride, DunningPolicy
from tasks.dunning import plan as dp
from tasks.dunning.plan import SendHistory, make_batches, plan_dunning

POLICY = DunningPolicy(escalation_to=["ar-manager@northwind.example"])
NOON = at_local(TODAY, 12)


def plan(ledger: Ledger, policy: DunningPolicy = POLICY, history: SendHistory | None = None, now=NOON,
         company: CompanyProfile = COMPANY):
    return plan_dunning(*ledger.frames(), history or SendHistory(), policy, company, now)


def sent(result) -> set[tuple[str, str, int, str]]:
    return {(m.customer_id, m.currency, m.step, m.channel) for m in result.messages}


def reasons(result) -> dict[tuple[str, str], str]:
    return {(r.customer_id, r.channel): r.reason for r in result.skips.itertuples()}


def test_one_day_late_gets_a_friendly_email_to_the_ap_contact():
    result = plan(Ledger().customer("C1").invoice("I1", "C1", 1))
    [m] = result.messages
    assert (m.step, m.channel, m.tone, m.bucket) == (1, "email", "friendly", "1-30")
    assert [r.address for r in m.recipients] == ["ap0@c1.example"]
    assert m.key == "C1|USD|1|2026-11-23|email"
    assert result.skips.empty


@pytest.mark.parametrize(("days", "step"), [(-7, -7), (-3, -7), (-1, -1), (0, -1), (14, 1), (15, 15), (44, 30),
                                            (120, 90)])
def test_each_invoice_is_at_the_latest_step_it_has_reached(days, step):
    result = plan(Ledger().customer("C1").invoice("I1", "C1", days))
    assert {m.step for m in result.messages} == {step}


def test_nothing_before_the_first_step():
    assert plan(Ledger().customer("C1").invoice("I1", "C1", -8)).messages == []


def test_one_message_per_customer_and_currency_listing_every_invoice_at_the_firmest_step():
    ledger = (Ledger().customer("C1").invoice("I1", "C1", 31).invoice("I2", "C1", 2).invoice("I3", "C1", -7)
              .invoice("E1", "C1", 16, currency="EUR"))
    result = plan(ledger)
    emails = {m.currency: m for m in result.messages if m.channel == "email"}
    assert set(emails) == {"USD", "EUR"}
    assert [i.invoice_number for i in emails["USD"].invoices] == ["I1", "I2", "I3"]  # oldest first
    assert (emails["USD"].step, emails["USD"].tone, emails["USD"].amount_cents) == (30, "firm", 300_000)
    assert [i.invoice_number for i in emails["EUR"].invoices] == ["E1"]
    # The 30-day step adds SMS and the collector's call list; the EUR invoice is at 15 days: email and SMS.
    assert sent(result) == {("C1", "USD", 30, "email"), ("C1", "USD", 30, "sms"), ("C1", "USD", 30, "call"),
                            ("C1", "EUR", 15, "email"), ("C1", "EUR", 15, "sms")}


def test_an_invoice_is_reminded_of_a_step_once_and_a_new_invoice_brings_a_new_message():
    ledger = Ledger().customer("C1").invoice("I1", "C1", 3)
    history = SendHistory({("I1", 1, "email")}, {("C1", "email"): (TODAY - timedelta(days=2), frozenset({"USD"}))})
    assert plan(ledger, history=history).messages == []
    ledger.invoice("I2", "C1", 1)
    later = SendHistory({("I1", 1, "email")}, {("C1", "email"): (TODAY - timedelta(days=3), frozenset({"USD"}))})
    [m] = plan(ledger, history=later).messages
    assert [i.invoice_number for i in m.invoices] == ["I1", "I2"]


@pytest.mark.parametrize(("setup", "reason"), [
    (lambda led: led.customer("C1").invoice("I1", "C1", 5, disputed=True), dp.DISPUTED),
    (lambda led: led.customer("C1").invoice("I1", "C1", 5, promise="2026-11-30"), dp.PROMISE),
    (lambda led: led.customer("C1", autopay=True).invoice("I1", "C1", 3), dp.AUTOPAY_SCHEDULED),
    (lambda led: led.customer("C1", autopay=True).invoice("I1", "C1", 9, charge=("processing", None, None)),
     dp.AUTOPAY_PENDING),
    (lambda led: led.customer("C1", autopay=True).invoice("I1", "C1", 9, charge=("succeeded", None, None)),
     dp.AUTOPAY_PAID),
    (lambda led: led.customer("C1", autopay=True).invoice("I1", "C1", 9, charge=("failed", "soft", "2026-11-23")),
     dp.AUTOPAY_RETRY),
    (lambda led: led.customer("C1", stopped=True).invoice("I1", "C1", 5), dp.STOPPED),
    (lambda led: led.customer("C1", internal=True).invoice("I1", "C1", 5), dp.INTERNAL),
    (lambda led: led.customer("C1", paused_until="2026-11-23").invoice("I1", "C1", 5), dp.PAUSED),
    (lambda led: led.customer("C1", email_ok=False).invoice("I1", "C1", 5), dp.GATE_FAILED),
    (lambda led: led.customer("C1", contacts=0).invoice("I1", "C1", 5), dp.GATE_FAILED),
    (lambda led: led.customer("C1", opt_out_email=True).invoice("I1", "C1", 5), dp.OPTED_OUT),
    (lambda led: led.customer("C1").invoice("I1", "C1", 5, cents=999), dp.BELOW_MINIMUM),
    (lambda led: led.customer("C1", zone="Asia/Tokyo").invoice("I1", "C1", 5), dp.DEFERRED),
])
def test_every_message_held_back_says_why(setup, reason):
    result = plan(setup(Ledger()))
    assert result.messages == []
    assert reasons(result) == {("C1", "email"): reason}


def test_held_back_invoices_are_left_out_of_a_message_that_still_goes():
    ledger = Ledger().customer("C1").invoice("I1", "C1", 5).invoice("I2", "C1", 6, disputed=True)
    [m] = plan(ledger).messages
    assert [i.invoice_number for i in m.invoices] == ["I1"]


@pytest.mark.parametrize(("setup", "should_send"), [
    (lambda led: led.customer("C1").invoice("I1", "C1", 5, promise="2026-11-22"), True),  # promise lapsed
    (lambda led: led.customer("C1", autopay=True).invoice("I1", "C1", 6), True),  # no charge came in time
    (lambda led: led.customer("C1", autopay=True).invoice("I1", "C1", 9, charge=("failed", "hard", None)), True),
    (lambda led: led.customer("C1", autopay=True).invoice("I1", "C1", 9, charge=("failed", "soft", "2026-11-22")),
     True),  # the retry day passed without a new charge
    (lambda led: led.customer("C1", paused_until="2026-11-22").invoice("I1", "C1", 5), True),  # pause over
    (lambda led: led.customer("C1").invoice("I1", "C1", 5, cents=1000), True),  # exactly the minimum
    (lambda led: led.customer("C1", email_ok=False, contacts=1).customer("C2").invoice("I1", "C2", 5), True),
])
def test_a_rule_that_no_longer_applies_lets_the_message_go(setup, should_send):
    assert bool(plan(setup(Ledger())).messages) is should_send


def test_policy_overrides_stop_pause_and_soften_per_customer():
    ledger = (Ledger().customer("C1").invoice("I1", "C1", 5).customer("C2").invoice("I2", "C2", 5)
              .customer("C3").invoice("I3", "C3", 95))
    policy = POLICY.model_copy(update={"overrides": {
        "C1": CustomerOverride(stop=True), "C2": CustomerOverride(pause_until=date(2026, 12, 1)),
        "C3": CustomerOverride(tone="friendly")}})
    result = plan(ledger, policy)
    assert reasons(result)[("C1", "email")] == dp.STOPPED
    assert reasons(result)[("C2", "email")] == dp.PAUSED
    assert {m.tone for m in result.messages if m.customer_id == "C3"} == {"friendly"}
    assert {m.channel for m in result.messages if m.customer_id == "C3"} == {"email", "call", "escalation"}


def test_frequency_cap_is_per_customer_and_channel():
    ledger = Ledger().customer("C1").invoice("I1", "C1", 15)
    recent = SendHistory(set(), {("C1", "email"): (TODAY - timedelta(days=2), frozenset({"USD"}))})
    result = plan(ledger, history=recent)
    assert reasons(result) == {("C1", "email"): dp.CAPPED}
    assert sent(result) == {("C1", "USD", 15, "sms")}
    old = SendHistory(set(), {("C1", "email"): (TODAY - timedelta(days=3), frozenset({"USD"}))})
    assert sent(plan(ledger, history=old)) == {("C1", "USD", 15, "email"), ("C1", "USD", 15, "sms")}
    # Another currency the same day belongs to the same mailing; it is not capped by the first.
    same_day = SendHistory(set(), {("C1", "email"): (TODAY, frozenset({"EUR"}))})
    assert ("C1", "USD", 15, "email") in sent(plan(ledger, history=same_day))


def test_sms_goes_to_one_mobile_and_never_to_a_landline():
    result = plan(Ledger().customer("C1", phone_line_type="fixed_line").invoice("I1", "C1", 15))
    assert reasons(result) == {("C1", "sms"): dp.NO_MOBILE}
    policy = POLICY.model_copy(update={"sms_needs_mobile": False})
    assert ("C1", "USD", 15, "sms") in sent(plan(Ledger().customer("C1", phone_line_type="fixed_line")
                                                  .invoice("I1", "C1", 15), policy))


def test_email_goes_to_every_usable_ap_contact_and_skips_the_ones_that_failed_or_opted_out():
    ledger = Ledger().customer("C1", contacts=3).invoice("I1", "C1", 1)
    ledger.contacts[1]["email_ok"] = False
    ledger.contacts[2]["opt_out_email"] = True
    [m] = plan(ledger).messages
    assert [r.contact_id for r in m.recipients] == ["C1-K0"]


def test_escalation_needs_an_address():
    policy = DunningPolicy()
    result = plan(Ledger().customer("C1").invoice("I1", "C1", 61), policy)
    assert reasons(result)[("C1", "escalation")] == dp.NO_ESCALATION
    assert ("C1", "USD", 60, "email") in sent(result)


def test_email_on_local_business_days_only_when_configured():
    saturday = at_local(date(2026, 11, 28), 11)
    ledger = Ledger(date(2026, 11, 28)).customer("C1").invoice("I1", "C1", 1)
    assert plan(ledger, now=saturday).messages
    policy = POLICY.model_copy(update={"email_business_days_only": True})
    result = plan(ledger, policy, now=saturday)
    assert reasons(result) == {("C1", "email"): dp.DEFERRED}
    assert "not a business day" in result.skips.loc[0, "detail"]


ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Tokyo", "Asia/Kolkata",
         "Australia/Sydney", "Pacific/Auckland"]


@pytest.mark.parametrize("day", [date(2026, 3, 8), date(2026, 11, 1), date(2026, 3, 29)])
def test_over_a_dst_switch_day_nothing_goes_outside_the_window_and_deferred_messages_go_later(day):
    """Hourly runs through a day on which clocks change (US spring forward, US fall back, EU spring forward):
    every contact in seven zones gets its reminder once, inside 08:00-21:00 its own local time."""
    ledger = Ledger(day)
    for n, zone in enumerate(ZONES):
        ledger.customer(f"C{n}", zone=zone).invoice(f"I{n}", f"C{n}", 1)
    company = CompanyProfile(legal_name="N", time_zone="UTC")
    history = SendHistory()
    delivered: dict[str, object] = {}
    start = at_local(day, 0, "UTC")
    for quarter in range(24 * 4):
        now = start + timedelta(minutes=15 * quarter)
        result = plan(ledger, POLICY, history, now, company)
        for m in result.messages:
            local = now.astimezone(ZoneInfo(m.recipients[0].time_zone))
            assert POLICY.window_start <= local.time() < POLICY.window_end, (m.customer_id, local)
            assert m.customer_id not in delivered, "sent twice"
            delivered[m.customer_id] = local
            history.reminded.update((i.invoice_number, i.step, m.channel) for i in m.invoices)
            history.last_sent[(m.customer_id, m.channel)] = (m.planned_on, frozenset({m.currency}))
        assert set(result.skips["reason"]) <= {dp.DEFERRED}
    # Every zone whose 08:00-21:00 falls inside this UTC day was reached; the others are still deferred.
    for n, zone in enumerate(ZONES):
        opens = at_local(day, 8, zone).astimezone(ZoneInfo("UTC"))
        closes = at_local(day, 21, zone).astimezone(ZoneInfo("UTC"))
        reachable = any(start <= start + timedelta(minutes=15 * q) < start + timedelta(days=1)
                        and opens <= start + timedelta(minutes=15 * q) < closes for q in range(96))
        assert (f"C{n}" in delivered) == reachable, zone


def test_batches_follow_buckets_and_stay_few_at_any_size():
    ledger = Ledger()
    for n in range(50):
        ledger.customer(f"C{n:02d}").invoice(f"I{n}", f"C{n:02d}", 1 if n % 2 else 31)
    result = plan(ledger)
    batches = make_batches(result.messages, ["not_due", "1-30", "31-60", "61-90", "90+"], 10, 200)
    assert [b.bucket for b in batches][0] == "1-30"
    assert sum(len(b.messages) for b in batches) == len(result.messages)
    assert all(len({m.bucket for m in b.messages}) == 1 for b in batches)
    assert len(make_batches(result.messages * 100, ["1-30", "31-60"], 10, 20)) <= 20
