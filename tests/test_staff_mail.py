"""Emails to staff go out exactly once: a rerun sends nothing, a refusal for now is sent by the next run, and a
run killed while handing one over leaves it 'unknown', never sent twice."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa

from tasks.dunning.messages import RenderedMessage
from tasks.staff_mail import StaffNotice, send_staff_notices


def notice(key: str, to: str = "ar-manager@northwind.example") -> StaffNotice:
    return StaffNotice(key, "dispute-opened", (to,), RenderedMessage(f"About {key}", f"Text of {key}\n",
                                                                      f"<p>{key}</p>"), "C1")


def statuses(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT notice_key, status FROM staff_notices")).all())


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_each_notice_goes_once_and_a_rerun_sends_nothing(warehouse, sandbox):
    notices = [notice("dispute|INV-1|opened|manager"), notice("dispute|INV-1|opened|sales", "rep@northwind.example")]
    first = send_staff_notices(warehouse, sandbox.email, "email", notices, "run-1", "Northwind AR")
    again = send_staff_notices(warehouse, sandbox.email, "email", notices, "run-2", "Northwind AR")
    assert [n.key for n in first.sent] == [n.key for n in notices] and not first.unsent
    assert again.sent == [] and [n.key for n in again.already] == [n.key for n in notices]
    received = sandbox.smtp.messages
    assert sorted(m.rcpt_tos[0] for m in received) == ["ar-manager@northwind.example", "rep@northwind.example"]
    assert {m.message["X-Arpilot-Reference"] for m in received} == {n.key for n in notices}
    assert statuses(warehouse) == {n.key: "sent" for n in notices}


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_a_relay_refusing_for_now_leaves_the_notice_owed_and_the_next_run_sends_it(warehouse, sandbox):
    sandbox.smtp.fail_next(3)
    first = send_staff_notices(warehouse, sandbox.email, "email", [notice("k1")], "run-1", "AR", backoff=(0,))
    assert [(n.key, status) for n, status, _ in first.unsent] == [("k1", "owed")] and sandbox.smtp.messages == []
    second = send_staff_notices(warehouse, sandbox.email, "email", [notice("k1")], "run-2", "AR", backoff=(0,))
    assert [n.key for n in second.sent] == ["k1"] and len(sandbox.smtp.messages) == 1


KILLED_RUN = """
import sys
from pydantic import SecretStr
from blocks.email_channel import EmailChannel
from blocks.warehouse import create_warehouse_engine
from tasks.dunning.messages import RenderedMessage
from tasks.staff_mail import StaffNotice, send_staff_notices
url, port = sys.argv[1], int(sys.argv[2])
email = EmailChannel(host="127.0.0.1", port=port, security="none", username="relay-login",
                     password=SecretStr("relay-pw"), from_address="ar@northwind.example")
notices = [StaffNotice(k, "dispute-opened", ("m@northwind.example",), RenderedMessage(k, k)) for k in ("a", "b")]
send_staff_notices(create_warehouse_engine(url), email, "email", notices, "killed", "AR")
"""


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_a_run_killed_while_handing_over_never_sends_that_notice_twice(warehouse, warehouse_url, sandbox):
    run = subprocess.run([sys.executable, "-c", KILLED_RUN, warehouse_url, str(sandbox.smtp.port)],
                         env={"ARPILOT_KILL_AT": "staff-handing-over:2", "PATH": ""}, cwd=".")
    assert run.returncode == -9
    assert statuses(warehouse) == {"a": "sent", "b": "sending"}
    rerun = [StaffNotice(k, "dispute-opened", ("m@northwind.example",), RenderedMessage(k, k)) for k in ("a", "b")]
    again = send_staff_notices(warehouse, sandbox.email, "email", rerun, "rerun", "AR")
    assert again.sent == [] and statuses(warehouse) == {"a": "sent", "b": "unknown"}
    assert [m.message["X-Arpilot-Reference"] for m in sandbox.smtp.messages] == ["a"]
