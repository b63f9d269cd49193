"""Fetching an MMS photo from Twilio for staff, so the browser never gets a provider URL.

Twilio media URLs need the account's credentials (HTTP Basic) and answer with a
redirect to short-lived storage that must be fetched *without* them (the storage
refuses a request carrying a second kind of authentication), so redirects are followed
by hand. Only Twilio's own host (or the configured test base URL) is ever asked with
the credentials, and at most MAX_BYTES are read.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urljoin, urlparse

MAX_BYTES = 5 * 1024 * 1024  # Twilio's own limit for an MMS
MAX_REDIRECTS = 3
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
TWILIO_HOSTS = frozenset({"api.twilio.com"})


class MediaError(Exception):
    """A photo that cannot be shown: `status` is what our page answers (404, 413, 502)."""

    def __init__(self, reason: str, *, status: int = 502) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


@dataclass(frozen=True)
class Media:
    content_type: str
    data: bytes

    @property
    def inline(self) -> bool:
        """Shown in the page (an image); anything else is only offered as a download."""
        return self.content_type in INLINE_TYPES


class _Manual(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # we follow redirects ourselves, without the credentials


def fetch_media(
    url: str,
    *,
    account_sid: str,
    auth_token: str,
    api_base_url: str | None = None,
    timeout: float = 10.0,
) -> Media:
    """The media item at a Twilio MediaUrl; MediaError when it cannot be had."""
    hosts = TWILIO_HOSTS | ({urlparse(api_base_url).netloc} if api_base_url else set())
    parsed = urlparse(url)
    if parsed.netloc not in hosts or parsed.scheme not in ("https", "http"):
        raise MediaError("not a Twilio media address", status=404)
    token = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    for _ in range(MAX_REDIRECTS + 1):
        location = _get(url, headers, timeout)
        if isinstance(location, Media):
            return location
        url, headers = urljoin(url, location), {}  # the storage takes no credentials
    raise MediaError("too many redirects")


def _get(url: str, headers: dict[str, str], timeout: float) -> Media | str:
    """The media, or where it moved to."""
    opener = urllib.request.build_opener(_Manual)
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (http(s) only, checked)
    try:
        with opener.open(request, timeout=timeout) as response:
            data = response.read(MAX_BYTES + 1)
            kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    except urllib.error.HTTPError as exc:
        if exc.code in (301, 302, 303, 307, 308) and exc.headers.get("Location"):
            return str(exc.headers["Location"])
        status = 404 if exc.code == 404 else 502
        raise MediaError(f"the provider answered {exc.code}", status=status) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise MediaError(f"the provider could not be reached: {exc.__class__.__name__}") from None
    if len(data) > MAX_BYTES:
        raise MediaError("larger than 5 MB", status=413)
    return Media(kind or "application/octet-stream", data)
