"""The twilio SDK's HTTP client, on urllib3: what every Twilio request goes through.

The SDK builds each request (URL, form, headers, auth) and parses each answer; this
client only carries them. The SDK's own client goes through requests, whose work per
request (preparing it, merging session and environment settings, wrapping the answer)
was more than half of a send's CPU in the worker (BENCHMARKS.md, Dispatch).

- A timeout on every request: the SDK sets none, and a hung connection would block a
  sending thread forever.
- TWILIO_API_BASE_URL points the real SDK at a local server (the fake, or Prism) by
  rewriting the scheme and host of each request.
- The environment is read once, at start-up, as requests reads it on every request:
  HTTP(S)_PROXY and NO_PROXY for the API's host, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE,
  else certifi's bundle (requests' default). Every request goes to that one host.
- No retries and no redirects: the adapter decides what a failure means
  (`twilio_sms`), and a request that may have been sent must never be sent again here.
- The last answer's headers are kept per thread (a 429's Retry-After).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import urllib3
from requests.utils import (
    DEFAULT_CA_BUNDLE_PATH,
    get_auth_from_url,
    get_environ_proxies,
    select_proxy,
)
from twilio.http import HttpClient
from twilio.http.response import Response

# The SDK logs every request at INFO: the URL with its query (a listing's `To=%2B1...`)
# and the headers, ~1 KB per message. Quiet unless someone chose its level on purpose.
SDK_LOG = logging.getLogger("twilio.http_client")
TWILIO_API = "https://api.twilio.com"
# What requests adds to every request the SDK makes (the SDK sets the rest).
_DEFAULT_HEADERS = {"Accept-Encoding": "gzip, deflate", "Connection": "keep-alive"}


class TwilioHttp(HttpClient):
    def __init__(self, *, timeout: float, base_url: str | None, pool_size: int) -> None:
        if SDK_LOG.level == logging.NOTSET:
            SDK_LOG.setLevel(logging.WARNING)
        super().__init__(SDK_LOG, False, timeout)
        self.base_url = urlsplit(base_url) if base_url else None
        self.last = threading.local()
        self.pool = _pool(urlunsplit(self.base_url) if self.base_url else TWILIO_API, pool_size)
        self._authorizations: dict[tuple[str, str], str] = {}

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        url = self._rebased(uri)
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        sent = {**_DEFAULT_HEADERS, **(headers or {})}
        if auth is not None:
            sent["Authorization"] = self._authorization(auth)
        if self.logger.isEnabledFor(logging.INFO):
            self.log_request({"method": method, "url": url, "params": None, "headers": sent})
        self.last.headers = {}
        answer = self.pool.urlopen(
            method.upper(), url, body=_body(data, sent), headers=sent, retries=False,
            redirect=allow_redirects, timeout=self._timeout(timeout),
        )  # fmt: skip
        self.last.headers = answer.headers
        if self.logger.isEnabledFor(logging.INFO):
            self.log_response(answer.status, answer)
        response = Response(answer.status, answer.data.decode("utf-8", "replace"), answer.headers)
        self._test_only_last_response = response
        return response

    def _timeout(self, seconds: float | None) -> urllib3.Timeout:
        """To connect, and between bytes of the answer (as requests reads one number)."""
        seconds = seconds or self.timeout
        return urllib3.Timeout(connect=seconds, read=seconds)

    def close(self) -> None:
        self.pool.clear()

    def _rebased(self, url: str) -> str:
        if self.base_url is None:
            return url
        parts, base = urlsplit(url), self.base_url
        return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path,
                           parts.query, ""))  # fmt: skip

    def _authorization(self, auth: tuple[str, str]) -> str:
        """HTTP Basic, as requests encodes it (latin-1), worked out once per credential."""
        value = self._authorizations.get(auth)
        if value is None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode("latin-1")).decode("ascii")
            value = self._authorizations[auth] = f"Basic {token}"
        return value


def _body(data: dict[str, object] | None, headers: dict[str, str]) -> bytes | None:
    """The form the SDK gives, encoded as requests encodes it (None values dropped)."""
    if data is None:
        return None
    if headers.get("Content-Type") in ("application/json", "application/scim+json"):
        return json.dumps(data).encode("utf-8")
    fields = {key: value for key, value in data.items() if value is not None}
    return urlencode(fields, doseq=True).encode("utf-8") if fields else None


def _pool(host: str, pool_size: int) -> urllib3.PoolManager:
    """Connections to `host`, through the proxy the environment names for it, if any."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    bundle = bundle or DEFAULT_CA_BUNDLE_PATH
    tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
    tls["ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"] = bundle
    proxy = select_proxy(host, get_environ_proxies(host))
    if not proxy:
        return urllib3.PoolManager(maxsize=pool_size, **tls)
    user, password = get_auth_from_url(proxy)  # credentials in the URL, as requests reads them
    headers = urllib3.make_headers(proxy_basic_auth=f"{user}:{password}") if user else {}
    return urllib3.ProxyManager(proxy, proxy_headers=headers, maxsize=pool_size, **tls)
