"""Contact normalisation: canonical emails, E.164 phones and the contact's time zone, with no false alarms on
valid international data."""

from __future__ import annotations

import pandas as pd
import pytest

from tasks.contacts.normalization import (
    TimeZone,
    addressees,
    normalize_contacts,
    normalize_email,
    normalize_phone,
    resolve_time_zone,
)

AP_ROLES = ("AP", "Accounts Payable", "Billing")


@pytest.mark.parametrize(("raw", "canonical"), [
    ("ap@bücher.de", "ap@bücher.de"),  # IDN domain
    ("ap@xn--bcher-kva.de", "ap@bücher.de"),  # the same domain in its ASCII form
    ("ap+northwind@acme.co.uk", "ap+northwind@acme.co.uk"),  # plus-addressing
    ("  Jane.Doe@EXAMPLE.COM ", "Jane.Doe@example.com"),  # spaces trimmed, domain lower-cased
    ("経理@例え.jp", "経理@例え.jp"),  # internationalised local part
    ("o'brien@dublin-freight.ie", "o'brien@dublin-freight.ie"),
    ("ap@mail.com", "ap@mail.com"),  # a real provider one letter from gmail.com
    ("ap@aon.com", "ap@aon.com"),
    ("ap@never.com", "ap@never.com"),  # one edit from naver.com, and a real company's domain
    ("ap@cloud.com", "ap@cloud.com"),  # icloud.com without its first letter: a real company's domain
])
def test_valid_international_addresses_pass_in_canonical_form(raw, canonical):
    email = normalize_email(raw)
    assert (email.address, email.problem) == (canonical, None)


@pytest.mark.parametrize(("raw", "problem", "fix"), [
    (None, "no email address", "ask the customer for their accounts-payable mailbox"),
    ("   ", "no email address", "ask the customer for their accounts-payable mailbox"),
    ("ap.acme.com", "must have an @-sign", "correct the address in the ERP"),
    ("ap@@acme.com", "invalid characters: '@'", "correct the address in the ERP"),
    ("ap@acme..com", "period", "correct the address in the ERP"),
    ("ap@acme,com", "invalid characters: ','", "correct the address in the ERP"),
    ("jane@gmial.com", "'gmial.com' looks like a typo of 'gmail.com'", "change the domain to gmail.com"),
    ("jane@hotmial.com", "typo of 'hotmail.com'", "change the domain to hotmail.com"),
    ("jane@gmail.co", "typo of 'gmail.com'", "change the domain to gmail.com"),
])
def test_unusable_addresses_say_what_is_wrong_without_repeating_the_address(raw, problem, fix):
    email = normalize_email(raw)
    assert email.address is None
    assert problem in email.problem and fix in email.fix
    assert raw is None or not raw.strip() or raw.strip() not in email.problem + email.fix


@pytest.mark.parametrize(("raw", "country", "e164", "extension"), [
    ("020 7946 0000", "GB", "+442079460000", None),
    ("+44 20 7946 0000", None, "+442079460000", None),
    ("03-3224-5000", "JP", "+81332245000", None),
    ("+81 3-3224-5000", "US", "+81332245000", None),  # international form wins over the customer's country
    ("030/40765821", "DE", "+493040765821", None),
    ("+49 151 23456789", None, "+4915123456789", None),
    ("(415) 291-3970 x 204", "US", "+14152913970", "204"),
    ("+1 212 736 4000 ext. 12", "US", "+12127364000", "12"),
])
def test_valid_international_numbers_become_e164_with_the_extension_apart(raw, country, e164, extension):
    phone = normalize_phone(raw, country)
    assert (phone.e164, phone.extension, phone.problem) == (e164, extension, None)


@pytest.mark.parametrize(("raw", "country", "problem"), [
    (None, "US", "no phone number"),
    ("12345", "US", "is not a valid number for US"),
    ("555-1234", None, "cannot be read without the customer's country"),
    ("call reception", "GB", "cannot be read in GB"),
])
def test_unusable_numbers_say_why(raw, country, problem):
    phone = normalize_phone(raw, country)
    assert phone.e164 is None and problem in phone.problem and phone.fix


@pytest.mark.parametrize(("args", "zone", "source", "ambiguous"), [
    (("Asia/Kolkata", "Europe/Paris", "FR", None), "Asia/Kolkata", "contact", False),
    (("Not/AZone", "Europe/Paris", "DE", None), "Europe/Paris", "customer", False),
    ((None, None, "DE", None), "Europe/Berlin", "country", False),  # Busingen keeps Berlin's clock
    ((None, None, "JP", "+81332245000"), "Asia/Tokyo", "country", False),
    ((None, None, "US", "+14152913970"), "America/Los_Angeles", "phone", False),
    ((None, None, "US", None), "America/New_York", "country", True),
    ((None, None, None, "+81332245000"), "Asia/Tokyo", "phone", False),
    ((None, None, None, None), "America/Chicago", "company", False),
])
def test_time_zone_comes_from_the_most_specific_source(args, zone, source, ambiguous):
    assert resolve_time_zone(*args, company_zone="America/Chicago") == TimeZone(zone, source, ambiguous)


@pytest.mark.parametrize(("role", "email", "kind"), [
    ("AP", "ap@acme.com", "accounts_payable"),
    ("accounts payable", "jane@acme.com", "accounts_payable"),
    ("Billing", "billing+eu@acme.com", "accounts_payable"),
    ("AP", "no-reply@acme.com", "no_reply"),
    ("AP", "DoNotReply@acme.com", "no_reply"),
    ("No-reply", None, "no_reply"),
    ("Sales", "tom@acme.com", "sales"),
    ("Owner", "owner@acme.com", "other"),
    ("do_not_reply", "ops@acme.com", "no_reply"),
    (None, "x@acme.com", "other"),
])
def test_addressee_tells_the_ap_desk_from_sales_and_no_reply(role, email, kind):
    assert addressees(pd.Series([role]), pd.Series([email]), AP_ROLES).tolist() == [kind]


def test_normalize_contacts_keeps_the_frame_index_and_reads_national_numbers_in_the_customer_country():
    contacts = pd.DataFrame({
        "raw_email": ["ap@bücher.de", None], "raw_phone": ["030 40765821", "020 7946 0000"],
        "raw_time_zone": [None, None], "country": ["de", "GB"], "customer_time_zone": [None, pd.NA],
    }, index=[7, 9])
    profiles = normalize_contacts(contacts, "UTC")
    assert list(profiles.index) == [7, 9]
    assert profiles.loc[7, "phone_e164"] == "+493040765821" and profiles.loc[9, "phone_e164"] == "+442079460000"
    assert profiles.loc[9, "email_problem"] == "no email address"
    assert list(profiles["time_zone"]) == ["Europe/Berlin", "Europe/London"]
