"""The production access log: what gunicorn would print for a request."""

import datetime
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

CONF = runpy.run_path(str(Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"))
TOKEN = "Zm9vYmFyYmF6cXV4LXNlY3JldC10b2tlbi0xMjM0NTY3OA"


def _access_line(path: str, query: str = "", headers: tuple = ()) -> str:
    cfg = Config()
    for name in ("access_log_format", "forwarded_allow_ips", "workers"):
        cfg.set(name, CONF[name])
    logger = CONF["logger_class"](cfg)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?{query}" if query else path,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_USER_AGENT": "pytest",
        **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers},
    }
    resp = SimpleNamespace(status="200 OK", sent=12, headers=[("Set-Cookie", "sessionid=s3")])
    req = SimpleNamespace(headers=list(headers))
    atoms = logger.atoms(resp, req, environ, datetime.timedelta(milliseconds=5))
    return CONF["access_log_format"] % logger.atoms_wrapper_class(atoms)


def test_access_log_records_method_path_status_and_duration():
    line = _access_line("/api/v1/workspaces/")

    assert '"GET /api/v1/workspaces/ HTTP/1.1" 200 12 5ms "pytest"' in line
    assert line.startswith("10.0.0.7 ")


def test_access_log_leaves_out_the_query_string():
    line = _access_line("/accounts/login/", query="next=/x&token=abc123secret")

    assert "abc123secret" not in line
    assert "next=" not in line


def test_access_log_blanks_tokens_in_the_path_but_keeps_uuids():
    workspace = "0b6c3c8e-6d3a-4c7e-9a57-0f4d7c2d1e90"

    line = _access_line(f"/invitations/{TOKEN}/ws/{workspace}/")

    assert TOKEN not in line
    assert f"/invitations/[redacted]/ws/{workspace}/" in line


@pytest.mark.parametrize("fmt", ["%(r)s", "%(q)s", "%({authorization}i)s", "%(u)s", "%(f)s"])
def test_access_log_never_shows_credentials_even_if_the_format_asks(fmt):
    cfg_format = CONF["access_log_format"]
    headers = (("Authorization", "Basic dXNlcjpodW50ZXIy"), ("Referer", "https://x/?t=leak"))
    try:
        CONF["access_log_format"] = fmt
        line = _access_line("/a/", query="t=leak", headers=headers)
    finally:
        CONF["access_log_format"] = cfg_format

    assert "dXNlcjpodW50ZXIy" not in line
    assert "leak" not in line


def test_workers_and_forwarded_ips_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "7")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.1")

    conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"))

    assert conf["workers"] == 7
    assert conf["forwarded_allow_ips"] == "10.0.0.1"
