from datetime import date, timedelta

import pytest

from privacy.requests.deadlines import (
    Jurisdiction,
    add_business_days,
    add_months,
    ccpa_acknowledge_by,
    ccpa_due,
    deadlines_for,
    gdpr_due,
    next_working_day,
)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # no 31 February: last day
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 12, 31), 1, date(2027, 1, 31)),  # across the year end
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),
    ],
)
def test_add_months_keeps_the_day_or_clamps_to_month_end(start, months, expected):
    assert add_months(start, months) == expected


def test_next_working_day_moves_weekends_to_monday():
    assert next_working_day(date(2026, 11, 20)) == date(2026, 11, 20)  # Friday
    assert next_working_day(date(2026, 11, 21)) == date(2026, 11, 23)  # Saturday
    assert next_working_day(date(2026, 11, 22)) == date(2026, 11, 23)  # Sunday


def test_gdpr_due_is_one_month_moved_off_the_weekend():
    # 22 Nov 2026 + 1 month = 22 Dec 2026, a Tuesday.
    assert gdpr_due(date(2026, 11, 22)) == date(2026, 12, 22)
    # 30 Jan 2027 → 28 Feb 2027 (no 30 Feb), a Sunday → Monday 1 March.
    assert gdpr_due(date(2027, 1, 30)) == date(2027, 3, 1)
    # 31 Jan 2028 → 29 Feb 2028 (leap year), a Tuesday.
    assert gdpr_due(date(2028, 1, 31)) == date(2028, 2, 29)
    # 31 Oct 2026 → 30 Nov 2026, a Monday.
    assert gdpr_due(date(2026, 10, 31)) == date(2026, 11, 30)
    # 8 Feb 2026 → 8 Mar 2026, a Sunday → Monday 9 March.
    assert gdpr_due(date(2026, 2, 8)) == date(2026, 3, 9)


def test_gdpr_extension_adds_two_further_months():
    # 30 Nov 2026 + 3 months = 28 Feb 2027 (Sunday) → 1 March 2027.
    assert gdpr_due(date(2026, 11, 30), extended=True) == date(2027, 3, 1)
    assert gdpr_due(date(2027, 11, 30), extended=True) == date(2028, 2, 29)


def test_ccpa_acknowledgement_counts_business_days():
    # Friday 20 Nov 2026 + 10 business days, skipping Thanksgiving and the day after
    # (26 and 27 Nov, California state holidays) = Tuesday 8 Dec 2026.
    assert ccpa_acknowledge_by(date(2026, 11, 20)) == date(2026, 12, 8)
    # Saturday 21 Nov: the first business day counted is Monday → Tuesday 8 Dec too.
    assert ccpa_acknowledge_by(date(2026, 11, 21)) == date(2026, 12, 8)
    assert add_business_days(date(2026, 11, 23), 5) == date(2026, 11, 30)


def test_ccpa_answer_is_45_calendar_days_extendable_once_by_45():
    assert ccpa_due(date(2026, 1, 1)) == date(2026, 2, 15)
    assert ccpa_due(date(2028, 2, 1)) == date(2028, 3, 17)  # leap February counts 29 days
    assert ccpa_due(date(2026, 1, 1), extended=True) == date(2026, 4, 1)


def test_elsewhere_applies_the_strictest_rule():
    received = date(2026, 11, 22)
    elsewhere = deadlines_for(jurisdiction=Jurisdiction.ELSEWHERE, received=received)
    assert elsewhere.due == min(gdpr_due(received), ccpa_due(received)) == date(2026, 12, 22)
    assert elsewhere.acknowledge_by == ccpa_acknowledge_by(received)
    assert elsewhere.extended_due == min(
        gdpr_due(received, extended=True), ccpa_due(received, extended=True)
    )


def test_jurisdiction_deadlines():
    received = date(2026, 11, 22)
    eu = deadlines_for(jurisdiction=Jurisdiction.EEA_UK, received=received)
    assert eu.acknowledge_by is None
    assert eu.due == date(2026, 12, 22)
    assert eu.extension_notice_by == eu.due
    ca = deadlines_for(jurisdiction=Jurisdiction.CALIFORNIA, received=received)
    assert ca.due == date(2027, 1, 6)
    assert ca.extended_due == date(2027, 2, 20)


def test_unknown_jurisdiction_is_refused():
    with pytest.raises(ValueError, match="Unknown jurisdiction"):
        deadlines_for(jurisdiction="mars", received=date(2026, 1, 1))


# ---------------------------------------------------------------------------- local dates


def test_a_californian_evening_request_counts_from_the_californian_date():
    from datetime import UTC, datetime

    from privacy.requests.deadlines import Jurisdiction, deadlines_for

    # 20:00 in Los Angeles on 3 March 2025 is already 4 March in UTC.
    evening = datetime(2025, 3, 4, 4, 0, tzinfo=UTC)
    deadlines = deadlines_for(jurisdiction=Jurisdiction.CALIFORNIA, received=evening)
    assert deadlines.due == date(2025, 3, 3) + timedelta(days=45)


def test_a_late_evening_gdpr_request_counts_from_the_brussels_date():
    from datetime import UTC, datetime

    from privacy.requests.deadlines import Jurisdiction, deadlines_for

    # 23:30 UTC on 14 January 2025 is 00:30 on the 15th in Brussels: due 15 February,
    # a Saturday, so Monday 17 February.
    late = datetime(2025, 1, 14, 23, 30, tzinfo=UTC)
    deadlines = deadlines_for(jurisdiction=Jurisdiction.EEA_UK, received=late)
    assert deadlines.due == date(2025, 2, 17)


def test_ccpa_business_days_skip_californian_public_holidays():
    from privacy.requests.deadlines import ccpa_acknowledge_by

    # From Monday 24 November 2025: Thanksgiving (27th) and the day after (28th) are
    # California state holidays, so ten business days end on 10 December, not the 8th.
    assert ccpa_acknowledge_by(date(2025, 11, 24)) == date(2025, 12, 10)


def test_a_gdpr_deadline_on_a_public_holiday_moves_to_the_next_working_day():
    from privacy.requests.deadlines import gdpr_due

    # Received 21 June 2025: one month is Monday 21 July, Belgium's national day.
    assert gdpr_due(date(2025, 6, 21)) == date(2025, 7, 22)


def test_the_time_zones_and_holidays_follow_the_settings(settings):
    from datetime import UTC, datetime

    from privacy.requests.deadlines import Jurisdiction, deadlines_for

    settings.PRIVACY_GDPR_TIME_ZONE = "Europe/Dublin"
    settings.PRIVACY_GDPR_HOLIDAYS = "IE"
    # 23:30 UTC on 14 January is still the 14th in Dublin (GMT): due Friday 14 February.
    late = datetime(2025, 1, 14, 23, 30, tzinfo=UTC)
    assert deadlines_for(jurisdiction=Jurisdiction.EEA_UK, received=late).due == date(2025, 2, 14)
    # 17 March (St Patrick's Day) is a holiday in Ireland: a deadline then moves on.
    received = datetime(2025, 2, 17, 12, 0, tzinfo=UTC)
    assert deadlines_for(jurisdiction=Jurisdiction.EEA_UK, received=received).due == date(
        2025, 3, 18
    )


def test_a_naive_moment_is_refused():
    from datetime import datetime

    from privacy.requests.deadlines import Jurisdiction, deadlines_for

    with pytest.raises(ValueError):
        deadlines_for(jurisdiction=Jurisdiction.CALIFORNIA, received=datetime(2025, 3, 4, 4, 0))
