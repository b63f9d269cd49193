"""The plainest bulk send a user would write with the twilio SDK: the baseline of
bench/dispatch.py. A thread pool calling `client.messages.create` with one body, the
SDK's own HTTP client pointed at a local fake, no logging set up (so the SDK's
per-request INFO records are dropped at the logger), nothing else.

Prints one JSON object: CPU seconds of this process before the loop (interpreter,
imports, client) and during it.

    .venv/bin/python bench/raw_twilio_loop.py URL COUNT BODY_FILE [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

# The fake's well-known test credentials (service.fakes.twilio_server), written out so
# this script imports nothing of ours.
ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "fake-twilio-auth-token"
SENDER = "+15005550006"


class LocalFake(TwilioHttpClient):
    """The SDK's HTTP client, sending to the fake instead of api.twilio.com."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        url = url.replace("https://api.twilio.com", self.base_url)
        return super().request(method, url, *args, **kwargs)


def cpu() -> float:
    times = os.times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("count", type=int)
    parser.add_argument("body_file", type=Path)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    body = args.body_file.read_text()
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=LocalFake(args.url))

    def send(i: int) -> None:
        client.messages.create(to=f"+1650{i:07d}", from_=SENDER, body=body)

    before = cpu()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        list(pool.map(send, range(args.count)))
    print(json.dumps({"startup_cpu_s": before, "loop_cpu_s": cpu() - before}))


if __name__ == "__main__":
    main()
