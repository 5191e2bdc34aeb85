"""What the IVR says, as words a text-to-speech engine reads correctly in the caller's language.

Languages shipped: English, German, French and Spanish (the prompts in tasks/selfservice/prompts.py). The ledger
has no language field, so a call is held in the language of the customer's country: Babel's official (or de facto
official) languages of that country, in its order, the first one shipped (BE: nl is not shipped, so fr; CH: de);
else the company locale's language if shipped; else English. A caller not identified yet hears the company's.

Voices: Twilio's Amazon Polly voice for each language (Joanna, Vicki, Céline, Lucia), except that the phone desk's
own Twilio voice is used for the language it is set for, so the IVR sounds like the desk's voice reminders.

Amounts: one amount per currency, never added together; the major units as digits (with a thousands comma in
English only: "1.234" reads as one point two in German or Spanish), the currency's name from Babel (plural
agreeing with the number), then the minor units ("and 50 cents", "und 50 Cent", "et 50 centimes", "con 50
céntimos"). Zero-decimal currencies (JPY, KRW...: Babel's currency precision) have no minor units. Amounts are
integer hundredths of the unit for every currency, JPY too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from babel.dates import format_date
from babel.languages import get_official_languages
from babel.numbers import get_currency_name, get_currency_precision

from tasks.selfservice.prompts import PROMPTS

SHIPPED = ("en", "de", "fr", "es")
VOICES = {"en": ("en-US", "Polly.Joanna"), "de": ("de-DE", "Polly.Vicki"), "fr": ("fr-FR", "Polly.Celine"),
          "es": ("es-ES", "Polly.Lucia")}
# The minor unit's name (singular, plural) per currency and language where it is not the language's usual one.
_MINOR = {
    "USD": {"fr": ("cent", "cents"), "es": ("centavo", "centavos")},
    "GBP": {"en": ("penny", "pence"), "de": ("Penny", "Pence"), "fr": ("penny", "pence"),
            "es": ("penique", "peniques")},
    "CHF": {"en": ("centime", "centimes"), "de": ("Rappen", "Rappen"), "fr": ("centime", "centimes"),
            "es": ("céntimo", "céntimos")},
}
_USUAL_MINOR = {"en": ("cent", "cents"), "de": ("Cent", "Cent"), "fr": ("centime", "centimes"),
                "es": ("céntimo", "céntimos")}
_JOIN_MINOR = {"en": "and", "de": "und", "fr": "et", "es": "con"}
_AND = {"en": "and", "de": "und", "fr": "et", "es": "y"}


def call_language(country: str | None, company_locale: str) -> str:
    """The language a call with a customer in ``country`` is held in (the rule in the module docstring)."""
    if country:
        try:
            official = get_official_languages(country.strip().upper(), de_facto=True)
        except (KeyError, ValueError):
            official = ()
        for language in official:
            if language in SHIPPED:
                return language
    company = company_locale.replace("-", "_").split("_")[0].lower()
    return company if company in SHIPPED else "en"


def voice(language: str, desk_voice: str, desk_language: str) -> tuple[str, str]:
    """(Twilio voice, Say language tag) for a language shipped."""
    if desk_language.split("-")[0].lower() == language:
        return desk_voice, desk_language
    tag, polly = VOICES[language]
    return polly, tag


def say(prompt: str, language: str, /, **values) -> str:
    """A prompt in ``language``, its placeholders filled."""
    return PROMPTS[prompt][language].format(**values)


def spoken_amount(cents: int, currency: str, language: str) -> str:
    """One amount in words: "1,234 US dollars and 50 cents", "1234 Euro und 50 Cent", "5000 Japanese yen"."""
    major, minor = divmod(int(cents), 100)
    if get_currency_precision(currency) == 0:
        minor = 0  # no minor unit to speak of: the hundredths of a yen are always 0 in a valid ledger
    number = f"{major:,}" if language == "en" else str(major)
    words = f"{number} {get_currency_name(currency, major, locale=language)}"
    if not minor:
        return words
    singular, plural = _MINOR.get(currency, {}).get(language) or _USUAL_MINOR[language]
    cents_words = f"{minor} {singular if minor == 1 else plural}"
    return f"{words} {_JOIN_MINOR[language]} {cents_words}" if major else cents_words


def spoken_amounts(by_currency: Mapping[str, int], language: str) -> str:
    """Several currencies, each on its own, ordered by currency code: "500 euros, and 2,249 US dollars and 50
    cents" (the comma keeps the amounts apart when one has cents)."""
    parts = [spoken_amount(c, cur, language) for cur, c in sorted(by_currency.items())]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])}, {_AND[language]} {parts[-1]}"


def spoken_date(day: date, language: str) -> str:
    """A date with its weekday as people say it: "Monday, December 7, 2026", "Montag, 7. Dezember 2026"."""
    return format_date(day, "full", locale=language)


def currency_name(currency: str, language: str) -> str:
    return get_currency_name(currency, 2, locale=language)
