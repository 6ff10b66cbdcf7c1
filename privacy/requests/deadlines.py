"""Legal deadlines for privacy requests.

GDPR (Art. 12(3)): one month from receipt, counted as data protection authorities count
it: the same date in the next month, or that month's last day when the date does not
exist there (31 January → 28/29 February); a deadline falling on a Saturday or Sunday
moves to the next working day. It can be extended by two further months when the
requester is told, with reasons, within the first month.

CCPA (Cal. Code Regs. tit. 11, § 7021): acknowledge within 10 business days; answer
within 45 calendar days, extendable once by another 45 with notice within the first 45.

A requester outside both picks "elsewhere", and the strictest of the two applies.
Public holidays are not counted as non-working days; only weekends are.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import models


class Jurisdiction(models.TextChoices):
    EEA_UK = "eea_uk", "EEA or United Kingdom (GDPR)"
    CALIFORNIA = "california", "California (CCPA)"
    ELSEWHERE = "elsewhere", "Elsewhere"


CCPA_ACK_BUSINESS_DAYS = 10
CCPA_ANSWER_DAYS = 45
CCPA_EXTENSION_DAYS = 45
GDPR_EXTENSION_MONTHS = 2


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the last day of a shorter month."""
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(start.day, last_day))


def next_working_day(day: date) -> date:
    """`day` itself on a weekday; the following Monday on a Saturday or Sunday."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def add_business_days(start: date, days: int) -> date:
    day = start
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    return day


def gdpr_due(received: date, *, extended: bool = False) -> date:
    months = 1 + (GDPR_EXTENSION_MONTHS if extended else 0)
    return next_working_day(add_months(received, months))


def ccpa_due(received: date, *, extended: bool = False) -> date:
    days = CCPA_ANSWER_DAYS + (CCPA_EXTENSION_DAYS if extended else 0)
    return received + timedelta(days=days)


def ccpa_acknowledge_by(received: date) -> date:
    return add_business_days(received, CCPA_ACK_BUSINESS_DAYS)


@dataclass(frozen=True)
class Deadlines:
    acknowledge_by: date | None
    due: date
    extended_due: date
    # The last day on which the requester may be told of an extension.
    extension_notice_by: date


def deadlines_for(*, jurisdiction: str, received: date) -> Deadlines:
    """Return the deadlines that apply to a request received on `received`."""
    if jurisdiction == Jurisdiction.EEA_UK:
        due = gdpr_due(received)
        return Deadlines(None, due, gdpr_due(received, extended=True), due)
    if jurisdiction == Jurisdiction.CALIFORNIA:
        due = ccpa_due(received)
        return Deadlines(ccpa_acknowledge_by(received), due, ccpa_due(received, extended=True), due)
    if jurisdiction == Jurisdiction.ELSEWHERE:
        due = min(gdpr_due(received), ccpa_due(received))
        extended_due = min(gdpr_due(received, extended=True), ccpa_due(received, extended=True))
        return Deadlines(ccpa_acknowledge_by(received), due, extended_due, due)
    raise ValueError(f"Unknown jurisdiction {jurisdiction!r}")
