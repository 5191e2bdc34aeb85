"""What the customer reads: merge fields, locale formatting, tones, escaping, opt-out, headers, attachments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_string
from email import policy as email_policy

import pytest
from dunning_cases import TODAY, delivered_keys

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from tasks.dunning.messages import (
    TemplateDirMissing,
    email_message,
    escalation_message,
    render,
    render_escalations,
    twiml,
)
from tasks.dunning.plan import CoveredInvoice, PlannedMessage, Recipient

COMPANY = CompanyProfile(legal_name="Northwind Components Ltd", sender_name="Northwind AR", brand_color="#123456")
POLICY = DunningPolicy(pay_url="https://pay.northwind.example/{customer_id}?c={currency}", ar_phone="+1 312 555 0100",
                       collector_phones={"Ann Lee": "+1 312 555 0199"}, unsubscribe_email="optout@northwind.example")


def message(channel="email", tone="firm", name="Acme GmbH", currency="USD", invoices=None, collector="Ann Lee"):
    invoices = invoices or [CoveredInvoice("INV-1001", date(2026, 10, 20), 123_456_78, 34, 30),
                            CoveredInvoice("INV-1002", date(2026, 11, 30), 5_000, -7, -7)]
    return PlannedMessage("C-7", name, collector, currency, max(i.step for i in invoices), channel, tone, "31-60",
                          TODAY, invoices, [Recipient("K1", "Jo Smith", "jo@acme.example", "Europe/Berlin")])


def test_email_has_every_merge_field_formatted_for_the_locale():
    r = render(message(), COMPANY, POLICY)
    assert r.subject == "Payment overdue: $123,506.78, 34 days past due (Acme GmbH)"
    for part in (r.text, r.html):
        for expected in ("Jo", "Acme GmbH", "INV-1001", "INV-1002", "$123,456.78", "$50.00", "Oct 20, 2026",
                         "34 days overdue", "due in 7 days", "https://pay.northwind.example/C-7?c=USD", "Ann Lee",
                         "+1 312 555 0199", "Northwind Components Ltd", "optout@northwind.example"):
            assert expected in part, (expected, part[:200])
    assert "#123456" in r.html


def test_amounts_and_dates_follow_the_company_locale_and_the_invoice_currency():
    german = COMPANY.model_copy(update={"locale": "de_DE"})
    r = render(message(currency="EUR"), german, POLICY)
    assert "123.456,78\xa0€" in r.text and "20.10.2026" in r.text
    japanese = COMPANY.model_copy(update={"locale": "ja_JP"})
    assert "￥123,457" in render(message(currency="JPY"), japanese, POLICY).text


@pytest.mark.parametrize(("tone", "subject_start", "phrase"), [
    ("friendly", "Friendly reminder", "may simply have slipped through"),
    ("firm", "Payment overdue", "Please arrange payment"),
    ("final", "Final notice", "place the account on hold"),
])
def test_each_tone_has_its_own_wording(tone, subject_start, phrase):
    r = render(message(tone=tone), COMPANY, POLICY)
    assert r.subject.startswith(subject_start)
    assert phrase in r.text and phrase in r.html


def test_a_heads_up_before_the_due_date_says_so():
    upcoming = [CoveredInvoice("INV-9", date(2026, 11, 30), 10_000, -7, -7)]
    r = render(message(tone="friendly", invoices=upcoming), COMPANY, POLICY)
    assert r.subject.startswith("Upcoming payment: $100.00 due Nov 30, 2026")
    assert "coming due" in r.text


def test_ledger_text_is_shown_verbatim_and_cannot_run_or_inject():
    hostile = "{{ 7*7 }} <script>alert('x')</script> & {% raw %}"
    r = render(message(name=hostile), COMPANY, POLICY)
    assert hostile in r.text and hostile in r.subject
    assert "49" not in r.text
    assert "<script>" not in r.html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in r.html
    assert "{{ 7*7 }}" in r.html


def test_templates_run_sandboxed(tmp_path):
    (tmp_path / "firm.subject.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(Exception, match="unsafe|access"):
        render(message(), COMPANY, POLICY.model_copy(update={"template_dir": str(tmp_path)}))


def test_finance_ops_can_replace_one_template_and_keep_the_rest(tmp_path):
    (tmp_path / "firm.subject.j2").write_text("Rechnung offen: {{ total }}")
    r = render(message(), COMPANY, POLICY.model_copy(update={"template_dir": str(tmp_path)}))
    assert r.subject == "Rechnung offen: $123,506.78"
    assert "Please arrange payment" in r.text


def test_the_mime_message_has_both_parts_the_unsubscribe_header_and_the_statement():
    m = message()
    policy = POLICY.model_copy(update={"attach_statement": True})
    mail = email_message(m, render(m, COMPANY, policy), "ar@northwind.example", "Northwind AR",
                         "collections@northwind.example", policy, datetime(2026, 11, 23, 14, tzinfo=UTC))
    parsed = message_from_string(mail.as_string(), policy=email_policy.default)
    assert parsed["From"] == "Northwind AR <ar@northwind.example>"
    assert parsed["To"] == "Jo Smith <jo@acme.example>"
    assert parsed["Reply-To"] == "collections@northwind.example"
    assert parsed["List-Unsubscribe"] == "<mailto:optout@northwind.example?subject=unsubscribe%20C-7>"
    assert parsed["Message-ID"].endswith("@northwind.example>")
    assert parsed.get_body(("plain",)).get_content().startswith("Hello Jo,")
    assert "<table" in parsed.get_body(("html",)).get_content()
    [statement] = list(parsed.iter_attachments())
    assert statement.get_filename() == "statement-C-7-USD.csv"
    assert "INV-1001,2026-10-20,34,USD,123456.78" in statement.get_content()


def test_sms_and_voice_are_short_plain_and_carry_the_opt_out():
    sms = render(message(channel="sms"), COMPANY, POLICY).text
    assert "Reply STOP to opt out." in sms and "$123,506.78" in sms and len(sms) < 320
    assert "\n" not in sms
    voice = render(message(channel="voice", tone="final", name="Bits & <Bytes>"), COMPANY, POLICY).text
    assert "final notice" in voice
    spoken = twiml(voice, "Polly.Joanna", "en-US")
    assert spoken.startswith('<Response><Say voice="Polly.Joanna" language="en-US">')
    assert "Bits &amp; &lt;Bytes&gt;" in spoken


def test_escalations_are_one_digest_for_the_manager_most_urgent_first():
    small = message(channel="escalation", invoices=[CoveredInvoice("INV-7", date(2026, 9, 1), 10_000, 83, 60)])
    big = PlannedMessage("C-9", "Bits & <Bytes>", None, "USD", 90, "escalation", "final", "90+", TODAY,
                         [CoveredInvoice("INV-8", date(2026, 8, 1), 5_000_000, 114, 90)], [])
    r = render_escalations([small, big], COMPANY, POLICY)
    assert r.subject == "Escalation: 2 accounts reached an escalation step on Nov 23, 2026"
    assert r.text.index("Bits & <Bytes> (C-9), collector unassigned: $50,000.00") < r.text.index("Acme GmbH (C-7)")
    assert "Bits &amp; &lt;Bytes&gt;" in r.html
    mail = escalation_message([small, big], r, "ar@northwind.example", "AR",
                              POLICY.model_copy(update={"escalation_to": ["boss@northwind.example"]}),
                              datetime(2026, 11, 23, tzinfo=UTC))
    assert mail["To"] == "boss@northwind.example" and "List-Unsubscribe" not in mail
    assert sorted(delivered_keys(mail)) == sorted([small.key, big.key])
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "escalations-2026-11-23.csv"
    assert "Bits & <Bytes>,C-9,,USD,50000.00,1,114,90," in attachment.get_content()


def test_a_template_folder_that_does_not_exist_is_never_replaced_by_the_built_in_wording(tmp_path):
    with pytest.raises(TemplateDirMissing, match=f"template_dir {tmp_path / 'gone'} is not a folder"):
        render(message(), COMPANY, POLICY.model_copy(update={"template_dir": str(tmp_path / "gone")}))
