import datetime as dt

import pytest
import time_machine
from allauth.usersessions.models import UserSession
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

AGENT = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def _session_row(client):
    return UserSession.objects.get(session_key=client.session.session_key)


def _usersession_queries(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "usersessions_usersession" in q["sql"]]


def test_a_signed_in_session_is_recorded_on_its_first_request(client, user):
    client.force_login(user)
    assert not UserSession.objects.filter(user=user).exists()
    assert client.get(reverse("dashboard"), HTTP_USER_AGENT=AGENT).status_code == 200
    row = _session_row(client)
    assert (row.user_id, row.user_agent) == (user.pk, AGENT)


def test_requests_within_the_interval_do_not_touch_the_session_row(client, user, settings):
    settings.USERSESSIONS_ACTIVITY_INTERVAL = 60
    client.force_login(user)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.get(reverse("dashboard"), HTTP_USER_AGENT=AGENT)
    seen = _session_row(client).last_seen_at
    later = time_machine.travel(start + dt.timedelta(seconds=30), tick=False)
    with later, CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("dashboard"), HTTP_USER_AGENT=AGENT).status_code == 200
    assert _usersession_queries(queries) == []
    assert _session_row(client).last_seen_at == seen
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        client.get(reverse("dashboard"), HTTP_USER_AGENT=AGENT)
    assert _session_row(client).last_seen_at == start + dt.timedelta(seconds=61)


def test_another_browser_on_the_same_session_is_recorded_at_once(client, user):
    client.force_login(user)
    client.get(reverse("dashboard"), HTTP_USER_AGENT=AGENT)
    client.get(reverse("dashboard"), HTTP_USER_AGENT="curl/8.5.0")
    assert _session_row(client).user_agent == "curl/8.5.0"


def test_another_address_on_the_same_session_is_recorded_at_once(client, user):
    client.force_login(user)
    client.get(reverse("dashboard"), HTTP_USER_AGENT=AGENT, REMOTE_ADDR="198.51.100.7")
    client.get(reverse("dashboard"), HTTP_USER_AGENT=AGENT, REMOTE_ADDR="203.0.113.9")
    assert _session_row(client).ip == "203.0.113.9"
