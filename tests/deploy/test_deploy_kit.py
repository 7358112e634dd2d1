"""The operator's kit in deploy/: alert rules (promtool), the Grafana dashboard against the metrics
the service really exports, and systemd units that run what the Procfile runs."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess

import pytest

from service import vault_keys
from service.sites import registry
from service.storage import redis_client
from tests import signing
from tests.processes import ROOT

DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
#: Labels Prometheus itself adds to every scraped series, and series that are not ours.
SCRAPE_LABELS = {"instance", "job", "le"}
NOT_OURS = {"up"}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing (Debian's package prometheus; .ci/run installs it)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


def test_alert_rules_are_valid_and_pass_their_unit_tests():
    tool = promtool()
    checked = subprocess.run(
        [tool, "check", "rules", "meetbridge-alerts.yml"], cwd=PROMETHEUS, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [tool, "test", "rules", "meetbridge-alerts.test.yml"], cwd=PROMETHEUS, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_unit_test():
    import yaml

    rules = yaml.safe_load((PROMETHEUS / "meetbridge-alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((PROMETHEUS / "meetbridge-alerts.test.yml").read_text())
    firing = {
        case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"] if case["exp_alerts"]
    }
    assert alerts == firing


@pytest.fixture
def exported(app, client):
    """Every series name and its label names on /metrics, after an event and an error went through."""
    with app.app_context():
        site = registry.create(redis_client.get(), vault_keys.get(), "Shop", "https://shop.example.com")
    body = signing.body_of(signing.event())
    path = f"/v1/sites/{site['site_id']}/events"
    assert client.post(path, data=body, headers=signing.headers(site["secret"], body)).status_code == 202
    client.post(path, data=b"{}", headers={"Content-Type": "application/json"})  # 401
    text = client.get("/metrics").get_data(as_text=True)
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ", line)
        if match:
            labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', match.group(3) or ""))
            found.setdefault(match.group(1), set()).update(labels)
    return found, text


def selectors(expression: str) -> list[tuple[str, set[str]]]:
    """(metric, label names) of every series selector in a PromQL expression."""
    found = []
    for match in re.finditer(r"\b([a-z_][a-z0-9_]*)\s*(\{([^}]*)\})?", expression):
        name = match.group(1)
        if name.startswith("meetbridge_") or name in NOT_OURS:
            found.append(
                (name, set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!=|!~|=)", match.group(3) or "")))
            )
    return found


def grouping_labels(expression: str) -> set[str]:
    return {
        label.strip()
        for group in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expression)
        for label in group.split(",")
        if label.strip()
    }


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "meetbridge.json").read_text())
    assert dashboard["uid"] == "meetbridge" and dashboard["panels"]
    expressions = []
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        expressions += [target["expr"] for target in panel["targets"]]
    return expressions


def alert_expressions() -> list[str]:
    import yaml

    rules = yaml.safe_load((PROMETHEUS / "meetbridge-alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_dashboard_and_alerts_use_only_metrics_and_labels_the_service_exports(exported, source):
    series, text = exported
    expressions = dashboard_expressions() if source == "dashboard" else alert_expressions()
    used = set()
    for expression in expressions:
        for name, labels in selectors(expression):
            if name in NOT_OURS:
                continue
            used.add(name)
            assert name in series, f"{name} (in {expression!r}) is not on /metrics"
            assert labels <= series[name] | SCRAPE_LABELS, f"{name} has no label {labels - series[name]}"
        ours = {label for name, _ in selectors(expression) if name not in NOT_OURS for label in series[name]}
        assert grouping_labels(expression) <= ours | SCRAPE_LABELS, expression
    assert 'endpoint="/v1/sites/<site_id>/events"' in text  # the intake's label, as the dashboard names it
    if source == "dashboard":  # every family the service exports has a panel
        families = {
            re.sub(r"_(bucket|sum|count|created|total)$", "", name)
            for name in series
            if name.startswith("meetbridge_")
        }
        shown = {re.sub(r"_(bucket|sum|count|created|total)$", "", name) for name in used}
        assert families <= shown, families - shown


UNITS = DEPLOY / "systemd"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNITS / name)
    return parser


@pytest.mark.parametrize("process", ["web", "worker", "cron"])
def test_systemd_units_run_the_procfile_processes_as_their_own_redis_user(process):
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )
    service = unit(f"meetbridge-{process}.service")["Service"]
    assert service["ExecStart"].removeprefix("/opt/meetbridge/.venv/bin/") == procfile[process]
    assert service["Restart"] == "always" and service["User"] == "meetbridge"
    text = (UNITS / f"meetbridge-{process}.service").read_text()
    assert f"EnvironmentFile=/etc/meetbridge/{process}.env" in text  # REDIS_USERNAME=meetbridge-{process}
    assert f"user meetbridge-{process} " in (DEPLOY / "redis" / "users.acl").read_text()


def test_backup_timers_start_the_backup_commands():
    for name in ("meetbridge-backup", "meetbridge-backup-ids"):
        assert unit(f"{name}.timer")["Timer"]
        command = unit(f"{name}.service")["Service"]["ExecStart"]
        assert command.startswith("/opt/meetbridge/.venv/bin/flask --app service backup ")
