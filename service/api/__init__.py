"""REST API, webhooks and the app factory."""
