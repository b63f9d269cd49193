"""Settings are validated at start-up with a message naming the setting."""

from __future__ import annotations

import pytest

from service.config import SettingsError, load_settings


def test_the_embedded_default_needs_no_configuration(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings(_env_file=None)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.sms_provider == "console"
    assert settings.email_provider == "console"


def test_a_bad_value_names_the_setting(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings()


def test_twilio_without_credentials_is_refused(monkeypatch):
    monkeypatch.setenv("SMS_PROVIDER", "twilio")
    with pytest.raises(SettingsError, match="TWILIO_ACCOUNT_SID"):
        load_settings()


def test_twilio_needs_a_sender(monkeypatch):
    monkeypatch.setenv("SMS_PROVIDER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret")
    with pytest.raises(SettingsError, match="TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID"):
        load_settings()


def test_a_sender_number_must_be_e164(monkeypatch):
    monkeypatch.setenv("TWILIO_FROM", "555-0100")
    with pytest.raises(SettingsError, match="TWILIO_FROM"):
        load_settings()


def test_production_refuses_the_development_secret(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        load_settings(_env_file=None)


def test_plain_postgresql_urls_use_the_shipped_driver(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db:5432/aftercare")
    assert load_settings().database_url == "postgresql+psycopg://app@db:5432/aftercare"


def test_secrets_can_come_from_files(monkeypatch, tmp_path):
    secret = tmp_path / "token"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_FILE", str(secret))
    settings = load_settings()
    assert settings.twilio_auth_token is not None
    assert settings.twilio_auth_token.get_secret_value() == "from-a-file"
