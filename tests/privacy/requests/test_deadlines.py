from datetime import date

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
    # Friday 20 Nov 2026 + 10 business days = Friday 4 Dec 2026.
    assert ccpa_acknowledge_by(date(2026, 11, 20)) == date(2026, 12, 4)
    # Saturday 21 Nov: the first business day counted is Monday → Friday 4 Dec.
    assert ccpa_acknowledge_by(date(2026, 11, 21)) == date(2026, 12, 4)
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
