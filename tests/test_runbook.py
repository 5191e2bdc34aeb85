"""The README's runbook has an entry for every failure arpilot points to, and the failures a controller meets point
to theirs: a pointer that leads nowhere is worse than none."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from blocks.alert_email import AlertEmail
from blocks.database import LoginRefused, connection_error
from blocks.email_channel import EmailChannel
from blocks.ledger import LedgerUnreachable
from blocks.runbook import runbook
from blocks.warehouse import WarehouseUnreachable
from flows.dunning import DunningMisconfigured

ROOT = Path(__file__).resolve().parent.parent


def readme_anchors() -> set[str]:
    """GitHub's anchors of the README's headings: lower case, punctuation dropped, spaces as dashes."""
    headings = re.findall(r"^#+ (.+)$", (ROOT / "README.md").read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def pointed_to() -> set[str]:
    """Every runbook entry the code and the alert automations point to."""
    code = "\n".join(p.read_text() for package in ("blocks", "tasks", "flows") for p in (ROOT / package).rglob("*.py"))
    entries = set(re.findall(r"runbook\(['\"]([a-z-]+)['\"]\)", code))
    alerts = (ROOT / "automations.yaml").read_text()
    return entries | set(re.findall(r"README\.md#runbook-([a-z-]+)", alerts)) | set(
        re.findall(r'"(run-[a-z-]+)"', alerts))


def test_every_pointer_leads_to_an_entry_of_the_runbook():
    entries = pointed_to()
    assert {"contact-gate-closed", "ledger-unreachable", "send-tasks-failed", "unknown-emails", "snapshot-refused",
            "run-failed", "run-crashed", "run-timed-out", "nightly-late"} <= entries
    assert sorted(f"runbook-{e}" for e in entries if f"runbook-{e}" not in readme_anchors()) == []


@pytest.mark.parametrize("unreachable, entry", [(LedgerUnreachable, "ledger-unreachable"),
                                                (WarehouseUnreachable, "warehouse-unreachable")])
def test_a_database_that_cannot_be_reached_or_refuses_the_login_points_to_its_entry(unreachable, entry):
    down = sa.exc.OperationalError("connect", {}, Exception('connection to server at "10.0.0.9" failed'))
    error = connection_error(down, "the database", "block x/y", SecretStr("pw"), unreachable, entry)
    assert isinstance(error, unreachable) and str(error).endswith(runbook(entry))
    refused = sa.exc.OperationalError("connect", {}, Exception('password authentication failed for user "ar"'))
    error = connection_error(refused, "the database", "block x/y", SecretStr("pw"), unreachable, entry)
    assert isinstance(error, LoginRefused) and str(error).endswith("Runbook: README.md#runbook-login-refused")


def test_a_misconfigured_dunning_policy_points_to_its_entry():
    assert str(DunningMisconfigured("dunning policy p sends SMS but no Twilio channel block is given")).endswith(
        "is given. Runbook: README.md#runbook-dunning-misconfigured")


def test_the_alert_email_links_each_pointer_to_the_configured_runbook():
    alert = AlertEmail(email_channel=EmailChannel(host="relay", from_address="ar@northwind.example"),
                       to=["controller@northwind.example"], runbook_url="https://docs.northwind.example/arpilot.html")
    mail = alert.compose("arpilot: nightly-2026-12-01 Failed",
                         "Error: ... Runbook: README.md#runbook-ledger-unreachable\nWhat to do: README.md#runbook-run-failed")
    body = mail.get_content()
    assert "Runbook: https://docs.northwind.example/arpilot.html#runbook-ledger-unreachable" in body
    assert "What to do: https://docs.northwind.example/arpilot.html#runbook-run-failed" in body
    assert mail["To"] == "controller@northwind.example" and mail["From"] == "arpilot <ar@northwind.example>"
