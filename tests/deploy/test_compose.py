"""The compose stack puts the tested nginx config in front of web, and trusts only it."""

import ipaddress
import re
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def test_the_proxy_runs_the_template_the_proxy_test_runs():
    mounts = dict(volume.rsplit(":", 1)[0].split(":", 1) for volume in SERVICES["proxy"]["volumes"])

    assert mounts["./nginx/console.conf.template"] == "/etc/nginx/templates/default.conf.template"
    assert (DEPLOY / "nginx" / "console.conf.template").is_file()


def test_the_proxy_fills_in_every_variable_of_the_template():
    template = (DEPLOY / "nginx" / "console.conf.template").read_text()
    names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template))

    assert names == set(SERVICES["proxy"]["environment"])
    assert SERVICES["proxy"]["environment"]["CONSOLE_UPSTREAM"] == "web:8000"


def test_web_trusts_the_proxys_address_and_nothing_else():
    proxy = ipaddress.ip_address(SERVICES["proxy"]["networks"]["default"]["ipv4_address"])
    web = SERVICES["web"]["environment"]
    trusted = [ipaddress.ip_network(entry) for entry in web["TRUSTED_PROXIES"].split(",")]
    subnet = ipaddress.ip_network(COMPOSE["networks"]["default"]["ipam"]["config"][0]["subnet"])
    dynamic = ipaddress.ip_network(COMPOSE["networks"]["default"]["ipam"]["config"][0]["ip_range"])

    assert trusted == [ipaddress.ip_network(f"{proxy}/32")]
    assert web["FORWARDED_ALLOW_IPS"] == str(proxy)
    assert proxy in subnet and proxy not in dynamic


def test_only_the_proxy_publishes_a_port():
    published = sorted(name for name, service in SERVICES.items() if service.get("ports"))

    assert published == ["proxy"]


def test_only_the_migration_connects_as_the_owner_of_the_tables():
    def user_of(service):
        url = SERVICES[service]["environment"]["DATABASE_URL"]
        return url.split("://", 1)[1].split(":", 1)[0]

    workers = [name for name in SERVICES if name.startswith("worker-")]
    assert workers
    assert {user_of(name) for name in ("web", "beat", *workers)} == {"console_app"}
    assert user_of("migrate") == SERVICES["postgres"]["environment"]["POSTGRES_USER"]
    assert "manage.py db_roles" in " ".join(SERVICES["migrate"]["command"])
    assert "console_app" in SERVICES["migrate"]["environment"]["APP_DATABASE_URL"]


def test_every_queue_has_a_worker_of_its_own():
    from django.conf import settings

    consumed = {}
    for name, service in SERVICES.items():
        command = service.get("command") or []
        if command[:4] != ["celery", "-A", "console", "worker"]:
            continue
        (queues,) = [arg.split("=", 1)[1] for arg in command if arg.startswith("--queues=")]
        for queue in queues.split(","):
            consumed.setdefault(queue, []).append(name)

    assert set(consumed) == set(settings.CELERY_TASK_QUEUES)
    assert all(len(services) == 1 for services in consumed.values())
    # The queue a person waits on is never shared with the long jobs.
    assert consumed["email"] != consumed["privacy-long"]


def test_postgres_is_built_with_pg_partman_for_its_major_version():
    postgres = SERVICES["postgres"]
    dockerfile = (DEPLOY / postgres["build"] / "Dockerfile").read_text()

    assert "FROM postgres:16\n" in dockerfile
    assert "postgresql-16-partman" in dockerfile
    assert postgres["image"].endswith(":16")
