"""Invoices delivered when issued, the rules and the document: which new invoices go out today and why not, and
the email and PDF the customer's AP clerk receives."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy

import pandas as pd
import pytest
from dunning_cases import COMPANY, TODAY, Ledger, at_local

from blocks.dunning_policy import CustomerOverride, DunningPolicy
from tasks.dunning.delivery import DELIVERY_FAILED, INVOICE, PDF_UNREADABLE, plan_deliveries
from tasks.dunning.invoice_mail import erp_pdf_problem, invoice_email, render_invoice
from tasks.dunning.plan import DEFERRED, DISPUTED, GATE_FAILED, INTERNAL, OPTED_OUT, STOPPED

SWITCHED_ON = TODAY - timedelta(days=3)
POLICY = DunningPolicy(deliver_invoices_from=SWITCHED_ON, pay_url="https://pay.northwind.example/{customer_id}")
NOON = at_local(TODAY, 12)


def frames(ledger: Ledger, outbox: dict[str, tuple[str, str]] | None = None,
           pdf_problems: dict[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ledger as sql/dunning/invoices_to_deliver.sql and the contact gate hand it to the planner; ``outbox``:
    invoice -> (status, reason) of an earlier delivery."""
    _, customers, contacts = ledger.frames()
    invoices = pd.DataFrame(ledger.invoices).merge(customers.rename(columns={"name": "customer_name"}),
                                                   on="customer_id")
    invoices["amount_cents"] = invoices["open_cents"]
    invoices["city"], invoices["country"] = "Springfield", "US"
    earlier = outbox or {}
    invoices["delivery_status"] = invoices["invoice_number"].map(lambda n: earlier.get(n, (None, None))[0])
    invoices["delivery_reason"] = invoices["invoice_number"].map(lambda n: earlier.get(n, (None, None))[1])
    invoices["pdf_problem"] = invoices["invoice_number"].map(lambda n: (pdf_problems or {}).get(n))
    return invoices, contacts


def plan(ledger: Ledger, policy: DunningPolicy = POLICY, now: datetime = NOON, **earlier):
    return plan_deliveries(*frames(ledger, **earlier), policy, COMPANY, now)


def unsent(result) -> dict[str, str]:
    return dict(zip(result.unsent["invoice_number"], result.unsent["reason"], strict=True))


def test_an_invoice_issued_since_delivery_was_switched_on_goes_once_to_the_ap_contacts():
    ledger = Ledger().customer("C1", contacts=2).invoice("N1", "C1", -30, 250_000, issued=TODAY)
    [m] = plan(ledger).messages
    assert (m.channel, m.key, m.step, m.bucket) == (INVOICE, "N1|invoice", -30, "not_due")
    assert [r.address for r in m.recipients] == ["ap0@c1.example", "ap1@c1.example"]
    assert (m.issue_date, m.total_cents, m.amount_cents) == (TODAY, 250_000, 250_000)
    assert (m.city, m.country) == ("Springfield", "US")


def test_the_back_catalogue_and_invoices_dated_ahead_are_not_mailed():
    ledger = (Ledger().customer("C1").invoice("OLD", "C1", -20, issued=SWITCHED_ON - timedelta(days=1))
              .invoice("EDGE", "C1", -27, issued=SWITCHED_ON).invoice("AHEAD", "C1", -31, issued=TODAY + timedelta(1)))
    result = plan(ledger)
    assert [m.invoice.invoice_number for m in result.messages] == ["EDGE"]
    assert result.unsent.empty


def test_nothing_is_delivered_while_delivery_is_off():
    ledger = Ledger().customer("C1").invoice("N1", "C1", -30, issued=TODAY)
    result = plan(ledger, DunningPolicy())
    assert result.messages == [] and result.since is None


def test_an_invoice_delivered_before_is_counted_not_sent_and_an_owed_one_is_sent_again():
    ledger = (Ledger().customer("C1").invoice("N1", "C1", -30, issued=TODAY).invoice("N2", "C1", -30, issued=TODAY)
              .invoice("N3", "C1", -30, issued=TODAY).invoice("N4", "C1", -30, issued=TODAY))
    result = plan(ledger, outbox={"N1": ("sent", None), "N2": ("unknown", "relay"), "N3": ("owed", "451 later"),
                                  "N4": ("failed", "550 no such user")})
    assert [m.invoice.invoice_number for m in result.messages] == ["N3"]
    assert result.delivered_before == 2
    assert unsent(result) == {"N4": DELIVERY_FAILED}
    assert "550 no such user" in result.unsent["detail"].iloc[0]


@pytest.mark.parametrize(("setup", "reason"), [
    (lambda l: l.customer("C1", email_ok=False), GATE_FAILED),
    (lambda l: l.customer("C1", contacts=0), GATE_FAILED),
    (lambda l: l.customer("C1", opt_out_email=True), OPTED_OUT),
    (lambda l: l.customer("C1", stopped=True), STOPPED),
    (lambda l: l.customer("C1", internal=True), INTERNAL),
    (lambda l: l.customer("C1", zone="Asia/Tokyo"), DEFERRED),
])
def test_an_invoice_that_cannot_go_is_counted_unsent_with_the_reason(setup, reason):
    ledger = setup(Ledger()).invoice("N1", "C1", -30, 90_000, issued=TODAY)
    result = plan(ledger)
    assert result.messages == []
    assert unsent(result) == {"N1": reason}
    row = result.unsent.iloc[0]
    assert (row.customer_id, row.collector, row.open_cents, row.issue_date) == ("C1", "Ann Lee", 90_000, TODAY)
    assert set(result.skips["channel"]) == {INVOICE}


def test_invoice_holds_a_disputed_invoice_and_an_unreadable_erp_pdf_but_not_a_pause_on_reminders():
    ledger = (Ledger().customer("C1", paused_until=(TODAY + timedelta(days=9)).isoformat())
              .invoice("N1", "C1", -30, issued=TODAY, disputed=True).invoice("N2", "C1", -30, issued=TODAY)
              .invoice("N3", "C1", -30, issued=TODAY))
    result = plan(ledger, pdf_problems={"N2": "/erp/N2.pdf: No such file or directory"})
    assert [m.invoice.invoice_number for m in result.messages] == ["N3"]
    assert unsent(result) == {"N1": DISPUTED, "N2": PDF_UNREADABLE}


def test_a_stop_in_the_policy_holds_delivery_too():
    policy = POLICY.model_copy(update={"overrides": {"C1": CustomerOverride(stop=True)}})
    assert unsent(plan(Ledger().customer("C1").invoice("N1", "C1", -30, issued=TODAY), policy)) == {"N1": STOPPED}


def test_the_erp_pdf_is_checked_before_it_is_promised(tmp_path):
    (tmp_path / "good.pdf").write_bytes(b"%PDF-1.7\n...")
    (tmp_path / "page.html").write_text("<html>")
    assert erp_pdf_problem(None, None) is None
    assert erp_pdf_problem("good.pdf", str(tmp_path)) is None
    assert erp_pdf_problem(str(tmp_path / "good.pdf"), "/elsewhere") is None
    assert erp_pdf_problem("page.html", str(tmp_path)).endswith("page.html is not a PDF")
    assert "No such file" in erp_pdf_problem("gone.pdf", str(tmp_path))


def _delivery(ledger: Ledger, policy: DunningPolicy = POLICY):
    [m] = plan(ledger, policy).messages
    return m


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_the_email_carries_the_rendered_pdf_the_pay_link_and_what_to_quote(tmp_path):
    company = COMPANY.model_copy(update={"locale": "de_DE", "bank_accounts": {
        "EUR": "Northwind Bank AG\nIBAN DE89 3704 0044 0532 0130 00\nBIC COBADEFFXXX"}})
    ledger = Ledger().customer("C-7", "Grüne Wiese GmbH").invoice("RE-2026-0042", "C-7", -14, 1_234_567,
                                                                    currency="EUR", issued=TODAY)
    m = _delivery(ledger)
    rendered = render_invoice(m, company, POLICY, "ar@northwind.example")
    assert rendered.subject == "Invoice RE-2026-0042 from Northwind Components Ltd: 12.345,67 € due 07.12.2026"
    assert "Please quote this reference with your payment: RE-2026-0042 C-7" in rendered.text
    assert "https://pay.northwind.example/C-7" in rendered.text and "IBAN DE89" in rendered.text
    mail = invoice_email(m, rendered, "ar@northwind.example", "Northwind AR", None, POLICY,
                         datetime(2026, 11, 23, 14, tzinfo=UTC))
    parsed = message_from_bytes(mail.as_bytes(), policy=email_policy.default)
    assert parsed["X-Arpilot-Reference"] == "RE-2026-0042|invoice"
    assert parsed["List-Unsubscribe"] == "<mailto:ar@northwind.example?subject=unsubscribe%20C-7>"
    [pdf] = list(parsed.iter_attachments())
    assert (pdf.get_content_type(), pdf.get_filename()) == ("application/pdf", "invoice-re-2026-0042.pdf")
    assert pdf.get_content().startswith(b"%PDF-")
    text = " ".join(pdf_text(pdf.get_content(), tmp_path).split())
    for shown in ("Invoice RE-2026-0042", "Grüne Wiese GmbH", "Springfield", "Vereinigte Staaten",
                  "Customer number C-7", "23. November 2026", "7. Dezember 2026", "net 14 days", "12.345,67 €",
                  "IBAN DE89 3704 0044 0532 0130 00", "RE-2026-0042 C-7", "https://pay.northwind.example/C-7",
                  "Attn: Pat Doe0"):
        assert shown in text, shown


def test_the_erps_own_pdf_is_sent_as_it_is(tmp_path):
    original = b"%PDF-1.4\n% the ERP's own invoice\n%%EOF\n"
    (tmp_path / "N1.pdf").write_bytes(original)
    policy = POLICY.model_copy(update={"invoice_pdf_dir": str(tmp_path)})
    m = _delivery(Ledger().customer("C1").invoice("N1", "C1", -30, issued=TODAY, pdf="N1.pdf"), policy)
    assert render_invoice(m, COMPANY, policy).pdf == original


def test_ledger_text_in_the_pdf_is_printed_as_written(tmp_path):
    m = _delivery(Ledger().customer("C1", "<b>Bold</b> & {{ 7*7 }}").invoice("N1", "C1", -30, issued=TODAY))
    text = pdf_text(render_invoice(m, COMPANY, POLICY).pdf, tmp_path)
    assert "<b>Bold</b> & {{ 7*7 }}" in text


def test_a_partly_paid_invoice_shows_what_is_still_due(tmp_path):
    m = _delivery(Ledger().customer("C1").invoice("N1", "C1", -30, 40_000, issued=TODAY))
    m.total_cents = 100_000
    text = " ".join(pdf_text(render_invoice(m, COMPANY, POLICY).pdf, tmp_path).split())
    assert "$1,000.00" in text and "Received so far −$600.00" in text and "Amount due by" in text
    assert date(2026, 12, 23).strftime("%B %-d, %Y") in text
