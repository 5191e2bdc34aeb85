"""The IVR's rules as pure functions: amounts a text-to-speech engine reads right in each language shipped (one per
currency, never summed), the language of a call, the account number keyed in, the promise's day, the collectors'
hours."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from blocks.company import CompanyProfile
from tasks.portal.account import Account, OpenInvoice
from tasks.selfservice import ivr, speech
from tasks.selfservice.inbox import Customer
from tasks.selfservice.prompts import PROMPTS

TODAY = date(2026, 11, 23)  # a Monday
COMPANY = CompanyProfile(legal_name="Northwind Components Ltd", time_zone="America/Chicago")


@pytest.mark.parametrize(("cents", "currency", "language", "words"), [
    (123_450, "USD", "en", "1,234 US dollars and 50 cents"),
    (100, "USD", "en", "1 US dollar"),
    (101, "USD", "en", "1 US dollar and 1 cent"),
    (45, "USD", "en", "45 cents"),
    (123_450, "EUR", "de", "1234 Euro und 50 Cent"),
    (123_450, "EUR", "fr", "1234 euros et 50 centimes"),
    (123_450, "EUR", "es", "1234 euros con 50 céntimos"),
    (100, "EUR", "es", "1 euro"),
    (123_456, "GBP", "en", "1,234 British pounds and 56 pence"),
    (101, "GBP", "en", "1 British pound and 1 penny"),
    (123_456, "GBP", "de", "1234 Britische Pfund und 56 Pence"),
    (250, "CHF", "de", "2 Schweizer Franken und 50 Rappen"),
    (250, "CHF", "fr", "2 francs suisses et 50 centimes"),
    (50_000_000, "JPY", "en", "500,000 Japanese yen"),
    (50_000_000, "JPY", "de", "500000 Japanische Yen"),
    (50_000_000, "JPY", "es", "500000 yenes japoneses"),
    (1_999, "USD", "es", "19 dólares estadounidenses con 99 centavos"),
    (1_999, "USD", "fr", "19 dollars des États-Unis et 99 cents"),
])
def test_amounts_are_spoken_per_currency_and_language(cents, currency, language, words):
    assert speech.spoken_amount(cents, currency, language) == words


def test_several_currencies_are_said_one_by_one_never_added():
    owed = {"USD": 224_900, "EUR": 50_000}
    assert speech.spoken_amounts(owed, "en") == "500 euros, and 2,249 US dollars"
    assert speech.spoken_amounts(owed, "de") == "500 Euro, und 2249 US-Dollar"
    assert speech.spoken_amounts({"EUR": 60_001, "USD": 12_345}, "fr") == (
        "600 euros et 1 centime, et 123 dollars des États-Unis et 45 cents")


@pytest.mark.parametrize(("country", "company_locale", "language"), [
    ("DE", "en_US", "de"), ("AT", "en_US", "de"), ("CH", "en_US", "de"), ("FR", "en_US", "fr"),
    ("BE", "en_US", "fr"),  # Dutch is not shipped: French, Belgium's next official language
    ("ES", "en_US", "es"), ("MX", "en_US", "es"), ("US", "de_DE", "en"), ("GB", "fr_FR", "en"),
    ("JP", "de_DE", "de"),  # Japanese is not shipped: the company's language
    ("JP", "ja_JP", "en"), (None, "es_ES", "es"), ("ZZ", "en_GB", "en"),
])
def test_a_call_is_held_in_the_customers_countrys_language_else_the_companys_else_english(country, company_locale,
                                                                                         language):
    assert speech.call_language(country, company_locale) == language


def test_every_prompt_is_written_in_every_language_shipped_with_the_same_placeholders():
    import string

    for name, texts in PROMPTS.items():
        assert set(texts) == set(speech.SHIPPED), name
        fields = {lang: {f for _, f, _, _ in string.Formatter().parse(t) if f} for lang, t in texts.items()}
        assert len({frozenset(f) for f in fields.values()}) == 1, name


def test_the_voice_is_the_desks_for_its_own_language_else_pollys_for_the_language():
    assert speech.voice("en", "Polly.Matthew", "en-GB") == ("Polly.Matthew", "en-GB")
    assert speech.voice("de", "Polly.Matthew", "en-GB") == ("Polly.Vicki", "de-DE")
    assert speech.voice("fr", "Polly.Joanna", "en-US") == ("Polly.Celine", "fr-FR")
    assert speech.voice("es", "Polly.Joanna", "en-US") == ("Polly.Lucia", "es-ES")


@pytest.mark.parametrize(("keyed", "ids", "found"), [
    ("42", ["CUST-0042", "CUST-0043"], None),  # the digits are 0042, not 42
    ("0042", ["CUST-0042", "CUST-0043"], "CUST-0042"),
    ("7", ["A7", "B7"], None),  # two accounts with the same digits: neither
    ("7", ["A7", "B17"], "A7"),
    ("", ["ACME"], None),  # an id without digits cannot be keyed
    ("1", ["C1", "C10"], "C1"),
])
def test_the_account_number_is_the_ids_digits_and_must_name_one_customer(keyed, ids, found):
    customer = ivr.account_keyed(keyed, [Customer(i, i, None) for i in ids])
    assert (customer.customer_id if customer else None) == found


@pytest.mark.parametrize(("keyed", "day"), [
    ("0", TODAY), ("7", date(2026, 11, 30)), ("14", date(2026, 12, 7)), ("60", date(2027, 1, 22)), ("61", None),
    ("", None), ("*", None)])
def test_a_promise_is_keyed_in_days_from_today(keyed, day):
    assert ivr.promise_day(keyed, TODAY) == day


@pytest.mark.parametrize(("now", "open_"), [
    (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), True),  # Monday 09:00 in Chicago
    (datetime(2026, 11, 23, 14, 59, tzinfo=UTC), False),  # 08:59
    (datetime(2026, 11, 23, 23, 0, tzinfo=UTC), False),  # 17:00: the hours end
    (datetime(2026, 11, 28, 16, 0, tzinfo=UTC), False),  # Saturday 10:00
])
def test_collectors_take_calls_in_their_hours_on_business_days_company_time(now, open_):
    from datetime import time

    assert ivr.collector_available(now, COMPANY, time(9), time(17)) is open_


def invoice(number: str, currency: str, due: date, cents: int, disputed: bool = False) -> OpenInvoice:
    return OpenInvoice(number, currency, date(2026, 1, 1), due, cents, cents, disputed)


def test_past_due_leaves_disputes_aside_and_next_due_is_the_earliest_day_from_today():
    account = Account("C1", "Acme", (
        invoice("A", "USD", date(2026, 11, 3), 125_000), invoice("B", "USD", date(2026, 10, 14), 99_900, True),
        invoice("C", "EUR", date(2026, 11, 20), 50_000), invoice("D", "USD", TODAY, 1_000),
        invoice("E", "EUR", TODAY, 2_000), invoice("F", "USD", date(2026, 12, 1), 5_000)))
    assert ivr.past_due(account, TODAY) == ({"USD": 125_000, "EUR": 50_000}, {"USD": 99_900})
    assert ivr.next_due(account, TODAY) == (TODAY, {"USD": 1_000, "EUR": 2_000})  # due today is not past due
    assert ivr.open_by_currency(account) == {"EUR": 52_000, "USD": 230_900}
    assert ivr.next_due(Account("C2", "Beta", ()), TODAY) == (None, {})
