"""Autopay charges with the real stripe client against the local Stripe: each due invoice charged once, or not at
all with the reason recorded; declines retried or handed back; bank debits processing until they settle."""


from __future__ import annotations

import csv
from datetime import date, timedelta

import pytest
import stripe
from charge_cases import CAP, SQLITE_ONLY, card, intents, read, run, sepa
from dunning_cases import TODAY, Ledger, seed

from sandbox.stripe_api import FAILING_IBAN
from tasks.charges.mandates import enroll

pytest_plugins = ("charge_cases",)  # its fixtures: env, stripe_server


def test_a_due_card_invoice_is_charged_once_and_is_paid_in_the_warehouse_and_the_export(env):
    seed(env.engine, Ledger().customer("C1").invoice("I1", "C1", 0, 12_345).invoice("I2", "C1", 3, 50_000)
         .invoice("I3", "C1", -5, 70_000))  # I3 is not due yet
    enroll(env.engine, env.client, "C1", "USD", card(env.client), CAP, "cli")
    summary = run(env)
    [intent] = intents(env)
    assert (intent.status, intent.amount, intent.currency, intent.metadata["charge_key"]) == (
        "succeeded", 62_345, "usd", f"C1|USD|{TODAY}")
    assert summary.count("succeeded") == 1
    invoices = read(env.engine, "SELECT invoice_number, status, open_cents FROM invoices ORDER BY invoice_number")
    assert invoices.values.tolist() == [["I1", "paid", 0], ["I2", "paid", 0], ["I3", "open", 70_000]]
    alloc = read(env.engine, "SELECT a.invoice_number, a.amount_cents, p.amount_cents AS paid, p.received_on "
                             "FROM allocations a JOIN payments p ON p.payment_id = a.document_id ORDER BY 1")
    assert alloc[["invoice_number", "amount_cents", "paid"]].values.tolist() == [["I1", 12_345, 62_345],
                                                                                 ["I2", 50_000, 62_345]]
    rows = list(csv.DictReader(summary.export.open()))
    assert [(r["invoice_number"], r["applied_amount"], r["payment_amount"], r["gateway_reference"]) for r in rows] == [
        ("I1", "123.45", "623.45", intent.id), ("I2", "500.00", "623.45", intent.id)]

    run(env)  # a rerun of the day charges nothing more
    run(env, TODAY + timedelta(days=1))  # nor does the next day: nothing is due but I3, not yet
    assert len(intents(env)) == 1


def test_reasons_not_to_charge_are_recorded_and_the_gateway_is_never_asked(env):
    seed(env.engine, Ledger().customer("CAP").invoice("I-CAP", "CAP", 1, 2_000_000)
         .customer("EUR").invoice("I-EUR", "EUR", 1, 10_000, currency="EUR")
         .customer("CREDIT").invoice("I-CR", "CREDIT", 1, 10_000)
         .customer("CLOSED").invoice("I-CL", "CLOSED", 1, 10_000)
         .customer("DISPUTE").invoice("I-DS", "DISPUTE", 1, 10_000, disputed=True))
    for customer in ("CAP", "EUR", "CREDIT", "CLOSED", "DISPUTE"):
        enroll(env.engine, env.client, customer, "USD", card(env.client), CAP, "cli")
    with env.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO payments VALUES ('P-UNAPPLIED', 'CREDIT', '2026-11-01', 'USD', 2500, "
                             "'wire', 0, '2026-11-01 00:00:00')")
        conn.exec_driver_sql("UPDATE invoices SET status = 'paid', open_cents = 0 WHERE invoice_number = 'I-CL'")
    summary = run(env)
    assert intents(env) == []
    reasons = {s.customer_id: s.reason for s in summary.skipped}
    assert reasons["CAP"] == "20000.00 USD is above the mandate's maximum of 10000.00 per charge"
    assert reasons["EUR"] == "no autopay mandate in EUR (mandates: USD)"
    assert reasons["CREDIT"].startswith("customer in credit: 25.00 USD unapplied in the ledger")
    assert set(reasons) == {"CAP", "EUR", "CREDIT"}  # a closed or disputed invoice is simply not due for charging
    assert {s.customer_id for s in summary.skipped if s.tell_collector} == {"CAP", "CREDIT"}


def test_a_soft_decline_is_retried_on_the_third_business_day_then_paid(env):
    seed(env.engine, Ledger().customer("C1").invoice("I1", "C1", 2, 40_000))
    method = card(env.client)
    enroll(env.engine, env.client, "C1", "USD", method, CAP, "cli")
    env.server.decline_next(method, "insufficient_funds")
    run(env)  # Monday 23 November
    charge = read(env.engine, "SELECT status, failure_kind, failure_code, CAST(retry_on AS VARCHAR(10)), attempt "
                              "FROM charges")
    assert charge.values.tolist() == [["failed", "soft", "insufficient_funds", "2026-11-26", 1]]
    run(env, TODAY + timedelta(days=1))  # Tuesday: waiting for the retry day
    assert len(intents(env)) == 1
    summary = run(env, date(2026, 11, 26))
    assert summary.count("succeeded") == 1
    assert read(env.engine, "SELECT attempt, status FROM charges ORDER BY attempt").values.tolist() == [
        [1, "failed"], [2, "succeeded"]]
    assert read(env.engine, "SELECT open_cents FROM invoices").iloc[0, 0] == 0


def test_a_hard_decline_is_not_retried_and_the_reason_stays_with_the_invoice(env):
    seed(env.engine, Ledger().customer("C1").invoice("I1", "C1", 2, 40_000))
    method = card(env.client)
    enroll(env.engine, env.client, "C1", "USD", method, CAP, "cli")
    env.server.decline_next(method, "lost_card")
    run(env)
    assert read(env.engine, "SELECT failure_kind, retry_on FROM charges").values.tolist() == [["hard", None]]
    later = run(env, TODAY + timedelta(days=7))
    assert len(intents(env)) == 1
    [skipped] = later.skipped
    assert skipped.reason.startswith(f"declined on {TODAY} (lost_card)")
    # A new payment method starts again.
    enroll(env.engine, env.client, "C1", "USD", card(env.client), CAP, "cli")
    assert run(env, TODAY + timedelta(days=8)).count("succeeded") == 1


def test_a_bank_debit_is_processing_until_it_settles_then_paid_or_failed(env):
    seed(env.engine, Ledger().customer("OK").invoice("I-OK", "OK", 1, 30_000, currency="EUR")
         .customer("KO").invoice("I-KO", "KO", 1, 20_000, currency="EUR"))
    enroll(env.engine, env.client, "OK", "EUR", sepa(env.client), CAP, "portal")
    enroll(env.engine, env.client, "KO", "EUR", sepa(env.client, FAILING_IBAN), CAP, "portal")
    summary = run(env)
    assert summary.count("processing") == 2
    assert read(env.engine, "SELECT COUNT(*) FROM payments").iloc[0, 0] == 0  # not paid while it settles
    run(env, TODAY + timedelta(days=1))  # still processing: nothing asked again
    assert len(intents(env)) == 2
    env.server.settle_debits()
    after = run(env, TODAY + timedelta(days=2))
    assert after.recovered == {"settled succeeded": 1, "settled failed": 1}
    assert read(env.engine, "SELECT customer_id, status FROM charges ORDER BY 1").values.tolist() == [
        ["KO", "failed"], ["OK", "succeeded"]]
    assert read(env.engine, "SELECT invoice_number, open_cents FROM invoices ORDER BY 1").values.tolist() == [
        ["I-KO", 20_000], ["I-OK", 0]]


@SQLITE_ONLY
def test_a_refused_enrolment_never_becomes_a_mandate(env):
    from tasks.charges.mandates import EnrolmentRefused

    seed(env.engine, Ledger().customer("C1").invoice("I1", "C1", 1))
    with pytest.raises(EnrolmentRefused, match="refused payment method"):
        enroll(env.engine, env.client, "C1", "USD", card(env.client, "4000000000000002"), CAP, "cli")
    assert read(env.engine, "SELECT COUNT(*) FROM autopay_mandates").iloc[0, 0] == 0
    with pytest.raises(EnrolmentRefused, match="not in the warehouse"):
        enroll(env.engine, env.client, "NOPE", "USD", card(env.client), CAP, "cli")


@SQLITE_ONLY
def test_a_gateway_that_fails_requests_still_charges_each_invoice_once(env):
    seed(env.engine, Ledger().customer("C1").invoice("I1", "C1", 1).customer("C2").invoice("I2", "C2", 1))
    enroll(env.engine, env.client, "C1", "USD", card(env.client), CAP, "cli")
    enroll(env.engine, env.client, "C2", "USD", card(env.client), CAP, "cli")
    env.server.answer_late(1, 6.0)  # the first charge is made, its answer lost after the client's 5 s timeout
    env.server.fail_next(1)  # the second is refused with a 503: it may or may not have run
    assert run(env).unsettled == 2  # neither is asked again in the run: each request may still be on its way
    summary = run(env)  # the next run, after the grace (0 here), finds the first and asks again for the second
    assert summary.count("succeeded") == 2 and summary.recovered == {"succeeded": 2}
    assert sorted(i.metadata["charge_key"] for i in intents(env)) == [f"C1|USD|{TODAY}", f"C2|USD|{TODAY}"]
    with pytest.raises(stripe.InvalidRequestError):
        env.client.v1.payment_intents.retrieve("pi_missing")
