"""The IVR as a route group of the `arpilot serve` app: what a caller hears and what their keys do.

Point the Twilio number's "A call comes in" at ``/twilio/voice``. Every prompt that waits for keys is a Gather whose
action carries the call's turn number (``?turn=N``), so the same keys pressed at two points of a call are two
different signed requests, and a request Twilio delivers twice is refused as a replay (tasks/selfservice/guard.py).
The call's state (who the caller is, the language) is the ``ivr_calls`` row of its CallSid; the rules are in
tasks/selfservice/ivr.py, the words in tasks/selfservice/speech.py.

Actions: /choose (which of the customers sharing the caller ID), /account (the account number keyed in; ``try``),
/menu, /send (option 4), /promise/currency, /promise/day, /promise/confirm (option 5), /dialled (after a call put
through), /voicemail (after a recording) and /transcription (Twilio's transcription callback). A Gather that gets no
keys falls through, as in Twilio, to a goodbye.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sqlalchemy.engine import Connection, Engine
from starlette.routing import Route
from twilio.base.exceptions import TwilioRestException
from twilio.twiml.voice_response import Gather, VoiceResponse

from tasks.contacts.quality import mask
from tasks.portal.account import read_account
from tasks.promises.records import PromiseRefused, record_promise
from tasks.selfservice import ivr, ivr_log, speech
from tasks.selfservice.inbox import Customer, customers_by_phone
from tasks.selfservice.ivr_sends import email_statement, pay_links_text, text_pay_links
from tasks.selfservice.reach import reach_refused
from tasks.selfservice.webhooks import TwilioWebhooks, guarded, log

GATHER_SECONDS = 8
PROMISE_SOURCE, TAKEN_BY = "phone", "ivr"
Form = dict[str, str]


class Answer:
    """One TwiML answer, spoken in the call's language; a Gather that gets no keys ends the call politely."""

    def __init__(self, hooks: TwilioWebhooks, language: str):
        self.language = language
        self._voice, self._tag = speech.voice(language, hooks.phone.twilio.voice, hooks.phone.twilio.voice_language)
        self.twiml = VoiceResponse()

    def words(self, prompt: str, /, **values) -> str:
        return speech.say(prompt, self.language, **values)

    def say(self, *texts: str, into=None) -> Answer:
        for text in texts:
            (into if into is not None else self.twiml).say(text, voice=self._voice, language=self._tag)
        return self

    def gather(self, action: str, *texts: str, keys: int | None = 1) -> Answer:
        """Wait for one key (``keys=1``) or for keys ended by # (``keys=None``), posting them to ``action``."""
        gather = Gather(action=action, method="POST", timeout=GATHER_SECONDS, finish_on_key="#", num_digits=keys)
        self.say(*texts, into=gather)
        self.twiml.append(gather)
        return self.end(self.words("goodbye"))

    def end(self, *texts: str) -> Answer:
        self.say(*texts)
        self.twiml.hangup()
        return self

    def __str__(self) -> str:
        return str(self.twiml)


class Ivr:
    """The IVR's handlers, one per route: each reads the call by its CallSid, logs the answer as a step of the call,
    and returns the next TwiML (the menu again after every answer, so a caller can ask several things)."""

    def __init__(self, hooks: TwilioWebhooks, today: Callable[[], date]):
        self.hooks, self.today = hooks, today
        self.company, self.phone = hooks.company, hooks.phone


    def language_of(self, conn: Connection, customer_id: str) -> str:
        return speech.call_language(ivr_log.customer_country(conn, customer_id), self.company.locale)

    def menu(self, answer: Answer, turn: int) -> str:
        return str(answer.gather(self.hooks.url("/twilio/voice/menu", turn=turn + 1), answer.words("menu")))

    def identified(self, conn: Connection, call_sid: str, customer: Customer, turn: int, *first: str) -> str:
        """The caller is known: the call goes on in their language, with the menu."""
        language = self.language_of(conn, customer.customer_id)
        ivr_log.identify(conn, call_sid, customer.customer_id, language)
        answer = Answer(self.hooks, language)
        return self.menu(answer.say(*(answer.words(name, company=self.company.legal_name) for name in first),
                                    answer.words("about", customer=customer.name)), turn)

    def incoming(self, conn: Connection, form: Form, query: Form) -> str:
        """A call comes in: recognised by caller ID (one customer: the menu; several: which one, in their language
        if they share one, else the company's), else asked for the account number. Nothing about an account is said
        before the caller is identified."""
        sid, caller = form.get("CallSid", ""), form.get("From", "")
        customers = customers_by_phone(conn, caller)
        languages = {self.language_of(conn, c.customer_id) for c in customers}
        language = languages.pop() if len(languages) == 1 else speech.call_language(None, self.company.locale)
        ivr_log.start_call(conn, form, language)
        log.info("IVR call %s from %s: %d customer(s) by caller ID", sid, mask(caller), len(customers))
        if len(customers) == 1:
            ivr_log.log_step(conn, sid, 0, "caller ID", f"recognised as {customers[0].customer_id}")
            return self.identified(conn, sid, customers[0], 0, "welcome")
        answer = Answer(self.hooks, language)
        answer.say(answer.words("welcome", company=self.company.legal_name))
        if customers:
            ivr_log.log_step(conn, sid, 0, "caller ID", f"shared by {', '.join(c.customer_id for c in customers)}: "
                                                        "asked which")
            return str(self.choices(answer, customers, 0))
        ivr_log.log_step(conn, sid, 0, "caller ID", "number not on file: asked for the account number")
        return str(answer.gather(self.hooks.url("/twilio/voice/account", turn=1, attempt=1), answer.words("ask_account"),
                                 keys=None))

    def choices(self, answer: Answer, customers: list[Customer], turn: int) -> Answer:
        return answer.gather(self.hooks.url("/twilio/voice/choose", turn=turn + 1), answer.words("choose"),
                             *(answer.words("choice", option=c.name, key=n) for n, c in enumerate(customers, 1)))

    def call(self, conn: Connection, form: Form, identified: bool = True) -> ivr_log.Call | None:
        call = ivr_log.call_of(conn, form.get("CallSid", ""))
        return call if call and (call.customer or not identified) else None

    def choose(self, conn: Connection, form: Form, query: Form) -> str:
        turn, call = int(query.get("turn", 0)), self.call(conn, form, identified=False)
        if call is None:
            return str(Answer(self.hooks, "en").end())
        customers = customers_by_phone(conn, call.from_number)
        customer = ivr.picked(form.get("Digits", ""), customers)
        if customer is None:
            ivr_log.log_step(conn, call.call_sid, turn, "which account", "not a choice: asked again")
            answer = Answer(self.hooks, call.language)
            return str(self.choices(answer.say(answer.words("not_a_choice")), customers, turn))
        ivr_log.log_step(conn, call.call_sid, turn, "which account", f"chose {customer.customer_id}")
        return self.identified(conn, call.call_sid, customer, turn)

    def account(self, conn: Connection, form: Form, query: Form) -> str:
        """The account number keyed in: three tries, then the AR desk."""
        turn, attempt, call = int(query.get("turn", 0)), int(query.get("attempt", 1)), self.call(conn, form, False)
        if call is None:
            return str(Answer(self.hooks, "en").end())
        keyed = form.get("Digits", "")
        customer = ivr.account_keyed(keyed, ivr_log.customers_keyed(conn, keyed))
        if customer is not None:
            ivr_log.log_step(conn, call.call_sid, turn, "account number", f"keyed {keyed}: {customer.customer_id}")
            return self.identified(conn, call.call_sid, customer, turn)
        answer = Answer(self.hooks, call.language)
        if attempt < ivr.ACCOUNT_TRIES:
            ivr_log.log_step(conn, call.call_sid, turn, "account number", f"keyed {keyed!r}: not found, asked again")
            return str(answer.gather(self.hooks.url("/twilio/voice/account", turn=turn + 1, attempt=attempt + 1),
                                     answer.words("account_again"), keys=None))
        desk = self.phone.collector_line(None)
        ivr_log.log_step(conn, call.call_sid, turn, "account number",
                         f"keyed {keyed!r}: not found {attempt} times, " +
                         ("put through to the AR desk" if desk else "told how to reach the AR desk"))
        if desk is None:
            return str(answer.end(answer.words("contact_desk", desk=self.phone.desk_contact)))
        answer.say(answer.words("to_desk")).twiml.dial(desk, action=self.hooks.url("/twilio/voice/dialled", turn=turn + 1))
        return str(answer)

    def menu_choice(self, conn: Connection, form: Form, query: Form) -> str:
        turn, call = int(query.get("turn", 0)), self.call(conn, form)
        if call is None:
            return str(Answer(self.hooks, "en").end())
        key = form.get("Digits", "")
        choice = ivr.MENU.get(key)
        answer, today = Answer(self.hooks, call.language), self.today()
        account = read_account(conn, call.customer.customer_id)
        if choice == "past due":
            owed, disputed = ivr.past_due(account, today)
            said = [answer.words("past_due", amounts=speech.spoken_amounts(owed, call.language)) if owed else
                    answer.words("nothing_past_due")]
            if disputed:
                said.append(answer.words("disputed", amounts=speech.spoken_amounts(disputed, call.language)))
            outcome = f"told past due: {speech.spoken_amounts(owed, 'en') if owed else 'nothing'}" + (
                f"; under dispute: {speech.spoken_amounts(disputed, 'en')}" if disputed else "")
        elif choice == "last payment":
            paid = ivr_log.last_payment(conn, call.customer.customer_id)
            said = [answer.words("last_payment", amount=speech.spoken_amount(paid.amount_cents, paid.currency,
                                                                             call.language),
                                 day=speech.spoken_date(paid.received_on, call.language)) if paid else
                    answer.words("no_payment")]
            outcome = (f"told the last payment: {speech.spoken_amount(paid.amount_cents, paid.currency, 'en')} on "
                       f"{paid.received_on.isoformat()}" if paid else "told no payment is on record")
        elif choice == "next due":
            day, due = ivr.next_due(account, today)
            said = [answer.words("next_due", day=speech.spoken_date(day, call.language),
                                 amounts=speech.spoken_amounts(due, call.language)) if day else
                    answer.words("nothing_due")]
            outcome = (f"told next due {day.isoformat()}: {speech.spoken_amounts(due, 'en')}" if day else
                       "told nothing more is coming due")
        elif choice == "send":
            ivr_log.log_step(conn, call.call_sid, turn, f"menu {key}: send", "asked: text or email")
            return self.send_menu(answer, turn)
        elif choice == "promise":
            return self.promise_start(conn, call, answer, account, turn, key)
        elif choice == "collector":
            return self.collector(conn, call, answer, turn, key)
        else:
            said, outcome = [answer.words("not_a_choice")], "not a choice"
        ivr_log.log_step(conn, call.call_sid, turn, f"menu {key}: {choice or 'none'}", outcome)
        return self.menu(answer.say(*said), turn)

    def send_menu(self, answer: Answer, turn: int, sms: bool = True) -> str:
        offers = ([answer.words("send_sms")] if sms and self.phone.dunning_policy.pay_portal else []) + (
            [answer.words("send_email")] if self.phone.email else [])
        if not offers:
            return self.menu(answer, turn)
        return str(answer.gather(self.hooks.url("/twilio/voice/send", turn=turn + 1), *offers))

    def send(self, conn: Connection, form: Form, query: Form) -> str:
        """Option 4: 1 the pay links by text (if the number may be texted now), 2 the statement by email."""
        turn, call = int(query.get("turn", 0)), self.call(conn, form)
        if call is None:
            return str(Answer(self.hooks, "en").end())
        key, answer = form.get("Digits", ""), Answer(self.hooks, call.language)
        account = read_account(conn, call.customer.customer_id)
        if key == "1" and self.phone.dunning_policy.pay_portal:
            said, outcome, offer_email = self.text_links(conn, call, answer, account)
        elif key == "2" and self.phone.email:
            (said, outcome), offer_email = self.email_statement(conn, call, answer, account), False
        else:
            said, outcome, offer_email = answer.words("not_a_choice"), "not a choice", False
        ivr_log.log_step(conn, call.call_sid, turn, f"send {key}", outcome)
        log.info("IVR call %s from %s: %s", call.call_sid, mask(call.from_number), outcome)
        answer.say(said)
        return self.send_menu(answer, turn, sms=False) if offer_email else self.menu(answer, turn)

    def text_links(self, conn: Connection, call: ivr_log.Call, answer: Answer, account) -> tuple[str, str, bool]:
        """(words, outcome, offer the email instead); opt-outs and the contact's hours hold as for any text."""
        refused = reach_refused(conn, "sms", call.from_number, self.hooks.clock(), self.company,
                                self.phone.dunning_policy)
        if refused:
            said = answer.words("sms_hours" if refused.startswith("outside") else "sms_opted_out")
            return said, f"pay link not texted: {refused}", self.phone.email is not None
        if not ivr.payable_by_currency(account):
            return answer.words("nothing_open"), "nothing payable: no pay link", False
        if not ivr_log.reserve_send(conn, call.call_sid, "sms", account.customer_id, call.from_number):
            return answer.words("already_sent"), "pay link already texted in this call", False
        try:
            sid = text_pay_links(self.phone, call.from_number,
                                 pay_links_text(self.phone, self.company, account, call.language, self.today()))
        except (TwilioRestException, OSError) as why:
            ivr_log.release_send(conn, call.call_sid, "sms")
            return answer.words("sms_failed"), f"pay link not texted: Twilio {type(why).__name__}", False
        ivr_log.sent(conn, call.call_sid, "sms", sid)
        return answer.words("sms_sent"), f"pay link texted ({sid})", False

    def email_statement(self, conn: Connection, call: ivr_log.Call, answer: Answer, account) -> tuple[str, str]:
        addresses = ivr_log.statement_addresses(conn, account.customer_id)
        if not addresses:
            return answer.words("no_email"), "statement not emailed: no address on file"
        if not ivr_log.reserve_send(conn, call.call_sid, "email", account.customer_id, ", ".join(addresses)):
            return answer.words("already_sent"), "statement already emailed in this call"
        try:
            message_id = email_statement(self.phone, self.company, account, addresses, call.language, self.today())
        except (smtplib.SMTPException, OSError) as why:
            ivr_log.release_send(conn, call.call_sid, "email")
            return answer.words("email_failed"), f"statement not emailed: {type(why).__name__}"
        ivr_log.sent(conn, call.call_sid, "email", message_id)
        return answer.words("email_sent"), f"statement emailed to {len(addresses)} address(es)"

    def promise_start(self, conn: Connection, call: ivr_log.Call, answer: Answer, account, turn: int,
                      key: str) -> str:
        owed = ivr.open_by_currency(account)
        if len(owed) > 1:
            ivr_log.log_step(conn, call.call_sid, turn, f"menu {key}: promise", "asked which currency")
            return str(answer.gather(self.hooks.url("/twilio/voice/promise/currency", turn=turn + 1),
                                     answer.words("promise_currency"),
                                     *(answer.words("choice", option=speech.currency_name(c, call.language), key=n)
                                       for n, c in enumerate(sorted(owed), 1))))
        ivr_log.log_step(conn, call.call_sid, turn, f"menu {key}: promise",
                         "asked for the day" if owed else "nothing open")
        if not owed:
            return self.menu(answer.say(answer.words("nothing_open")), turn)
        return self.ask_day(answer, turn, next(iter(owed)))

    def ask_day(self, answer: Answer, turn: int, currency: str) -> str:
        return str(answer.gather(self.hooks.url("/twilio/voice/promise/day", turn=turn + 1, currency=currency),
                                 answer.words("promise_days"), keys=None))

    def promise_currency(self, conn: Connection, form: Form, query: Form) -> str:
        turn, call = int(query.get("turn", 0)), self.call(conn, form)
        if call is None:
            return str(Answer(self.hooks, "en").end())
        answer = Answer(self.hooks, call.language)
        currency = ivr.picked(form.get("Digits", ""), sorted(ivr.open_by_currency(
            read_account(conn, call.customer.customer_id))))
        ivr_log.log_step(conn, call.call_sid, turn, "promise currency", currency or "not a choice")
        if currency is None:
            return self.menu(answer.say(answer.words("not_a_choice")), turn)
        return self.ask_day(answer, turn, currency)

    def promise_day(self, conn: Connection, form: Form, query: Form) -> str:
        turn, call = int(query.get("turn", 0)), self.call(conn, form)
        if call is None:
            return str(Answer(self.hooks, "en").end())
        answer, currency, keyed = Answer(self.hooks, call.language), query.get("currency", ""), form.get("Digits", "")
        day = ivr.promise_day(keyed, self.today())
        owed = ivr.open_by_currency(read_account(conn, call.customer.customer_id)).get(currency)
        if day is None or owed is None:
            ivr_log.log_step(conn, call.call_sid, turn, "promise day", f"keyed {keyed!r}: not a day, asked again")
            return self.ask_day(answer.say(answer.words("promise_too_far", days=ivr.MAX_PROMISE_DAYS)), turn,
                                currency)
        ivr_log.log_step(conn, call.call_sid, turn, "promise day", f"keyed {keyed}: {day.isoformat()}, read back")
        return str(answer.gather(
            self.hooks.url("/twilio/voice/promise/confirm", turn=turn + 1, currency=currency, day=day.isoformat()),
            answer.words("promise_readback", amount=speech.spoken_amount(owed, currency, call.language),
                         day=speech.spoken_date(day, call.language))))

    def promise_confirm(self, conn: Connection, form: Form, query: Form) -> str:
        """1 records the promise (source phone, taken by the IVR) for everything open in that currency."""
        turn, call = int(query.get("turn", 0)), self.call(conn, form)
        if call is None:
            return str(Answer(self.hooks, "en").end())
        answer, currency, day = Answer(self.hooks, call.language), query.get("currency", ""), date.fromisoformat(
            query.get("day", "1970-01-01"))
        owed = ivr.open_by_currency(read_account(conn, call.customer.customer_id)).get(currency, 0)
        said, outcome = answer.words("promise_not_recorded"), "promise not confirmed"
        if form.get("Digits") == "1":
            try:
                promise = record_promise(conn, call.customer.customer_id, currency, Decimal(owed).scaleb(-2), day,
                                         PROMISE_SOURCE, TAKEN_BY, f"IVR call {call.call_sid}", self.today(),
                                         self.hooks.promise_grace_days)
            except PromiseRefused as why:
                outcome = f"promise not recorded: {why}"
            else:
                said = answer.words("promise_recorded", amount=speech.spoken_amount(owed, currency, call.language),
                                    day=speech.spoken_date(day, call.language))
                outcome = f"promise {promise.promise_id} recorded"
        ivr_log.log_step(conn, call.call_sid, turn, "promise confirm", outcome)
        return self.menu(answer.say(said), turn)

    def collector(self, conn: Connection, call: ivr_log.Call, answer: Answer, turn: int, key: str) -> str:
        """0: the collector's line in their hours, else a voicemail for them (recorded and transcribed)."""
        line = self.phone.collector_line(call.customer.collector)
        if line and ivr.collector_available(self.hooks.clock(), self.company, self.phone.collector_hours_start,
                                            self.phone.collector_hours_end):
            ivr_log.log_step(conn, call.call_sid, turn, f"menu {key}: collector", f"put through to {mask(line)}")
            answer.say(answer.words("connecting")).twiml.dial(line, action=self.hooks.url("/twilio/voice/dialled",
                                                                                    turn=turn + 1))
            return str(answer)
        ivr_log.log_step(conn, call.call_sid, turn, f"menu {key}: collector", "outside hours: voicemail")
        answer.say(answer.words("voicemail")).twiml.record(
            action=self.hooks.url("/twilio/voice/voicemail", turn=turn + 1), method="POST", finish_on_key="#",
            max_length=self.phone.voicemail_seconds, play_beep=True, transcribe=True,
            transcribe_callback=self.hooks.url("/twilio/voice/transcription"))
        return str(answer.end(answer.words("goodbye")))

    def dialled(self, conn: Connection, form: Form, query: Form) -> str:
        call = self.call(conn, form, identified=False)
        ivr_log.log_step(conn, form.get("CallSid", ""), int(query.get("turn", 0)), "put through",
                         f"call {form.get('DialCallStatus', 'ended')}")
        return str(Answer(self.hooks, call.language if call else "en").end())

    def voicemail(self, conn: Connection, form: Form, query: Form) -> str:
        turn, call = int(query.get("turn", 0)), self.call(conn, form)
        if call is None:
            return str(Answer(self.hooks, "en").end())
        ivr_log.keep_voicemail(conn, call, form)
        ivr_log.log_step(conn, call.call_sid, turn, "voicemail", f"on {call.customer.collector}'s worklist")
        log.info("IVR voicemail from %s for %s", mask(call.from_number), call.customer.collector)
        answer = Answer(self.hooks, call.language)
        return str(answer.end(answer.words("voicemail_kept"), answer.words("goodbye")))

    def transcription(self, conn: Connection, form: Form, query: Form) -> str:
        if not ivr_log.transcribed(conn, form):
            log.info("Transcription for a recording the IVR does not know: %s", form.get("RecordingSid"))
        return str(VoiceResponse())


def ivr_routes(hooks: TwilioWebhooks, engine: Engine, today: Callable[[], date]) -> list[Route]:
    menu = Ivr(hooks, today)
    return [Route(path, guarded(hooks, engine, handler), methods=["POST"]) for path, handler in (
        ("/twilio/voice", menu.incoming), ("/twilio/voice/choose", menu.choose),
        ("/twilio/voice/account", menu.account),
        ("/twilio/voice/menu", menu.menu_choice), ("/twilio/voice/send", menu.send),
        ("/twilio/voice/promise/currency", menu.promise_currency), ("/twilio/voice/promise/day", menu.promise_day),
        ("/twilio/voice/promise/confirm", menu.promise_confirm), ("/twilio/voice/dialled", menu.dialled),
        ("/twilio/voice/voicemail", menu.voicemail), ("/twilio/voice/transcription", menu.transcription))]
