"""`aftercare worker`: the scheduler and dispatcher without the web server.

Run N of them against PostgreSQL; they share the queue through row locks. SIGTERM (or
Ctrl-C) stops claiming, lets in-flight sends finish and releases the rest.
"""

from __future__ import annotations

from service.cli.common import announce_database, ready_database, settings


def worker() -> None:
    """Scheduler and dispatcher only (run several of them against PostgreSQL)."""
    from service.logs import configure_logging
    from service.worker import run_worker

    config = settings()
    configure_logging(config.log_level, json_output=config.log_json)
    announce_database(config)
    ready_database(config)
    run_worker(config)
