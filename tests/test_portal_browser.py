"""The portal in a real browser (Playwright driving Debian's chromium, headless): a reminder's link opens the
customer's invoices, a test card pays the chosen ones through the page, the payment is in the warehouse and the
invoice leaves the next dunning plan; refused links show no customer data. Screenshots go to var/portal/."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from playwright import sync_api as playwright
from portal_cases import COMPANY, PORTAL, TODAY, gateway, seed_customers, warehouse_url  # noqa: F401
from test_dunning_messages import POLICY

from sandbox.loopback import served
from sandbox.stripe_api import SANDBOX_WEBHOOK_SECRET, StripeTestServer
from tasks import warehouse as wh
from tasks.dunning.messages import render
from tasks.dunning.outbox import SendHistory
from tasks.dunning.plan import CoveredInvoice, PlannedMessage, Recipient, plan_dunning
from tasks.dunning.planning import aged_for_planning
from tasks.portal.app import create_app

SHOTS = Path(__file__).resolve().parent.parent / "var" / "portal"


@pytest.fixture
def portal_app(warehouse):
    """The portal app under uvicorn on loopback, with the sandbox posting its webhooks to it."""
    seed_customers(warehouse)
    with StripeTestServer() as stripe_server:
        def app(base: str):
            portal = PORTAL.model_copy(update={"base_url": base})
            return create_app(portal, gateway(stripe_server), COMPANY, warehouse, today=lambda: TODAY)

        with served(app) as base:
            stripe_server.add_webhook(f"{base}/stripe/webhook", SANDBOX_WEBHOOK_SECRET)
            yield SimpleNamespace(portal=PORTAL.model_copy(update={"base_url": base}), stripe=stripe_server)


def reminder_link(portal) -> str:
    """Render C1's USD reminder with the real message code and take its pay link."""
    invoice = CoveredInvoice("INV-1", TODAY.replace(day=3), 125_000, 20, 15)
    message = PlannedMessage("C1", "Acme GmbH", "Ann Lee", "USD", 15, "email", "firm", "1-30", TODAY, [invoice],
                             [Recipient("K1", "Jo Smith", "jo@acme.example", "America/New_York")])
    text = render(message, COMPANY, POLICY.model_copy(update={"pay_portal": portal})).text
    [url] = [word for word in text.split() if word.startswith(f"{portal.base_url}/p/")]
    return url


def planned_usd(engine) -> dict[str, int]:
    """What the real dunning planner holds C1 owes in USD, per step: from its messages, or from the rows it held
    back with a reason (this ledger has no contact verdicts, so C1's reminders are held back)."""
    with engine.connect() as conn:
        invoices = wh.query_frame(conn, wh.named_query("dunning", "open_invoices"))
        customers = wh.query_frame(conn, wh.named_query("dunning", "customers"))
        contacts = wh.query_frame(conn, wh.named_query("dunning", "contacts"))
    aged = aged_for_planning(invoices, TODAY, COMPANY.aging_buckets)  # as age_open_invoices, without publishing
    plan = plan_dunning(aged, customers.astype(object).where(customers.notna(), None),
                        contacts.astype(object).where(contacts.notna(), None), SendHistory(), POLICY, COMPANY,
                        datetime(2026, 11, 23, 16, 0, tzinfo=UTC))
    mine = {m.step: m.amount_cents for m in plan.messages if (m.customer_id, m.currency) == ("C1", "USD")}
    held = plan.skips[(plan.skips.customer_id == "C1") & (plan.skips.currency == "USD")]
    return mine | {int(r.step): int(r.amount_cents) for r in held.itertuples()}


def test_a_customer_pays_chosen_invoices_from_a_reminders_link_with_a_test_card(portal_app, warehouse):
    url = reminder_link(portal_app.portal)
    before = planned_usd(warehouse)
    assert sum(before.values()) == 125_000 + 30_050 + 99_900  # INV-1, INV-2 and the disputed INV-3
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url)
            for text in ("Acme GmbH", "INV-1", "INV-2", "INV-4", "$1,250.00", "20 days overdue"):
                assert page.get_by_text(text, exact=False).first.is_visible(), text
            page.screenshot(path=str(SHOTS / "page-desktop.png"), full_page=True)
            page.get_by_label("Pay invoice INV-2").focus()  # pay INV-1 only, by keyboard
            page.keyboard.press("Space")
            assert not page.get_by_label("Pay invoice INV-2").is_checked()
            assert page.get_by_text("Selected: $1,250.00").is_visible()
            page.get_by_label("Card number").fill("4242424242424242")
            page.get_by_label("Card exp month").fill("12")
            page.get_by_label("Card exp year").fill("30")
            page.get_by_label("Card cvc").fill("123")
            page.get_by_label("Card postal code").fill("60601")
            page.get_by_role("button", name="Pay selected USD invoices").focus()
            page.keyboard.press("Enter")
            page.get_by_text("Thank you: your payment was received.").wait_for(timeout=10_000)
            page.screenshot(path=str(SHOTS / "paid.png"), full_page=True)
            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            phone.goto(url)
            phone.screenshot(path=str(SHOTS / "page-phone.png"), full_page=True)
            assert "INV-1" not in phone.content()  # paid: no longer open
            for token in (url.rsplit("/", 1)[1][:-3] + "abc", "x"):
                phone.goto(f"{portal_app.portal.base_url}/p/{token}")
                assert "This link has expired or is not valid." in phone.content()
                assert "Acme" not in phone.content() and "INV-" not in phone.content()
            phone.screenshot(path=str(SHOTS / "refused-phone.png"))
        finally:
            browser.close()
    with warehouse.connect() as conn:
        paid = conn.execute(sa.text("SELECT g.amount_cents, a.invoice_number, i.open_cents, i.status FROM "
                                    "gateway_payments g JOIN allocations a ON a.document_id = g.payment_id JOIN "
                                    "invoices i ON i.invoice_number = a.invoice_number")).all()
    assert [tuple(r) for r in paid] == [(125_000, "INV-1", 0, "paid")]
    assert sum(planned_usd(warehouse).values()) == 30_050 + 99_900  # INV-1 left the plan


def test_a_card_that_must_authenticate_is_finished_in_the_page_and_checked_with_the_gateway(portal_app, warehouse):
    """3-D Secure: the page completes the bank's challenge twice (saving the card, then paying), and the server
    records the payment only after retrieving the intent from the gateway itself."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        try:
            page = browser.new_page()
            page.goto(reminder_link(portal_app.portal))
            page.get_by_label("Pay invoice INV-1").uncheck()
            for label, value in (("number", "4000002500003155"), ("exp month", "12"), ("exp year", "30"),
                                 ("cvc", "123"), ("postal code", "60601")):
                page.get_by_label(f"Card {label}").fill(value)
            with page.expect_response(lambda r: r.url.endswith("/check")) as checked:
                page.get_by_role("button", name="Pay selected USD invoices").click()
                for _ in range(2):  # localstripe's stand-in for the bank's challenge
                    page.get_by_role("button", name="Complete authentication").click()
            assert checked.value.json()["status"] == "succeeded"
            page.get_by_text("Thank you: your payment was received.").wait_for(timeout=10_000)
        finally:
            browser.close()
    with warehouse.connect() as conn:
        paid = conn.execute(sa.text("SELECT amount_cents, last4 FROM gateway_payments")).all()
    assert [tuple(r) for r in paid] == [(30_050, "3155")]


def test_a_customer_sets_up_automatic_payment_from_their_bank_account_in_the_page(portal_app, warehouse):
    """SEPA: the page shows the mandate text and sends the IBAN to Stripe; the mandate row keeps the bank's mandate
    reference, and paying now by debit is refused (it would stay processing for days unseen)."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            page.goto(reminder_link(portal_app.portal))
            page.get_by_label("Bank account (SEPA Direct Debit: automatic payment of EUR invoices)").check()
            assert page.get_by_text("you authorise Northwind Components Ltd and Stripe").is_visible()
            page.get_by_label("Account holder").fill("Acme GmbH")
            page.get_by_label("Email for the debit notice").fill("ap@acme.example")
            page.get_by_label("IBAN").fill("DE89 3704 0044 0532 0130 00")
            page.get_by_role("button", name="Pay selected EUR invoices").click()
            page.get_by_text("A bank debit takes days to arrive").wait_for(timeout=10_000)
            page.get_by_role("button", name="Pay EUR invoices automatically from now on").click()
            page.get_by_text("paid automatically from the account ending 3000").wait_for(timeout=10_000)
            page.screenshot(path=str(SHOTS / "debit-phone.png"), full_page=True)
        finally:
            browser.close()
    with warehouse.connect() as conn:
        mandates = conn.execute(sa.text("SELECT currency, method_type, last4, mandate_reference, source "
                                        "FROM autopay_mandates")).all()
        assert conn.execute(sa.text("SELECT COUNT(*) FROM gateway_payments")).scalar() == 0
    assert [tuple(r) for r in mandates] == [("EUR", "sepa_debit", "3000", "NXDSYREGC9PSMKWY", "portal")]
