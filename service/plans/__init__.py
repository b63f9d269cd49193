"""Aftercare plans: data model, loading, catalog, pinning and linting."""
