"""docker-compose.yml and the Dockerfile agree with the CLI and the settings.

No Docker engine runs here, so this is what can be checked: the files parse, every
command they run exists in the `aftercare` CLI, and every environment name they set
is a real setting.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from service.cli import app as cli
from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
APP_SERVICES = ["migrate", "web", "worker"]
SETTING_NAMES = {name.upper() for name in Settings.model_fields}


def _command(service: str) -> list[str]:
    return COMPOSE["services"][service]["command"]


def test_compose_has_the_expected_services():
    assert {"postgres", "migrate", "web", "worker", "mailpit"} <= set(COMPOSE["services"])


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_app_service_runs_a_real_cli_command(service):
    command = _command(service)
    assert command[0] == "aftercare"
    result = CliRunner().invoke(cli, [*command[1:], "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_environment_name_is_a_setting(service):
    env = COMPOSE["services"][service]["environment"]
    unknown = set(env) - SETTING_NAMES
    assert not unknown, f"{service}: not settings: {sorted(unknown)}"


def test_the_database_url_points_at_the_compose_postgres():
    postgres = COMPOSE["services"]["postgres"]["environment"]
    url = COMPOSE["services"]["worker"]["environment"]["DATABASE_URL"]
    expected = (
        f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{postgres['POSTGRES_DB']}"
    )
    assert url == expected


def test_email_goes_to_mailpit():
    env = COMPOSE["services"]["worker"]["environment"]
    assert env["SMTP_HOST"] == "mailpit"
    assert env["EMAIL_PROVIDER"] == "smtp"


def test_the_dockerfile_runs_the_cli_and_copies_what_it_needs():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert cmd is not None
    args = yaml.safe_load(cmd.group(1))
    assert args[0] == "aftercare"
    assert CliRunner().invoke(cli, [*args[1:], "--help"]).exit_code == 0
    for line in re.findall(r"^COPY (.+)$", dockerfile, re.M):
        for copied in line.split()[:-1]:  # the last word is the destination
            assert (ROOT / copied).exists(), f"Dockerfile copies missing {copied}"
    assert "--frozen" in dockerfile  # builds from the lock file
