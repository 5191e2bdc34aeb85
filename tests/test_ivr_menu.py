"""The IVR through the serve app, each request signed as Twilio signs, over a real warehouse (SQLite and
PostgreSQL): the TwiML of every path (known, unknown and shared caller IDs, three wrong account numbers, each menu
option, inside and outside hours, each language shipped), and what the options leave behind (promises, voicemails on
the worklist, the call log); option 4's texts and emails are in test_ivr_sends.py."""

from __future__ import annotations

import pytest
from ivr_cases import Caller, steps
from selfservice_cases import (
    ACME,
    AFTER_HOURS,
    BETA,
    COLLECTOR_LINES,
    DESK,
    DESK_NUMBER,
    DUPONT,
    LOPEZ,
    NOBODY,
    PUBLIC,
    SHARED,
    TANAKA,
    WOLSELEY,
    rows,
    seed_ivr_world,
    serve,
    webhooks,
)


def test_a_known_caller_is_greeted_with_the_account_and_the_menu(ivr, warehouse):
    call = Caller(ivr, BETA)
    call.ring()
    assert call.said[:2] == ["Welcome to Northwind Components Ltd, accounts receivable.",
                             "This call is about the account of Beta LLC."]
    gather = call.gather()
    assert gather.get("action") == f"{PUBLIC}/twilio/voice/menu?turn=1" and gather.get("numDigits") == "1"
    assert "press 5" in call.said[2] and "press 0" in call.said[2]
    assert call.languages == {("en-US", "Polly.Joanna")}
    assert [v.tag for v in call.twiml][-2:] == ["Say", "Hangup"]  # no keys: goodbye
    assert rows(warehouse, "SELECT from_number, customer_id, language FROM ivr_calls") == [(BETA, "C2", "en")]


def test_an_unknown_caller_keys_the_account_number_and_learns_nothing_before(ivr, warehouse):
    call = Caller(ivr, NOBODY)
    call.ring()
    assert call.said == ["Welcome to Northwind Components Ltd, accounts receivable.",
                         "We could not recognise your number. Please key in your account number, then press the "
                         "hash key.", "Thank you for calling. Goodbye."]
    assert call.gather().get("finishOnKey") == "#" and call.gather().get("numDigits") is None
    call.press("2")
    assert call.said[0] == "This call is about the account of Beta LLC."
    assert call.gather().get("action") == f"{PUBLIC}/twilio/voice/menu?turn=2"
    assert rows(warehouse, "SELECT customer_id FROM ivr_calls") == [("C2",)]


def test_three_wrong_account_numbers_put_the_caller_through_to_the_ar_desk(ivr, warehouse):
    call = Caller(ivr, NOBODY)
    call.ring()
    for attempt, keyed in enumerate(("99", "0", "123"), start=1):
        assert call.gather().get("action") == f"{PUBLIC}/twilio/voice/account?turn={attempt}&attempt={attempt}"
        call.press(keyed)
        assert "$" not in " ".join(call.said) and "Beta" not in " ".join(call.said)
    assert call.said == ["We could not find your account. We are connecting you to our accounts team."]
    [dial] = call.twiml.findall("Dial")
    assert dial.text == DESK_NUMBER
    assert [s[2] for s in steps(warehouse, call)][-1] == "keyed '123': not found 3 times, put through to the AR desk"


def test_without_an_ar_desk_number_the_caller_is_told_how_to_reach_the_desk(warehouse):
    seed_ivr_world(warehouse)
    with serve(warehouse, hooks=webhooks(ar_phone="")) as ivr:
        call = Caller(ivr, NOBODY)
        call.ring()
        for keyed in ("9", "9", "9"):
            call.press(keyed)
    assert call.said == [f"Please contact our accounts team: {DESK}. Goodbye."]
    assert call.twiml.findall("Dial") == [] and call.twiml[-1].tag == "Hangup"


def test_a_caller_id_shared_by_two_customers_asks_which_then_speaks_of_that_one(ivr, warehouse):
    call = Caller(ivr, SHARED)
    call.ring()
    assert call.said[1:4] == ["This number belongs to several accounts.", "For Gamma Inc, press 1.",
                              "For Delta Co, press 2."]
    call.press("3")
    assert call.said[0] == "Sorry, that is not one of the choices." and "For Delta Co, press 2." in call.said
    call.press("2")
    assert call.said[0] == "This call is about the account of Delta Co."
    call.press("1")
    assert call.said[0] == "The amount past due is 200 US dollars."  # Delta's, not Gamma's
    assert [s[1:] for s in steps(warehouse, call)] == [
        ("caller ID", "shared by C3, C4: asked which"), ("which account", "not a choice: asked again"),
        ("which account", "chose C4"), ("menu 1: past due", "told past due: 200 US dollars")]


def test_option_1_says_what_is_past_due_per_currency_and_what_is_disputed_apart_in_german(ivr):
    call = Caller(ivr, ACME)  # Acme GmbH is in Germany
    call.ring()
    assert call.said[:2] == ["Willkommen bei Northwind Components Ltd, Debitorenbuchhaltung.",
                             "Es geht um das Konto von Acme GmbH."]
    call.press("1")
    assert call.said[:2] == ["Überfällig sind 500 Euro, und 1250 US-Dollar.",
                             "Weitere 999 US-Dollar sind strittig und nicht enthalten."]
    assert call.languages == {("de-DE", "Polly.Vicki")}


def test_option_2_says_the_last_payment_or_that_there_is_none(ivr):
    call = Caller(ivr, BETA)
    call.ring()
    call.press("2")
    assert call.said[0] == "Your last payment was 300 US dollars, received on Monday, November 2, 2026."
    call = Caller(ivr, ACME)
    call.ring()
    call.press("2")
    assert call.said[0] == "Wir haben keine Zahlung verbucht."


def test_option_3_says_the_next_due_date_and_what_falls_due_then_per_currency(ivr):
    call = Caller(ivr, BETA)
    call.ring()
    call.press("3")
    assert call.said[0] == ("Your next payment is due on Monday, December 7, 2026: 600 euros and 1 cent, and 123 US "
                            "dollars and 45 cents.")
    assert call.gather().get("action") == f"{PUBLIC}/twilio/voice/menu?turn=2"


@pytest.mark.parametrize(("number", "welcome", "past_due", "tag", "voice"), [
    (DUPONT, "Bienvenue chez Northwind Components Ltd, service de recouvrement.",
     "Le montant échu est de 1234 euros et 50 centimes.", "fr-FR", "Polly.Celine"),
    (LOPEZ, "Bienvenido a Northwind Components Ltd, cuentas por cobrar.", "El importe vencido es de 1 euro.",
     "es-ES", "Polly.Lucia"),
    (TANAKA, "Welcome to Northwind Components Ltd, accounts receivable.",  # Japanese is not shipped
     "The amount past due is 500,000 Japanese yen.", "en-US", "Polly.Joanna"),
    (WOLSELEY, "Welcome to Northwind Components Ltd, accounts receivable.",
     "The amount past due is 1,234 British pounds and 56 pence.", "en-US", "Polly.Joanna"),
])
def test_each_language_shipped_is_spoken_with_its_own_voice(ivr, warehouse, number, welcome, past_due, tag, voice):
    call = Caller(ivr, number)
    call.ring()
    assert call.said[0] == welcome and call.languages == {(tag, voice)}
    call.press("1")
    assert call.said[0] == past_due and call.languages == {(tag, voice)}


def test_a_key_that_is_not_on_the_menu_says_so_and_repeats_the_menu(ivr, warehouse):
    call = Caller(ivr, BETA)
    call.ring()
    call.press("9")
    assert call.said[0] == "Sorry, that is not one of the choices." and "press 5" in call.said[1]
    assert steps(warehouse, call)[-1] == (1, "menu 9: none", "not a choice")


def test_option_5_records_a_promise_for_the_currency_chosen_read_back_first(ivr, warehouse):
    call = Caller(ivr, BETA)
    call.ring()
    call.press("5")
    assert call.said[:3] == ["In which currency will you pay?", "For euros, press 1.", "For US dollars, press 2."]
    call.press("2")
    assert call.said[0].startswith("In how many days from today will you pay?")
    call.press("99")
    assert call.said[0] == "Please choose a day within 60 days from today."
    call.press("14")
    assert call.said[0] == ("You promise to pay 900 US dollars and 45 cents on Monday, December 7, 2026. To confirm, "
                            "press 1. To cancel, press 2.")
    call.press("1")
    assert call.said[0] == ("Thank you. Your promise to pay 900 US dollars and 45 cents on Monday, December 7, 2026 "
                            "is recorded.")
    [(customer, currency, cents, day, source, taken_by, status)] = rows(
        warehouse, "SELECT customer_id, currency, amount_cents, promised_for, source, taken_by, status FROM promises")
    assert (customer, currency, cents, str(day)[:10], source, taken_by, status) == (
        "C2", "USD", 90_045, "2026-12-07", "phone", "ivr", "open")


def test_option_5_in_one_currency_asks_the_day_at_once_and_cancel_records_nothing(ivr, warehouse):
    call = Caller(ivr, WOLSELEY)
    call.ring()
    call.press("5")
    assert call.gather().get("action") == f"{PUBLIC}/twilio/voice/promise/day?turn=2&currency=GBP"
    call.press("7")
    assert "1,234 British pounds and 56 pence on Monday, November 30, 2026" in call.said[0]
    call.press("2")
    assert call.said[0] == "Your promise was not recorded."
    assert rows(warehouse, "SELECT COUNT(*) FROM promises") == [(0,)]


def test_option_0_in_the_collectors_hours_puts_the_caller_through_to_their_line(ivr, warehouse):
    call = Caller(ivr, ACME)
    call.ring()
    call.press("0")
    assert call.said == ["Wir verbinden Sie mit Ihrem Ansprechpartner."]
    [dial] = call.twiml.findall("Dial")
    assert dial.text == COLLECTOR_LINES["Ann Lee"] and dial.get("action") == f"{PUBLIC}/twilio/voice/dialled?turn=2"
    call.post(dial.get("action"), DialCallStatus="completed")
    assert call.twiml[-1].tag == "Hangup"
    assert steps(warehouse, call)[-1][1:] == ("put through", "call completed")


def test_option_0_outside_hours_takes_a_voicemail_for_the_collectors_worklist_with_its_transcript(warehouse):
    seed_ivr_world(warehouse)
    with serve(warehouse, hooks=webhooks(now=AFTER_HOURS)) as ivr:
        call = Caller(ivr, BETA)
        call.ring()
        call.press("0")
        assert call.said[0].startswith("Your account manager is not available now.")
        [record] = call.twiml.findall("Record")
        assert (record.get("transcribe"), record.get("transcribeCallback"), record.get("maxLength"),
                record.get("action")) == ("true", f"{PUBLIC}/twilio/voice/transcription", "120",
                                          f"{PUBLIC}/twilio/voice/voicemail?turn=2")
        recording = {"RecordingSid": "RE" + "1" * 32, "RecordingUrl": "https://api.twilio.com/rec/RE1",
                     "RecordingDuration": "21"}
        call.post(record.get("action"), **recording)
        assert call.said[0] == "Thank you. Your account manager will get your message."
        [(collector, customer, kind, detail)] = rows(
            warehouse, "SELECT collector, customer_id, kind, detail FROM collector_worklist")
        assert (collector, customer, kind) == ("Bo Chen", "C2", "ivr_voicemail")
        assert detail == f"Voicemail from {BETA} (21 s), transcript to follow. Listen: https://api.twilio.com/rec/RE1"
        call.post(record.get("transcribeCallback"), TranscriptionStatus="completed",
                  TranscriptionText="I paid INV-9 yesterday, please call me back.", **recording)
    assert rows(warehouse, "SELECT detail FROM collector_worklist") == [(
        f'Voicemail from {BETA} (21 s), transcript "I paid INV-9 yesterday, please call me back.". '
        "Listen: https://api.twilio.com/rec/RE1",)]
    assert rows(warehouse, "SELECT customer_id, collector, duration_seconds, transcript FROM ivr_voicemails") == [
        ("C2", "Bo Chen", 21, "I paid INV-9 yesterday, please call me back.")]


def test_every_call_is_logged_who_called_and_what_they_asked(ivr, warehouse):
    call = Caller(ivr, BETA)
    call.ring()
    for key in ("1", "2", "3"):
        call.press(key)
    assert steps(warehouse, call) == [
        (0, "caller ID", "recognised as C2"),
        (1, "menu 1: past due", "told past due: 777 US dollars"),
        (2, "menu 2: last payment", "told the last payment: 300 US dollars on 2026-11-02"),
        (3, "menu 3: next due", "told next due 2026-12-07: 600 euros and 1 cent, and 123 US dollars and 45 cents")]


def test_numbers_in_the_log_are_masked(ivr, caplog):
    with caplog.at_level("INFO", logger="arpilot.selfservice"):
        Caller(ivr, BETA).ring()
    assert BETA not in caplog.text and "+12*****0001" in caplog.text
