"""Two-way SMS through the serve app, signed as Twilio signs, over a real warehouse (SQLite and PostgreSQL: the
SQL is new): each command changes what it should, answers in TwiML (or not at all where Twilio answers itself),
and discloses nothing to a number that is not on file."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest
from selfservice_cases import ACME, BETA, DESK, NOBODY, SHARED, TODAY, counts, post, rows, seed_world, serve, sms_params

from tasks.selfservice.sms import STOP_WORDS, read_command

SMS = "/twilio/sms"
_sids = iter(range(10_000))


@pytest.fixture
def http(warehouse):
    seed_world(warehouse)
    with serve(warehouse) as client:
        yield client


def text(http, from_: str, body: str) -> list[str]:
    """Send a text; the replies of the TwiML answer."""
    answer = post(http, SMS, sms_params(from_, body, f"SM{next(_sids):032d}"))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(answer.text)
    assert root.tag == "Response"
    return [m.text for m in root.iter("Message")]


def opted_out(engine) -> list[tuple]:
    return rows(engine, "SELECT address, reason FROM channel_opt_outs WHERE channel = 'sms'")


@pytest.mark.parametrize("word", sorted(STOP_WORDS) + ["stop", " Stop. ", "unsubscribe!"])
def test_every_stop_word_opts_the_number_out_at_once_without_a_second_reply(http, warehouse, word):
    assert text(http, ACME, word) == []  # Twilio sends its own confirmation
    assert opted_out(warehouse) == [(ACME, f"replied {word.strip().rstrip('.!').upper()} by SMS")]
    assert rows(warehouse, "SELECT command, outcome FROM sms_inbound") == [("stop", "opted out of SMS")]


def test_a_stop_inside_a_sentence_is_a_message_for_the_collector_not_an_opt_out(http, warehouse):
    assert text(http, ACME, "please stop calling my cell, use email") != []
    assert opted_out(warehouse) == []
    assert rows(warehouse, "SELECT kind FROM collector_worklist") == [("sms_text",)]


@pytest.mark.parametrize("word", ["START", "unstop", "Yes"])
def test_start_lifts_the_opt_out_silently(http, warehouse, word):
    text(http, ACME, "STOP")
    assert text(http, ACME, word) == []
    assert opted_out(warehouse) == []


def test_stop_from_an_unknown_number_is_still_honoured(http, warehouse):
    assert text(http, NOBODY, "STOP") == []
    assert opted_out(warehouse) == [(NOBODY, "replied STOP by SMS")]


@pytest.mark.parametrize("word", ["HELP", "info"])
def test_help_is_left_to_twilio_where_twilio_answers_it(http, warehouse, word):
    assert text(http, NOBODY, word) == []  # a second answer beside Twilio's would only confuse
    assert rows(warehouse, "SELECT command, outcome FROM sms_inbound") == [("help", "Twilio answered HELP")]


@pytest.mark.parametrize("word", ["HELP", "info"])
def test_on_a_short_code_arpilot_answers_help_with_the_ar_desk(warehouse, word):
    [reply] = text(serve(warehouse, short_code=True), NOBODY, word)
    assert DESK in reply and "Northwind Components Ltd" in reply and "BAL" in reply and "STOP" in reply


def test_on_a_short_code_arpilot_confirms_stop_and_start(warehouse):
    http = serve(warehouse, short_code=True)
    assert text(http, ACME, "STOP") == ["Northwind Components Ltd: you will get no more texts from this number. "
                                        "Reply START to receive them again."]
    assert opted_out(warehouse) == [(ACME, "replied STOP by SMS")]
    assert text(http, ACME, "start") == ["Northwind Components Ltd: texts from this number are on again. Reply HELP "
                                         "for help, STOP to stop."]
    assert opted_out(warehouse) == []


def test_balance_is_given_per_currency_never_added_up(http):
    [reply] = text(http, ACME, "bal")
    assert reply == "Acme GmbH: €500.00 and $2,249.00 open."


def test_balance_of_a_number_shared_by_two_customers_names_each(http):
    [reply] = text(http, SHARED, "BALANCE")
    assert reply == "Gamma Inc: $100.00 open. Delta Co: $200.00 open."


def test_an_unknown_number_learns_nothing(http, warehouse):
    for body in ("BAL", "PAID", "PROMISE 2026-12-15", "what do I owe?"):
        [reply] = text(http, NOBODY, body)
        assert reply.startswith("We could not find your account") and "$" not in reply and "Acme" not in reply
    assert counts(warehouse)["collector_worklist"] == 0 and counts(warehouse)["promises"] == 0
    assert {r[0] for r in rows(warehouse, "SELECT outcome FROM sms_inbound")} == {
        "number not on file: nothing disclosed"}


def test_paid_becomes_an_item_on_the_collectors_worklist(http, warehouse):
    [reply] = text(http, BETA, "PAID by wire on Friday, ref 8812")
    assert "account manager" in reply
    assert rows(warehouse, "SELECT collector, customer_id, kind, detail FROM collector_worklist") == [
        ("Bo Chen", "C2", "sms_paid", "Customer texted that they paid: PAID by wire on Friday, ref 8812")]


def test_promise_with_a_date_records_a_promise_from_sms(http, warehouse):
    [reply] = text(http, BETA, "PROMISE 2026-12-15")
    assert reply == "Thank you. We noted your promise to pay $777.00 by 15 Dec 2026."
    assert rows(warehouse, "SELECT customer_id, currency, amount_cents, promised_for, source, status FROM promises"
                ) in ([("C2", "USD", 77_700, "2026-12-15", "sms", "open")],
                      [("C2", "USD", 77_700, date(2026, 12, 15), "sms", "open")])


def test_a_promise_that_cannot_say_which_currency_goes_to_the_collector(http, warehouse):
    [reply] = text(http, ACME, "promise 15 Dec")
    assert reply == "Thank you. Your account manager will confirm your promise to pay by 15 Dec 2026."
    assert counts(warehouse)["promises"] == 0
    assert rows(warehouse, "SELECT customer_id, kind FROM collector_worklist") == [("C1", "sms_promise")]


def test_a_promise_for_a_past_or_unreadable_date_is_explained(http, warehouse):
    [past] = text(http, BETA, "PROMISE 2026-11-01")
    [unreadable] = text(http, BETA, "PROMISE 12/05")
    assert "has passed" in past and "PROMISE 2026-12-15" in unreadable
    assert counts(warehouse)["promises"] == 0


def test_anything_else_goes_to_each_customers_collector_with_the_text(http, warehouse):
    [reply] = text(http, SHARED, "Who is this? Send the invoice to accounts@gamma.example")
    assert reply == "Thank you. Your message has been passed to your account manager."
    assert sorted(rows(warehouse, "SELECT customer_id, kind, detail FROM collector_worklist")) == [
        (c, "sms_text", "Customer's text: Who is this? Send the invoice to accounts@gamma.example")
        for c in ("C3", "C4")]


def test_numbers_in_the_log_are_masked(http, caplog):
    with caplog.at_level("INFO", logger="arpilot.selfservice"):
        text(http, ACME, "BAL")
    assert ACME not in caplog.text and "+12*****0000" in caplog.text


@pytest.mark.parametrize(("body", "kind", "day"), [
    ("PROMISE 2027-01-31", "promise", date(2027, 1, 31)), ("promise Jan 5", "promise", date(2027, 1, 5)),
    ("Promise 30th november", "promise", date(2026, 11, 30)), ("PROMISE 24 Nov 2026", "promise", date(2026, 11, 24)),
    ("paid", "paid", None), ("Bal?", "balance", None), ("STOP ALL", "other", None), ("hello", "other", None)])
def test_reading_commands(body, kind, day):
    command = read_command(body, TODAY)
    assert (command.kind, command.promised_for) == (kind, day)


def test_a_text_delivered_twice_is_handled_once(http, warehouse):
    """The replay record on both backends: the second delivery of the same signed request is refused."""
    params = sms_params(BETA, "PAID", "SM" + "f" * 32)
    assert [post(http, SMS, params).status_code for _ in range(2)] == [200, 403]
    assert counts(warehouse)["collector_worklist"] == 1 and counts(warehouse)["sms_inbound"] == 1
