"""Production refuses weak secrets and a plain-http public URL at start-up, naming them."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

import pytest

from service.config import SettingsError, load_settings
from service.secret_strength import weakness

ROOT = Path(__file__).resolve().parents[2]
STRONG = "Yq3vF0aZ7cT9mK2pW8xR4nB6dH1sJ5gL0eU3iO7yA2w"  # 43 characters, like token_urlsafe(32)
WEAK = [
    "",
    "a",
    "changeme",
    "change-me",
    "change-me-in-production",
    "dev-only-secret-change-me",
    "a" * 64,
    "abcd" * 12,
    "0123456789abcdef0123456789abcdef",
    "12345678901234567890123456789012",
    "my-super-secret-key-for-production-use-1",  # a placeholder word
    "Zz" * 20,
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
]


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("SECRET_KEY", "SECRET_KEY_FILE", "EMAIL_INBOUND_SECRET", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://aftercare.clinic.example")
    monkeypatch.setenv("SECRET_KEY", STRONG)
    return monkeypatch


def test_a_strong_configuration_starts(production):
    settings = load_settings(_env_file=None)
    assert settings.environment == "production"


@pytest.mark.parametrize("value", WEAK)
def test_a_weak_secret_key_is_refused_naming_the_setting(production, value):
    production.setenv("SECRET_KEY", value)
    with pytest.raises(SettingsError, match="SECRET_KEY") as refused:
        load_settings(_env_file=None)
    if len(value) >= 8:
        assert value not in str(refused.value).replace("SECRET_KEY", "")  # never echoed


def test_a_missing_secret_key_is_refused(production):
    production.delenv("SECRET_KEY")
    with pytest.raises(SettingsError, match="SECRET_KEY is missing"):
        load_settings(_env_file=None)


@pytest.mark.parametrize(
    ("content", "named"),
    [("\n", "SECRET_KEY_FILE: .* is empty"), ("a\n", "SECRET_KEY is too short")],
)
def test_an_empty_or_weak_secret_key_file_is_refused(production, tmp_path, content, named):
    production.delenv("SECRET_KEY")
    path = tmp_path / "secret_key"
    path.write_text(content)
    production.setenv("SECRET_KEY_FILE", str(path))
    with pytest.raises(SettingsError, match=named):
        load_settings(_env_file=None)


@pytest.mark.parametrize("value", ["change-me", "x", "inbound-secret-0123456789", "b" * 40])
def test_a_weak_inbound_email_secret_is_refused(production, value):
    production.setenv("EMAIL_INBOUND_SECRET", value)
    with pytest.raises(SettingsError, match="EMAIL_INBOUND_SECRET"):
        load_settings(_env_file=None)


def test_a_weak_twilio_token_is_refused_when_twilio_sends(production):
    production.setenv("SMS_PROVIDER", "twilio")
    production.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    production.setenv("TWILIO_FROM", "+15005550006")
    production.setenv("TWILIO_AUTH_TOKEN", "secret")
    with pytest.raises(SettingsError, match="TWILIO_AUTH_TOKEN"):
        load_settings(_env_file=None)
    production.setenv("TWILIO_AUTH_TOKEN", secrets.token_hex(16))  # a real token's shape
    assert load_settings(_env_file=None).sms_provider == "twilio"


def test_production_refuses_a_plain_http_public_url(production):
    production.setenv("PUBLIC_BASE_URL", "http://aftercare.clinic.example")
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
        load_settings(_env_file=None)


def test_every_problem_is_named_at_once(production):
    production.setenv("SECRET_KEY", "a")
    production.setenv("EMAIL_INBOUND_SECRET", "change-me")
    production.setenv("PUBLIC_BASE_URL", "http://aftercare.clinic.example")
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None)
    for name in ("SECRET_KEY", "EMAIL_INBOUND_SECRET", "PUBLIC_BASE_URL"):
        assert name in str(refused.value)


def test_development_still_starts_with_the_development_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "development")
    assert load_settings(_env_file=None).secret_key.get_secret_value()


def test_a_run_of_six_in_a_random_token_is_chance_not_a_pattern():
    # CI drew this Twilio-style token: "876543" is a run of six, a quarter of 32 is eight
    assert weakness("df373f8c8765430390227b38439794c9") is None
    assert weakness("abcdefghijklmnopqrstuvwxyz0123456789!?") is not None


def test_generated_secrets_always_pass():
    for _ in range(5000):
        assert weakness(secrets.token_urlsafe(48)) is None
        assert weakness(secrets.token_urlsafe(32)) is None
        assert weakness(secrets.token_hex(16)) is None  # Twilio auth tokens: 32 hex digits


_ASSIGNED = re.compile(
    r"(?i)(?:secret|auth_token)\w*[\"']?\s*[:=]\s*(?:SecretStr\()?[\"']([^\"'$]+)[\"']"
)


def test_every_secret_written_in_the_repository_is_refused():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    found = set()
    for name in tracked:
        path = ROOT / name
        if path.suffix not in (".py", ".md", ".yml", ".yaml", ".env", ".example", ".toml", ""):
            continue
        if not path.is_file():
            continue
        found |= set(_ASSIGNED.findall(path.read_text(errors="replace")))
    assert "test-secret-key-0123456789" in found  # the scan sees the test settings
    accepted = sorted(value for value in found if weakness(value) is None)
    assert accepted == []
