"""What the customer sees: the portal page, the refusal page and the statement PDF, from reports/templates/portal.

Ledger text enters only as data into autoescaped templates; amounts and dates come formatted for the customer's
locale, each currency on its own.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from babel import Locale
from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from blocks.company import CompanyProfile
from blocks.ledger import PROJECT_ROOT
from reports.formats import money
from tasks.dunning.messages import due_status
from tasks.portal.account import Account

TEMPLATES = PROJECT_ROOT / "reports" / "templates" / "portal"
REFUSED = "This link has expired or is not valid."


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def text_on(background: str) -> str:
    """Black or white, whichever reads better on the brand colour (WCAG relative luminance); white if unparsable."""
    hex_digits = background.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(c * 2 for c in hex_digits)
    try:
        channels = [int(hex_digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    except ValueError:
        return "#ffffff"
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#ffffff" if (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.05) else "#1a1a1a"


def _company(company: CompanyProfile) -> dict:
    return {"legal_name": company.legal_name, "logo_url": company.logo_url, "brand_color": company.brand_color,
            "on_brand": text_on(company.brand_color), "sender_name": company.sender_name}


def account_view(account: Account, locale: str, today: date, caps: dict[str, int]) -> list[dict]:
    """Per currency: its invoices as the customer reads them, the total, and the autopay cap offered."""
    locale = Locale.parse(locale)  # once: Babel would parse the name again for every amount and date
    view = []
    for currency in account.currencies:
        invoices = account.open_in(currency)
        view.append({
            "currency": currency, "total": money(account.total_cents(currency), currency, locale),
            "selectable_total": money(sum(i.open_cents for i in invoices if not i.why_not_payable), currency, locale),
            "cap": money(caps[currency], currency, locale) if currency in caps else None,
            "invoices": [{"number": i.number, "cents": i.open_cents, "disputed": i.disputed,
                          "why_not": i.why_not_payable,
                          "issued": format_date(i.issued, "medium", locale=locale),
                          "due": format_date(i.due, "medium", locale=locale),
                          "status": due_status(i.days_past_due(today)), "overdue": i.days_past_due(today) > 0,
                          "open": money(i.open_cents, currency, locale)} for i in invoices]})
    return view


def portal_page(company: CompanyProfile, account: Account, locale: str, today: date, caps: dict[str, int],
                publishable_key: str, js_url: str, token: str) -> str:
    return _environment().get_template("page.html.j2").render(
        company=_company(company), customer=account.name, currencies=account_view(account, locale, today, caps),
        today=format_date(today, "long", locale=locale), language=locale.split("_")[0],
        locale_tag=locale.replace("_", "-"), publishable_key=publishable_key, js_url=js_url, token=token)


def refused_page(company_name: str | None = None) -> str:
    """The same page for every refused link: no hint of whose it was or why."""
    return _environment().get_template("refused.html.j2").render(message=REFUSED, company_name=company_name)


def statement_pdf(company: CompanyProfile, account: Account, locale: str, today: date) -> bytes:
    from weasyprint import HTML  # WeasyPrint loads pango at import: only when a statement is asked for

    html = _environment().get_template("statement.html.j2").render(
        company=_company(company), customer=account.name, customer_id=account.customer_id,
        currencies=account_view(account, locale, today, {}), today=format_date(today, "long", locale=locale),
        language=locale.split("_")[0])
    return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
