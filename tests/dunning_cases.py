"""A small ledger for dunning tests, built row by row so each test says exactly what it is about."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd

from blocks.company import CompanyProfile
from tasks.aging import days_past_due

TODAY = date(2026, 11, 23)  # a Monday
COMPANY = CompanyProfile(legal_name="Northwind Components Ltd", time_zone="America/Chicago")


class Ledger:
    def __init__(self, today: date = TODAY):
        self.today = today
        self.invoices: list[dict] = []
        self.customers: list[dict] = []
        self.contacts: list[dict] = []
        self.mandates: set[str] = set()  # customers with an active autopay mandate in every currency
        self.charges: dict[str, tuple] = {}  # invoice -> its last charge (status, failure kind, retry on)
        self.sales: dict[str, tuple] = {}  # customer -> the sales rep's answer (hold until, softened step)

    def customer(self, customer_id: str, name: str | None = None, *, collector: str = "Ann Lee", autopay=False,
                 paused_until: str | None = None, stopped=False, internal=False, contacts: int = 1,
                 zone: str = "America/New_York", sales_rep: str | None = None, on_hold=False, **contact) -> Ledger:
        self.customers.append({"customer_id": customer_id, "name": name or f"Customer {customer_id}",
                               "collector": collector, "sales_rep": sales_rep, "paused_until": paused_until,
                               "dunning_stopped": stopped, "internal": internal, "on_hold": on_hold})
        if autopay:
            self.mandates.add(customer_id)
        for n in range(contacts):
            self.contacts.append({
                "contact_id": f"{customer_id}-K{n}", "customer_id": customer_id, "name": f"Pat Doe{n}",
                "email": f"ap{n}@{customer_id.lower()}.example", "phone_e164": f"+1212555{len(self.contacts):04d}",
                "phone_line_type": "mobile", "time_zone": zone, "email_ok": True, "sms_ok": True, "voice_ok": True,
                "opt_out_email": False, "opt_out_sms": False, "opt_out_voice": False, **contact})
        return self

    def invoice(self, number: str, customer_id: str, days_late: int, cents: int = 100_000, currency: str = "USD",
                disputed=False, promise: str | None = None, issued: date | None = None,
                pdf: str | None = None, charge: tuple | None = None) -> Ledger:
        """An open invoice ``days_late`` days past due (negative: not yet due), issued on 2026-01-01 unless given;
        ``charge``: its last autopay charge (status, failure kind, retry on, charge day, how its notice went)."""
        if charge:
            self.charges[number] = charge
        self.invoices.append({"invoice_number": number, "customer_id": customer_id, "currency": currency,
                              "due_date": (self.today - timedelta(days=days_late)).isoformat(), "open_cents": cents,
                              "disputed": disputed, "promise_to_pay_date": promise,
                              "issue_date": (issued or date(2026, 1, 1)).isoformat(), "pdf_path": pdf})
        return self

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        invoices = pd.DataFrame(self.invoices, columns=["invoice_number", "customer_id", "currency", "due_date",
                                                        "open_cents", "disputed", "promise_to_pay_date"])
        invoices["days_past_due"] = days_past_due(invoices["due_date"], self.today) if len(invoices) else []
        last = [(*self.charges.get(n, ()), None, None, None, None, None)[:5] for n in invoices["invoice_number"]]
        (invoices["charge_status"], invoices["charge_failure"], invoices["charge_retry_on"], invoices["charge_day"],
         invoices["charge_notice"]) = ([c[i] for c in last] for i in range(5))
        invoices["on_autopay"] = invoices["customer_id"].isin(self.mandates)
        invoices["sales_hold_until"] = [self.sales.get(c, (None, None))[0] for c in invoices["customer_id"]]
        invoices["sales_softened_step"] = [self.sales.get(c, (None, None))[1] for c in invoices["customer_id"]]
        contacts = pd.DataFrame(self.contacts, columns=[
            "contact_id", "customer_id", "name", "email", "phone_e164", "phone_line_type", "time_zone", "email_ok",
            "sms_ok", "voice_ok", "opt_out_email", "opt_out_sms", "opt_out_voice"])
        customers = pd.DataFrame(self.customers)
        customers["credit_hold"] = customers["on_hold"]  # no approved change: the ledger's hold is in force
        return invoices, customers, contacts


def at_local(day: date, hour: int, zone: str = "America/New_York", minute: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))


def seed(engine, ledger: Ledger, verified_on: date | None = None) -> None:
    """Write the ledger into a warehouse the way a sync would: customers, AP contacts (verified a week ago, with
    a valid New York number each), open invoices. The contact gate is then decided by the real contact checks."""
    from tasks import warehouse as wh

    at = wh.utcnow()
    verified = (verified_on or ledger.today - timedelta(days=7)).isoformat()
    customers = pd.DataFrame([{**c, "country": "US", "row_hash": n, "synced_at": at}
                              for n, c in enumerate(ledger.customers)])
    contacts = pd.DataFrame([{
        "contact_id": k["contact_id"], "customer_id": k["customer_id"], "role": "AP", "name": k["name"],
        "email": k["email"], "phone": k["phone_e164"], "time_zone": k["time_zone"], "verified_on": verified,
        "bounced_on": None, "opt_out_email": k["opt_out_email"], "opt_out_sms": k["opt_out_sms"],
        "opt_out_voice": k["opt_out_voice"], "row_hash": n, "synced_at": at} for n, k in enumerate(ledger.contacts)])
    invoices = pd.DataFrame([{
        **i, "amount_cents": i["open_cents"], "status": "open",
        "row_hash": n, "synced_at": at} for n, i in enumerate(ledger.invoices)])
    with engine.begin() as conn:
        wh.insert(conn, "customers", customers)
        if len(contacts):
            wh.insert(conn, "contacts", contacts)
        wh.insert(conn, "invoices", invoices)


def delivered_keys(mail) -> list[str]:
    """The outbox rows a received email delivers: its reference, or for the escalation digest the Reference
    column of its CSV attachment."""
    import csv
    import io

    if not mail["X-Arpilot-Reference"].startswith("escalations|"):
        return [mail["X-Arpilot-Reference"]]
    [attachment] = [part for part in mail.iter_attachments() if part.get_filename().startswith("escalations-")]
    content = attachment.get_content()
    text = content.decode() if isinstance(content, bytes) else content
    return [row["Reference"] for row in csv.DictReader(io.StringIO(text))]
