"""The console behind a real nginx, configured from deploy/nginx/console.conf.template.

gunicorn (with deploy/gunicorn.conf.py and allauth's production rate limits) and nginx
run as child processes on loopback ports of their own; each is stopped by its PID.
Distinct clients connect from distinct loopback source addresses (127.0.0.2, .3, ...);
nginx reaches gunicorn from 127.0.0.1, the only trusted proxy (TRUSTED_PROXIES).
"""

from __future__ import annotations

import datetime
import http.client
import http.cookies
import ipaddress
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import connection

from accounts.audit import Action
from accounts.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD, UserFactory

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "console.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
START_TIMEOUT_SECONDS = 30
LOGIN = "/accounts/login/"

ATTACKER, VICTIM, BYSTANDER, DIRECT = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"

pytestmark = pytest.mark.django_db(transaction=True)


def render(template: str, values: dict[str, str]) -> str:
    """Fill in ${NAME} as the nginx image's envsubst does, leaving nginx's $variables."""
    names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template))
    assert names == set(values), f"template variables {sorted(names)}"
    return re.sub(r"\$\{([A-Z][A-Z0-9_]*)\}", lambda m: values[m.group(1)], template)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nothing listens on {port} after {START_TIMEOUT_SECONDS}s:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the child we started, by its PID."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "console proxy test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture(scope="module")
def workdir():
    # nginx's workers drop root to an unprivileged user: they must reach the temp dirs.
    directory = Path(tempfile.mkdtemp(prefix="console-proxy-test-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def gunicorn(django_db_setup, django_db_blocker, workdir):
    """gunicorn as in production, on the test database, trusting 127.0.0.1 as the proxy."""
    db = connection.settings_dict
    database_url = "postgres://{user}:{password}@{host}:{port}/{name}".format(
        user=urllib.parse.quote(db["USER"] or ""),
        password=urllib.parse.quote(db["PASSWORD"] or ""),
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        name=urllib.parse.quote(db["NAME"]),
    )
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.deploy.proxy_settings",
        DATABASE_URL=database_url,
        TRUSTED_PROXIES="127.0.0.1/32",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="4",
        FORWARDED_ALLOW_IPS="127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    log = workdir / "gunicorn.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, process, log)
        yield port
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def nginx(gunicorn, workdir):
    """nginx in the foreground with the deployed server config, on its own ports."""
    if not os.access(NGINX, os.X_OK):
        pytest.fail("The proxy test needs Debian's nginx (make test installs it).")
    cert, key = _self_signed_certificate(workdir)
    https_port, http_port = _free_port(), _free_port()
    server = render(
        TEMPLATE.read_text(),
        {
            "CONSOLE_UPSTREAM": f"127.0.0.1:{gunicorn}",
            "PROXY_HTTP_LISTEN": f"127.0.0.1:{http_port}",
            "PROXY_HTTPS_LISTEN": f"127.0.0.1:{https_port}",
            "PROXY_TLS_CERT": str(cert),
            "PROXY_TLS_KEY": str(key),
        },
    )
    (workdir / "console.conf").write_text(server)
    (workdir / "nginx.conf").write_text(
        f"""
daemon off;
master_process on;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {workdir}/nginx-access.log;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    include {workdir}/console.conf;
}}
"""
    )
    log = workdir / "nginx.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [NGINX, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e", str(log)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(https_port, process, log)
        yield Proxy(https_port=https_port, http_port=http_port, ca=cert)
    finally:
        _stop(process)


@dataclass(frozen=True)
class Proxy:
    https_port: int
    http_port: int
    ca: Path


@dataclass
class Browser:
    """A client with cookies, connecting from one loopback source address."""

    source: str
    port: int
    ca: Path | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method, path, *, form=None, headers=None):
        if self.ca is None:
            conn = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=20, source_address=(self.source, 0)
            )
            scheme = "http"
        else:
            context = ssl.create_default_context(cafile=str(self.ca))
            conn = http.client.HTTPSConnection(
                "127.0.0.1",
                self.port,
                timeout=20,
                source_address=(self.source, 0),
                context=context,
            )
            scheme = "https"
        sent = {"Origin": f"{scheme}://127.0.0.1:{self.port}", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent["X-CSRFToken"] = self.cookies.get("csrftoken", "")
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            content = response.read()
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in http.cookies.SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, content

    def sign_in(self, email, password, headers=None):
        self.request("GET", LOGIN, headers=headers)
        return self.request(
            "POST", LOGIN, form={"login": email, "password": password}, headers=headers
        )


def _locked_out(answer) -> bool:
    status, content = answer
    return status == 429 or b"Too many failed login attempts" in content


def _through_nginx(proxy: Proxy, source: str) -> Browser:
    return Browser(source=source, port=proxy.https_port, ca=proxy.ca)


def _fail(browser: Browser, attempt: int, headers=None):
    return browser.sign_in(f"nobody{attempt}@example.org", "wrong wrong wrong 1", headers)


def _audited(action) -> list[str]:
    return sorted(e.ip_address for e in AuditEvent.objects.filter(action=action))


def test_one_clients_failed_logins_do_not_lock_out_another(nginx):
    victim = UserFactory()
    attacker = _through_nginx(nginx, ATTACKER)

    answers = [_fail(attacker, attempt) for attempt in range(11)]

    assert [status for status, _ in answers[:10]] == [200] * 10
    assert not any(_locked_out(answer) for answer in answers[:10])
    assert _locked_out(answers[10])
    assert _through_nginx(nginx, VICTIM).sign_in(victim.email, DEFAULT_PASSWORD)[0] == 302


def test_audit_rows_record_each_real_client_not_the_proxy(nginx):
    user = UserFactory()

    _fail(_through_nginx(nginx, ATTACKER), 1)
    # What a client writes into X-Forwarded-For itself stays left of its real address.
    _fail(_through_nginx(nginx, BYSTANDER), 2, headers={"X-Forwarded-For": "203.0.113.9"})
    status, _ = _through_nginx(nginx, VICTIM).sign_in(user.email, DEFAULT_PASSWORD)

    assert status == 302
    assert _audited(Action.LOGIN_FAILED) == [ATTACKER, BYSTANDER]
    assert _audited(Action.LOGIN) == [VICTIM]


def test_a_spoofed_forwarded_for_sent_straight_to_gunicorn_is_ignored(nginx, gunicorn):
    direct = Browser(source=DIRECT, port=gunicorn)

    answers = [
        _fail(direct, attempt, headers={"X-Forwarded-For": f"203.0.113.{attempt}"})
        for attempt in range(11)
    ]

    assert _audited(Action.LOGIN_FAILED) == [DIRECT] * 10
    assert _locked_out(answers[10])
    # The lockout is the spoofer's own: a client behind the proxy still signs in.
    user = UserFactory()
    assert _through_nginx(nginx, VICTIM).sign_in(user.email, DEFAULT_PASSWORD)[0] == 302


def test_plain_http_to_the_proxy_is_redirected_to_https(nginx):
    status, _ = Browser(source=VICTIM, port=nginx.http_port).request("GET", LOGIN)

    assert status == 301


def test_the_template_passes_the_client_address_and_scheme():
    text = TEMPLATE.read_text()

    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in text
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text


def test_support_attachments_pass_the_proxy_and_other_large_bodies_do_not(nginx):
    browser = _through_nginx(nginx, VICTIM)
    browser.request("GET", LOGIN)
    body = {"message": "x" * (6 * 1024 * 1024)}  # 6 MB: three screenshots' worth

    support, _ = browser.request("POST", "/support/new/", form=body)
    elsewhere, _ = browser.request("POST", LOGIN, form=body)

    # Django answers the support page itself (sign-in first); nginx refuses the rest.
    assert support != 413
    assert elsewhere == 413
