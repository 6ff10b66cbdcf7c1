"""Legal deadlines for privacy requests.

GDPR (Art. 12(3)): one month from receipt, counted as data protection authorities count
it: the same date in the next month, or that month's last day when the date does not
exist there (31 January → 28/29 February); a deadline falling on a Saturday or Sunday
moves to the next working day. It can be extended by two further months when the
requester is told, with reasons, within the first month.

CCPA (Cal. Code Regs. tit. 11, § 7021): acknowledge within 10 business days; answer
within 45 calendar days, extendable once by another 45 with notice within the first 45.

A requester outside both picks "elsewhere", and the strictest of the two applies.

Days are counted in the jurisdiction's time zone, so a request sent on a Californian
evening (already tomorrow in UTC) starts on the Californian date: CCPA in
America/Los_Angeles; GDPR in Europe/Brussels, where the EU institutions sit (settings
PRIVACY_CCPA_TIME_ZONE and PRIVACY_GDPR_TIME_ZONE). Where a rule counts working or
business days, weekends and the public holidays of that place (the `holidays` library:
California's for CCPA, Belgium's for GDPR by default; PRIVACY_CCPA_HOLIDAYS and
PRIVACY_GDPR_HOLIDAYS as "country" or "country-subdivision") are not working days.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.db import models
from django.utils import timezone


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


def _setting(name: str, default: str) -> str:
    return getattr(settings, name, None) or default


def gdpr_zone() -> ZoneInfo:
    return ZoneInfo(_setting("PRIVACY_GDPR_TIME_ZONE", "Europe/Brussels"))


def ccpa_zone() -> ZoneInfo:
    return ZoneInfo(_setting("PRIVACY_CCPA_TIME_ZONE", "America/Los_Angeles"))


@functools.cache
def _holidays(place: str):
    country, _, subdivision = place.partition("-")
    return holidays.country_holidays(country, subdiv=subdivision or None)


def gdpr_holidays():
    return _holidays(_setting("PRIVACY_GDPR_HOLIDAYS", "BE"))


def ccpa_holidays():
    return _holidays(_setting("PRIVACY_CCPA_HOLIDAYS", "US-CA"))


def _working(day: date, public_holidays) -> bool:
    return day.weekday() < 5 and (public_holidays is None or day not in public_holidays)


def next_working_day(day: date, public_holidays=None) -> date:
    """`day` itself on a working day; else the next one (weekends and the holidays given
    are not working days)."""
    while not _working(day, public_holidays):
        day += timedelta(days=1)
    return day


def add_business_days(start: date, days: int, public_holidays=None) -> date:
    day = start
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if _working(day, public_holidays):
            remaining -= 1
    return day


def local_date(moment: datetime | date, zone: ZoneInfo) -> date:
    """The calendar date of `moment` in `zone` (a date is taken as already local)."""
    if isinstance(moment, datetime):
        if timezone.is_naive(moment):
            raise ValueError("A moment needs a time zone.")
        return moment.astimezone(zone).date()
    return moment


def gdpr_due(received: date, *, extended: bool = False) -> date:
    months = 1 + (GDPR_EXTENSION_MONTHS if extended else 0)
    return next_working_day(add_months(received, months), gdpr_holidays())


def ccpa_due(received: date, *, extended: bool = False) -> date:
    days = CCPA_ANSWER_DAYS + (CCPA_EXTENSION_DAYS if extended else 0)
    return received + timedelta(days=days)


def ccpa_acknowledge_by(received: date) -> date:
    return add_business_days(received, CCPA_ACK_BUSINESS_DAYS, ccpa_holidays())


@dataclass(frozen=True)
class Deadlines:
    acknowledge_by: date | None
    due: date
    extended_due: date
    # The last day on which the requester may be told of an extension.
    extension_notice_by: date


def deadlines_for(*, jurisdiction: str, received: datetime | date) -> Deadlines:
    """Return the deadlines that apply to a request received at `received`.

    Give the moment of receipt (aware): each rule counts from its own local date. A
    plain date is taken as already the local date of every rule that applies.
    """
    if jurisdiction == Jurisdiction.EEA_UK:
        day = local_date(received, gdpr_zone())
        due = gdpr_due(day)
        return Deadlines(None, due, gdpr_due(day, extended=True), due)
    if jurisdiction == Jurisdiction.CALIFORNIA:
        day = local_date(received, ccpa_zone())
        due = ccpa_due(day)
        return Deadlines(ccpa_acknowledge_by(day), due, ccpa_due(day, extended=True), due)
    if jurisdiction == Jurisdiction.ELSEWHERE:
        eu_day = local_date(received, gdpr_zone())
        ca_day = local_date(received, ccpa_zone())
        due = min(gdpr_due(eu_day), ccpa_due(ca_day))
        extended_due = min(gdpr_due(eu_day, extended=True), ccpa_due(ca_day, extended=True))
        return Deadlines(ccpa_acknowledge_by(ca_day), due, extended_due, due)
    raise ValueError(f"Unknown jurisdiction {jurisdiction!r}")


def today_for(jurisdiction: str, *, now: datetime | None = None) -> date:
    """Today's date where the rule is counted (for "elsewhere", the zone furthest ahead
    of the two, which is the stricter one for "has the date passed")."""
    now = now or timezone.now()
    if jurisdiction == Jurisdiction.CALIFORNIA:
        return local_date(now, ccpa_zone())
    if jurisdiction == Jurisdiction.EEA_UK:
        return local_date(now, gdpr_zone())
    return max(local_date(now, gdpr_zone()), local_date(now, ccpa_zone()))
