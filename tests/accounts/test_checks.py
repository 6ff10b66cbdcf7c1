"""Deployment checks: production refuses an email backend that would log its mail."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks.registry import registry

from accounts.checks import check_email_backend

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "console.settings.production",
    "SECRET_KEY": "check-only-" + "s" * 60,
    "ALLOWED_HOSTS": "console.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://console.example.com",
    "SITE_URL": "https://console.example.com",
    "ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
    "AUDIT_CHAIN_KEYS": "a1:" + "C" * 43 + "=",
    "API_KEY_PEPPERS": "p1:" + "B" * 43 + "=",
    "GATEWAY_TOKENS": "check-only-gateway-token",
    "REDIS_URL": "redis://127.0.0.1:6379/13",
}


def _check_deploy(**overrides) -> subprocess.CompletedProcess:
    # A clean environment, as a server has: other tests may export settings of their own
    # (DJANGO_ALLOW_ASYNC_UNSAFE, for one), which check --deploy rightly refuses.
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env.update(PRODUCTION)
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_fails_on_the_console_email_backend_in_production():
    result = _check_deploy(EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend")

    assert result.returncode != 0
    assert "accounts.E010" in result.stderr
    assert "one-time links" in result.stderr


@pytest.mark.parametrize("backend", ["filebased", "locmem", "dummy"])
def test_the_check_refuses_every_backend_that_does_not_deliver(settings, backend):
    settings.EMAIL_BACKEND = f"django.core.mail.backends.{backend}.EmailBackend"

    errors = check_email_backend(None)

    assert [error.id for error in errors] == ["accounts.E010"]


def test_the_check_only_runs_with_deploy():
    assert check_email_backend in registry.get_checks(include_deployment_checks=True)
    assert check_email_backend not in registry.get_checks(include_deployment_checks=False)


def test_check_deploy_passes_with_smtp():
    result = _check_deploy(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend")

    assert result.returncode == 0, result.stderr
    assert "accounts.E010" not in result.stderr


def test_production_settings_refuse_to_load_without_an_email_backend():
    result = _check_deploy()

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "EMAIL_BACKEND" in result.stderr
