"""What every dispatcher part shares inside one worker process (built once, passed in)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from service.channels.base import ChannelAdapter, load_adapter
from service.config import Settings
from service.db.types import utcnow
from service.dispatch.content import PlanCache
from service.dispatch.options import DispatchOptions
from service.domain import Channel
from service.logs import kv
from service.rendering import Renderer
from service.retry import RetryPolicy
from service.senders import Defaults
from service.unsubscribe import UnsubscribeLinks

log = logging.getLogger(__name__)
_FROM_SETTINGS = DispatchOptions()  # a marker, compared by identity


@dataclass
class DispatchContext:
    settings: Settings
    engine: Engine
    worker_id: str
    options: DispatchOptions = _FROM_SETTINGS  # not given: built from `settings`
    clock: Callable[[], datetime] = utcnow
    adapters: dict[Channel, ChannelAdapter] = field(default_factory=dict)
    plans: PlanCache = field(default_factory=PlanCache)
    renderer: Renderer | None = None
    policy: RetryPolicy | None = None
    unsubscribe: UnsubscribeLinks | None = None  # not given: built from `settings`
    defaults: Defaults | None = None  # the service's own senders; not given: from settings
    # Clock seconds per real second: 1 but under a scaled clock (a simulated day in a
    # benchmark), where a wait of d clock seconds is d / clock_rate real ones.
    clock_rate: float = 1.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _fence_engine: Engine | None = None

    def __post_init__(self) -> None:
        if self.options is _FROM_SETTINGS:
            self.options = DispatchOptions.from_settings(self.settings)
        if self.renderer is None:
            self.renderer = Renderer(self.settings.templates_dir)
        if self.policy is None:
            self.policy = self.options.retry_policy()
        if self.defaults is None:
            self.defaults = Defaults.from_settings(self.settings)
        if self.unsubscribe is None:
            self.unsubscribe = UnsubscribeLinks(
                self.settings.public_base_url, self.settings.secret_key.get_secret_value()
            )

    @property
    def fence_engine(self) -> Engine:
        """The engine for the sending threads' fences (`fence`): one statement each, so on
        PostgreSQL in autocommit (no BEGIN/COMMIT round trips); SQLite's engine already
        wraps each in its BEGIN IMMEDIATE."""
        if self._fence_engine is None:
            self._fence_engine = (
                self.engine
                if self.settings.is_sqlite
                else self.engine.execution_options(isolation_level="AUTOCOMMIT")
            )
        return self._fence_engine

    def warm_up(self) -> None:
        """Build every channel's adapter now (importing its provider SDK) so the first
        message due after start-up does not wait seconds for the import. A channel that
        cannot be built is only logged here: each send reports it with its message."""
        for channel in Channel:
            try:
                self.adapter(channel)
            except Exception:
                log.warning(kv("dispatch.adapter_unavailable", channel=channel), exc_info=True)

    def adapter(self, channel: Channel | str) -> ChannelAdapter:
        channel = Channel(channel)
        with self._lock:
            if channel not in self.adapters:
                self.adapters[channel] = load_adapter(self.settings, channel)
            return self.adapters[channel]

    @property
    def retry_policy(self) -> RetryPolicy:
        assert self.policy is not None
        return self.policy

    @property
    def sender_defaults(self) -> Defaults:
        assert self.defaults is not None
        return self.defaults

    def seconds_until(self, instant: datetime) -> float:
        """Real seconds from now until `instant` on this context's clock (may be < 0)."""
        return (instant - self.clock()).total_seconds() / self.clock_rate

    @property
    def templates(self) -> Renderer:
        assert self.renderer is not None
        return self.renderer
