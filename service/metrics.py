"""Prometheus metrics, defined once per process (the prometheus-client convention)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_SENT = Counter(
    "aftercare_messages_sent_total", "Messages accepted by a provider", ["channel"]
)
MESSAGES_FAILED = Counter(
    "aftercare_messages_failed_total", "Messages that failed permanently", ["channel"]
)
MESSAGES_RETRIED = Counter(
    "aftercare_messages_retried_total", "Transient failures scheduled for retry", ["channel"]
)
MESSAGES_SKIPPED = Counter(
    "aftercare_messages_skipped_total", "Messages skipped with a reason", ["reason"]
)
SEND_LATENESS = Histogram(
    "aftercare_send_lateness_seconds",
    "Seconds between a message's due time and its send",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
INBOUND_RECEIVED = Counter(
    "aftercare_inbound_total", "Inbound replies by triage label", ["channel", "label"]
)
ALERTS_OPENED = Counter("aftercare_alerts_opened_total", "Alerts opened", ["severity"])
DISPATCH_TICKS = Counter("aftercare_dispatch_ticks_total", "Dispatcher ticks run")
QUEUE_DEPTH = Gauge("aftercare_queue_depth", "Scheduled messages already due")
