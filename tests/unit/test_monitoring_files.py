"""deploy/: the Prometheus scrape config, alert rules and Grafana dashboard name what the code exports.

promtool would check the rules' syntax too, but Debian's prometheus package (its only source here)
installs and starts a whole Prometheus server; these tests parse the files and check every metric
they use against the names the code defines.
"""

from __future__ import annotations

import json
import re

import yaml

from tests.support.processes import ROOT

DEPLOY = ROOT / "deploy"
METRIC = re.compile(r"\bpetapp_[a-z_]+\b")
DURATION = re.compile(r"^\d+[smhd]$")


def exported_names() -> set[str]:
    """Every series name the API and the consumers can expose (counters get `_total`, histograms
    `_bucket`, `_count` and `_sum`)."""
    names = set()
    for source in (ROOT / "pets" / "metrics.py", ROOT / "worker" / "metrics.py"):
        for base in re.findall(r'"(petapp_[a-z_]+)"', source.read_text()):
            names |= {base, f"{base}_total", f"{base}_bucket", f"{base}_count", f"{base}_sum"}
    return names


def test_alert_rules_are_well_formed_and_use_exported_metrics():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in alerts} >= {"PetQueueFallingBehind", "PetNoLiveConsumer", "PetDeadLettersGrowing"}
    for rule in alerts:
        assert rule["expr"].strip() and rule["annotations"]["summary"], rule["alert"]
        assert "for" not in rule or DURATION.match(rule["for"]), rule["alert"]
        unknown = set(METRIC.findall(rule["expr"])) - exported_names()
        assert not unknown, f"{rule['alert']} uses metrics nothing exports: {unknown}"


def test_scrape_config_targets_the_compose_services():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["pets-api"]["authorization"]["type"] == "Bearer"  # /metrics is not public
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    targets = [t for job in jobs.values() for c in job["static_configs"] for t in c["targets"]]
    for target in targets:
        assert target.split(":")[0] in compose["services"], target
    consumer_env = compose["services"]["consumer-1"]["environment"]
    assert all(
        t.endswith(f":{consumer_env['CONSUMER_METRICS_PORT']}")
        for t in jobs["pets-consumers"]["static_configs"][0]["targets"]
    )


def test_the_dashboard_uses_exported_metrics():
    dashboard = json.loads((DEPLOY / "grafana" / "pet-app.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert expressions
    for expression in expressions:
        unknown = set(METRIC.findall(expression)) - exported_names()
        assert not unknown, f"{expression} uses metrics nothing exports: {unknown}"
