"""Fakes that are product code: local stand-ins for providers, kept honest by contract tests."""
