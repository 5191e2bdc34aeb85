"""An invoice as a PDF, for ledgers that provide none of their own: WeasyPrint prints a Jinja2 template filled with
the invoice's data, already formatted for the reader (reports/templates/invoice/invoice.html.j2)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from weasyprint import HTML

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = PROJECT_ROOT / "reports" / "templates" / "invoice"
_environment = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                           undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def invoice_html(context: dict) -> str:
    """The invoice page; ledger text enters only as data, escaped."""
    return _environment.get_template("invoice.html.j2").render(context)


def invoice_pdf(context: dict) -> bytes:
    return HTML(string=invoice_html(context), base_url=str(PROJECT_ROOT)).write_pdf()
