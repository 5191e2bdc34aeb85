"""localstripe, changed where the charge flow relies on Stripe behaviour it lacks (sandbox/stripe_api.py says which).

Importing this module changes localstripe's classes for the whole process: a declined charge's 402 is a card_error
that carries its payment intent and the decline code a test chose; a SEPA debit stays processing until the running
sandbox settles it; PaymentIntent list filters by customer, newest first; the store is no longer pickled to /tmp
after every write, and lists come from an index by type instead of a scan of every object. Everything here runs on the sandbox server's event loop, where localstripe's objects live.
"""


from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any, Callable

from localstripe.errors import UserError
from localstripe.resources import BalanceTransaction, Charge, List, PaymentIntent, Store, StripeObject, store


@dataclass
class Decline:
    code: str
    decline_code: str | None
    remaining: int


@dataclass
class Debit:
    charge: Any
    on_success: Callable[[], None] | None
    on_failure: Callable[[], None] | None


class Bank:
    """What the running sandbox decides for the patched localstripe: declines to come, debits waiting to settle."""

    def __init__(self, settle_after: float | None):
        self.settle_after = settle_after
        self._lock = threading.Lock()
        self._declines: dict[str, Decline] = {}
        self._debits: list[Debit] = []

    def decline_next(self, payment_method: str, decline: Decline) -> None:
        """Called from any thread."""
        with self._lock:
            self._declines[payment_method] = decline

    def take_decline(self, payment_method: str) -> Decline | None:
        with self._lock:
            decline = self._declines.get(payment_method)
            if decline is not None:
                decline.remaining -= 1
                if decline.remaining <= 0:
                    del self._declines[payment_method]
            return decline

    def hold(self, debit: Debit) -> None:
        """A debit waits for settle_all, or settles by itself after settle_after seconds."""
        self._debits.append(debit)
        if self.settle_after is not None:
            asyncio.get_running_loop().call_later(self.settle_after, self.settle, debit)

    def settle_all(self) -> int:
        debits = list(self._debits)
        for debit in debits:
            self.settle(debit)
        return len(debits)

    def settle(self, debit: Debit) -> None:
        """What localstripe does for a debit 0.5 s after it is made, done now: paid, or failed if declined."""
        if debit not in self._debits:
            return
        self._debits.remove(debit)
        charge = debit.charge
        if charge._authorized:
            transaction = BalanceTransaction(amount=charge.amount, currency=charge.currency,
                                             description=charge.description, exchange_rate=1.0,
                                             reporting_category="charge", source=charge.id, type="charge")
            charge.balance_transaction = transaction.id
            charge.status = "succeeded"
            if debit.on_success:
                debit.on_success()
        else:
            charge._set_auth_failure()
            if debit.on_failure:
                debit.on_failure()


bank: Bank | None = None  # the running sandbox's; None leaves localstripe's own behaviour

_stock_charge_init = Charge.__init__
_stock_initialize_charge = Charge._initialize_charge
_stock_set_auth_failure = Charge._set_auth_failure
_stock_last_payment_error = PaymentIntent.last_payment_error


def _keep_in_memory(self: Store) -> None:
    """The sandbox's objects live as long as its server: nothing to save."""


def _by_type(self: Store) -> dict[str, dict[str, Any]]:
    """The store's objects by type (the key's prefix), in the order made: localstripe's lists scanned the whole store,
    and every charge it answers lists the refunds, so 10,000 charges took an hour instead of minutes."""
    return self.__dict__.setdefault("_by_type", {})


def _store_set(self: Store, key: str, value: Any) -> None:
    dict.__setitem__(self, key, value)
    _by_type(self).setdefault(key.split(":", 1)[0], {})[key] = value


def _store_delete(self: Store, key: str) -> None:
    dict.__delitem__(self, key)
    _by_type(self).get(key.split(":", 1)[0], {}).pop(key, None)


def _store_clear(self: Store) -> None:
    dict.clear(self)
    _by_type(self).clear()


def _list_all(cls: type, url: str, limit: Any = None, starting_after: Any = None, **kwargs: Any) -> List:
    """localstripe's list of every object of a type, from the index instead of a scan of the store."""
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
    found = List(url, limit=limit, starting_after=starting_after)
    found._list = list(_by_type(store).get(cls.object, {}).values())
    return found


def _charge_init(self: Charge, *args: Any, **kwargs: Any) -> None:
    _stock_charge_init(self, *args, **kwargs)
    self._decline = bank.take_decline(self.payment_method) if bank else None
    if self._decline:
        self._authorized = False


def _initialize_charge(self: Charge, on_success: Any = None, on_failure_now: Any = None,
                       on_failure_later: Any = None) -> None:
    if bank is None or not self.captured or not self._is_async_payment_method():
        return _stock_initialize_charge(self, on_success, on_failure_now, on_failure_later)
    bank.hold(Debit(self, on_success, on_failure_later))


def _set_auth_failure(self: Charge) -> None:
    _stock_set_auth_failure(self)
    if getattr(self, "_decline", None):
        self.failure_code = self._decline.code


def _raise_failure(self: Charge) -> None:
    """Stripe's decline: 402, type card_error, code, decline_code, and the payment intent it left behind."""
    decline = getattr(self, "_decline", None)
    contents: dict[str, Any] = {"code": self.failure_code, "charge": self.id}
    if decline and decline.decline_code:
        contents["decline_code"] = decline.decline_code
    if self.payment_intent:
        contents["payment_intent"] = PaymentIntent._api_retrieve(self.payment_intent)._export()
    error = UserError(402, self.failure_message, contents)
    error.body["error"]["type"] = "card_error"
    raise error


def _last_payment_error(self: PaymentIntent) -> dict | None:
    error = _stock_last_payment_error.fget(self)
    decline = getattr(self.latest_charge, "_decline", None)
    if error and decline and decline.decline_code:
        return error | {"decline_code": decline.decline_code}
    return error


def _list_payment_intents(cls: type, url: str, customer: Any = None, limit: Any = None,
                          starting_after: Any = None, **kwargs: Any) -> Any:
    if customer is not None and not (isinstance(customer, str) and customer.startswith("cus_")):
        raise UserError(400, "Bad request")
    found = super(PaymentIntent, cls)._api_list_all(url, limit=limit, starting_after=starting_after, **kwargs)
    found._list = [intent for intent in reversed(found._list) if customer in (None, intent.customer)]
    return found


Store.dump_to_disk = _keep_in_memory  # type: ignore[method-assign]
Store.__setitem__ = _store_set  # type: ignore[method-assign,assignment]
Store.__delitem__ = _store_delete  # type: ignore[method-assign]
Store.clear = _store_clear  # type: ignore[method-assign]
StripeObject._api_list_all = classmethod(_list_all)  # type: ignore[method-assign,assignment]
Charge.__init__ = _charge_init  # type: ignore[method-assign]
Charge._initialize_charge = _initialize_charge  # type: ignore[method-assign]
Charge._set_auth_failure = _set_auth_failure  # type: ignore[method-assign]
Charge._raise_failure = _raise_failure  # type: ignore[method-assign]
PaymentIntent.last_payment_error = property(_last_payment_error)  # type: ignore[method-assign,assignment]
PaymentIntent._api_list_all = classmethod(_list_payment_intents)  # type: ignore[method-assign,assignment]
