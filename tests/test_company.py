"""The company profile decides 'today' and business days, whatever the server clock's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from blocks.company import CompanyProfile


def test_today_is_the_companys_calendar_day():
    late_evening_in_chicago = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
    assert CompanyProfile(legal_name="N", time_zone="America/Chicago").today(late_evening_in_chicago) == date(2026, 11, 23)
    assert CompanyProfile(legal_name="N", time_zone="Asia/Tokyo").today(late_evening_in_chicago) == date(2026, 11, 24)


def test_business_days_and_holidays():
    profile = CompanyProfile(legal_name="N", business_days=["Mon", "tue", "wed", "thu", "fri"], holidays=[date(2026, 12, 25)])
    assert profile.is_business_day(date(2026, 11, 23))  # Monday
    assert not profile.is_business_day(date(2026, 11, 22))  # Sunday
    assert not profile.is_business_day(date(2026, 12, 25))


@pytest.mark.parametrize(
    "field, value, message",
    [("time_zone", "Mars/Olympus", "Mars/Olympus"), ("default_currency", "EURO", "ISO 4217"),
     ("business_days", ["someday"], "not weekdays")],
)
def test_bad_settings_are_refused_with_a_reason(field, value, message):
    with pytest.raises(ValidationError) as err:
        CompanyProfile(legal_name="N", **{field: value})
    assert message in str(err.value)


@pytest.mark.parametrize("code", ["BTC", "XXX", "ABC"])
def test_a_default_currency_arpilot_cannot_format_is_refused(code):
    with pytest.raises(ValidationError) as err:
        CompanyProfile(legal_name="N", default_currency=code)
    assert f"default_currency '{code}'" in str(err.value) and "ISO 4217" in str(err.value)
    assert CompanyProfile(legal_name="N", default_currency="eur").default_currency == "EUR"
