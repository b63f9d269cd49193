"""docker-compose.yml and the Dockerfile agree with the CLI and the settings.

No Docker engine runs here, so this is what can be checked: the files parse, the
compose file is valid against the Compose Specification's schema once its variables are
interpolated (as `docker compose config` would), its secrets have no usable default,
every command they run exists in the `aftercare` CLI, and every environment name they
set is a real setting.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from service.cli import app as cli
from service.config import Settings
from tests.contracts.compose.interpolate import MissingVariable, interpolate

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
COMPOSE_SCHEMA = json.loads((ROOT / "tests/contracts/compose/compose-spec.json").read_text())
REQUIRED_SECRETS = {"SECRET_KEY", "EMAIL_INBOUND_SECRET", "POSTGRES_PASSWORD"}
SECRETS_SET = {name: "x" * 48 for name in REQUIRED_SECRETS}
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
    compose = interpolate(COMPOSE, SECRETS_SET)
    postgres = compose["services"]["postgres"]["environment"]
    url = compose["services"]["worker"]["environment"]["DATABASE_URL"]
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
        if line.startswith("--from="):  # from an earlier stage of the same file
            stage = line.split()[0].removeprefix("--from=")
            assert re.search(rf"^FROM \S+ AS {stage}$", dockerfile, re.M), line
            continue
        for copied in line.split()[:-1]:  # the last word is the destination
            assert (ROOT / copied).exists(), f"Dockerfile copies missing {copied}"
    assert "--frozen" in dockerfile  # builds from the lock file


def compose_errors(document: dict) -> list[str]:
    validator = jsonschema.validators.validator_for(COMPOSE_SCHEMA)(COMPOSE_SCHEMA)
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(document)]


def test_the_compose_file_is_valid_against_the_compose_specification():
    assert compose_errors(interpolate(COMPOSE, SECRETS_SET)) == []


def test_the_schema_check_rejects_a_broken_compose_file():
    # The negative control: proves the validator really reads the file.
    broken = copy.deepcopy(interpolate(COMPOSE, SECRETS_SET))
    broken["services"]["web"]["replicas"] = 3  # belongs under deploy:
    broken["services"]["worker"]["depends_on"] = {"migrate": {"condition": "eventually"}}
    errors = compose_errors(broken)
    assert any("$.services.web" in error and "replicas" in error for error in errors)
    assert any("$.services.worker.depends_on" in error for error in errors)


@pytest.mark.parametrize("name", sorted(REQUIRED_SECRETS))
def test_compose_refuses_to_start_until_each_secret_is_set(name):
    for value in (None, ""):
        env = {**SECRETS_SET}
        if value is None:
            del env[name]
        else:
            env[name] = value
        with pytest.raises(MissingVariable, match=name):
            interpolate(COMPOSE, env)
