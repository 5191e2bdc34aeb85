"""The KPI reports flow on a real Prefect API, a real SMTP relay, real Chrome (charts) and WeasyPrint (PDF):
one message per audience with its own PDF, each audience sees only its scope, an empty period says so."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from test_nightly_flow import blocks  # noqa: F401 (fixture)

from blocks.company import CompanyProfile
from blocks.report_recipients import ReportRecipients
from blocks.warehouse import ArWarehouse, create_warehouse_engine, migrate
from flows.kpi_reports import _as_of, kpi_reports, last_full_month_end, report_period
from flows.nightly import nightly
from reports.builder import period_label
from tasks.kpi.maths import Period

AS_OF = date.today()
ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_reports_the_last_full_month_as_the_monthly_deployment_does_on_the_1st():
    company = CompanyProfile(legal_name="Test Co", time_zone="America/Chicago")
    first = datetime(2026, 12, 1, 7, tzinfo=ZoneInfo("America/Chicago"))  # the monthly deployment's run
    assert _as_of(company.today(first), None) == last_full_month_end(first.date()) == date(2026, 11, 30)
    november = Period(date(2026, 11, 1), date(2026, 11, 30))
    for today in (date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 31)):  # the demo on any day of December
        assert report_period("month", last_full_month_end(today)) == november
    assert report_period("month", last_full_month_end(date(2028, 3, 1))) == Period(date(2028, 2, 1), date(2028, 2, 29))


def test_a_period_shorter_than_a_week_is_labelled_partial():
    assert period_label(date(2026, 12, 1), date(2026, 12, 1), "en_US") == "1 Dec – 1 Dec 2026 (partial period: 1 day)"
    assert period_label(date(2026, 12, 1), date(2026, 12, 6), "en_US").endswith("(partial period: 6 days)")
    assert "partial" not in period_label(date(2026, 12, 1), date(2026, 12, 7), "en_US")


async def _artifacts(flow_run_id) -> dict:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {a.key: a for a in found}


def _people(warehouse: str, column: str) -> list[str]:
    engine = sa.create_engine(warehouse)
    with engine.connect() as conn:
        names = conn.execute(sa.text(f"SELECT {column}, COUNT(*) FROM customers c JOIN invoices i "
                                     f"ON i.customer_id = c.customer_id WHERE i.open_cents > 0 "
                                     f"GROUP BY {column} ORDER BY 2 DESC")).all()
    engine.dispose()
    return [n for n, _ in names]


def test_each_audience_gets_one_message_with_its_own_pdf(blocks, tmp_path):  # noqa: F811
    params = blocks["params"]
    assert nightly(**params, return_state=True).is_completed()
    reminders = len(blocks["sandbox"].smtp.messages)  # the nightly's dunning emails went to the same relay
    warehouse_url = ArWarehouse.load(params["warehouse"].split("/", 1)[1]).url
    collectors, reps = _people(warehouse_url, "collector"), _people(warehouse_url, "sales_rep")
    name = f"r-{uuid.uuid4().hex[:6]}"
    ReportRecipients(executives=["cfo@northwind.example", "controller@northwind.example"],
                     collectors={collectors[0]: "first.collector@northwind.example",
                                 collectors[1]: "second.collector@northwind.example"},
                     sales_reps={reps[0]: "rep@northwind.example"},
                     output_dir=str(tmp_path / "reports")).save(name)
    state = kpi_reports(period="month", as_of=AS_OF, warehouse=params["warehouse"], company=params["company"],
                        recipients=f"arpilot-report-recipients/{name}", email_channel=params["email_channel"],
                        return_state=True)
    assert state.is_completed(), state.message
    run = state.result()

    received = blocks["sandbox"].smtp.messages[reminders:]
    assert len(received) == 4  # executives (one message to both), two collectors, one sales rep
    by_pdf = {}
    for mail in received:
        pdfs = [p for p in mail.message.iter_attachments() if p.get_content_type() == "application/pdf"]
        assert len(pdfs) == 1
        assert pdfs[0].get_content().startswith(b"%PDF")
        by_pdf[pdfs[0].get_filename()] = mail
    slug = {n: re.sub(r"[^a-z0-9]+", "-", n.lower()).strip("-") for n in (*collectors[:2], reps[0])}
    assert sorted(by_pdf) == sorted(["executive.pdf", f"collector-{slug[collectors[0]]}.pdf",
                                     f"collector-{slug[collectors[1]]}.pdf", f"sales-{slug[reps[0]]}.pdf"])
    assert sorted(by_pdf["executive.pdf"].rcpt_tos) == ["cfo@northwind.example", "controller@northwind.example"]
    assert by_pdf[f"collector-{slug[collectors[0]]}.pdf"].rcpt_tos == ["first.collector@northwind.example"]
    assert by_pdf[f"sales-{slug[reps[0]]}.pdf"].rcpt_tos == ["rep@northwind.example"]
    executive = by_pdf["executive.pdf"].message
    assert "AR executive summary" in executive["Subject"] and "Test Co" in executive["Subject"]
    assert "open AR" in executive.get_body(("plain",)).get_content()

    # each audience sees only its scope: a collector's report names only that collector's customers
    reports = {r.pdf.name: r for r in run.reports}
    mine = reports[f"collector-{slug[collectors[0]]}.pdf"].html.read_text()
    engine = sa.create_engine(warehouse_url)
    owners = pd.read_sql("SELECT customer_id, collector FROM customers", engine).set_index("customer_id")["collector"]
    engine.dispose()
    named = set(re.findall(r"\((C\d{6})\)", mine))
    assert named and all(owners[c] == collectors[0] for c in named)
    everything = reports["executive.pdf"].html.read_text()
    assert {owners[c] for c in re.findall(r"\((C\d{6})\)", everything)} - {collectors[0]}  # others appear there
    for r in run.reports:
        text = r.html.read_text()
        assert "nan" not in re.sub(r"<[^>]+>", " ", text).lower().split()
        assert "The buckets of each currency add up to its open AR to the cent." in text
        assert r.pdf.stat().st_size > 10_000

    artifacts = asyncio.run(_artifacts(state.state_details.flow_run_id))
    summary = artifacts["kpi-summary"].data
    assert "DSO (countback)" in summary and "| executive.pdf" not in summary and "executive.pdf](file://" in summary
    assert "add up to open AR to the cent" in summary
    assert "executive.pdf" in artifacts["report-executive"].data  # a link to the PDF
    assert "No report address for: collector" in summary  # the ledger has more collectors than addresses


def test_the_nightly_keeps_a_kpi_snapshot_per_currency(blocks):  # noqa: F811
    params = blocks["params"]
    result = nightly(**params)
    warehouse_url = ArWarehouse.load(params["warehouse"].split("/", 1)[1]).url
    engine = sa.create_engine(warehouse_url)
    snapshot = pd.read_sql("SELECT * FROM kpi_snapshots", engine)
    open_ar = pd.read_sql("SELECT currency, SUM(open_cents) AS open_cents FROM invoices WHERE status = 'open' "
                          "GROUP BY currency", engine).set_index("currency")["open_cents"]
    engine.dispose()
    assert len(snapshot) == snapshot["currency"].nunique() == len(open_ar)
    assert snapshot.set_index("currency")["open_cents"].to_dict() == open_ar.to_dict()
    assert (snapshot["current_cents"] + snapshot["past_due_cents"] == snapshot["open_cents"]).all()
    assert set(snapshot["snapshot_on"].astype(str)) == {str(result.dunning.planned_on)}


def test_a_period_with_no_receivables_says_so(prefect_api, sandbox, tmp_path):
    name = f"e-{uuid.uuid4().hex[:6]}"
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    migrate(create_warehouse_engine(url))
    ArWarehouse(url=url).save(name)
    CompanyProfile(legal_name="Empty Co", time_zone="Europe/Berlin").save(name)
    ReportRecipients(executives=["cfo@empty.example"], output_dir=str(tmp_path / "reports")).save(name)
    sandbox.email.save(name)
    run = kpi_reports(period="week", warehouse=f"arpilot-ar-warehouse/{name}",
                      company=f"arpilot-company-profile/{name}",
                      recipients=f"arpilot-report-recipients/{name}", email_channel=f"arpilot-email-channel/{name}")
    assert [r.pdf.name for r in run.reports] == ["executive.pdf"]
    assert "No receivables in this period" in run.reports[0].html.read_text()
    assert len(sandbox.smtp.messages) == 1


def test_a_missing_recipients_block_is_named_with_how_to_create_it(prefect_api):
    name = f"m-{uuid.uuid4().hex[:6]}"
    CompanyProfile(legal_name="Test Co").save(name)
    state = kpi_reports(company=f"arpilot-company-profile/{name}", recipients="arpilot-report-recipients/nobody-here",
                        return_state=True)
    assert state.is_failed()
    assert "block arpilot-report-recipients/nobody-here does not exist" in state.message
    assert "create it in the Prefect UI" in state.message


def test_a_script_that_builds_reports_without_a_main_guard_is_told_how_to_fix_it(tmp_path):
    """PDF workers are spawned and run the calling script again: unguarded, they die; the error says what to do."""
    script = tmp_path / "monthly_reports.py"
    script.write_text("from tasks.kpi.reports import pdf_workers\n\n"
                      "with pdf_workers() as pool:\n    print(pool.submit(len, 'printed').result())\n")
    unguarded = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)},
                               capture_output=True, text=True, timeout=120)
    assert unguarded.returncode != 0
    assert "PdfWorkersLost" in unguarded.stderr
    assert 'put that call under `if __name__ == "__main__":`' in unguarded.stderr

    script.write_text("from tasks.kpi.reports import pdf_workers\n\nif __name__ == '__main__':\n"
                      "    with pdf_workers() as pool:\n        print(pool.submit(len, 'printed').result())\n")
    guarded = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)},
                             capture_output=True, text=True, timeout=120)
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    assert guarded.stdout.strip() == "7"
