"""Parsing a raw RFC 822 reply into an `InboundReply` with only what the patient wrote.

Patients reply above (or below) our own message, so the clinic's words - "fever",
"STOP", the red-flag list - come back quoted. Only the patient's latest reply may be
triaged: quoted history, reply headers ("On ... wrote:", Outlook's From:/Sent: block,
Spanish "El ... escribió:"), signatures and disclaimers are stripped with
mail-parser-reply, and any line still starting with ">" is dropped as well. In HTML-only
mail, <blockquote> and the Gmail/Outlook quote containers are removed before the tags.
"""

from __future__ import annotations

import hashlib
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from mailparser_reply import EmailMessage as ReplyThread

from service.domain import Channel
from service.inbound.reply import MAX_BODY_CHARS, InboundReply
from service.inbound.sms import InboundParseError
from service.triage.text import forwarded

REPLY_LANGUAGES = ["en", "es"]
# What a mail client sends for our List-Unsubscribe mailto: the request is the subject.
_UNSUBSCRIBE_SUBJECT = re.compile(r"^\s*unsubscribe\b", re.IGNORECASE)
_AUTOMATED_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}


def parse_email(raw: bytes) -> InboundReply:
    """Parse one raw message; raises InboundParseError naming the missing header."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)  # policy.default always builds one
    sender = parseaddr(str(message.get("From", "")))[1].strip().lower()
    if "@" not in sender:
        raise InboundParseError("From: missing or not an email address")
    body = body_text(message)[:MAX_BODY_CHARS]
    latest, unstripped = latest_reply(body)
    subject = str(message.get("Subject", "")).strip() or None
    if not latest.strip() and _UNSUBSCRIBE_SUBJECT.match(subject or ""):
        latest = unstripped = "unsubscribe"
    return InboundReply(
        provider_id=_message_id(message, raw),
        channel=Channel.EMAIL,
        from_address=sender,
        to_address=_first_recipient(message),
        body=body,
        text=latest,
        subject=subject,
        unstripped_text=unstripped,
        automated=is_automated(message),
    )


def latest_reply(body: str) -> tuple[str, str]:
    """(the latest reply without signature, the same with its signature), unquoted.
    A forwarded message is kept whole: what it passes on is the report."""
    passed_on = forwarded(body)
    if passed_on is not None:
        return passed_on.strip(), passed_on.strip()
    thread = ReplyThread(text=body, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True)
    replies = thread.read().replies
    if not replies or replies[0].headers:
        # The message opens with a quote header: the patient wrote nothing new.
        return "", ""
    return _unquoted(replies[0].body), _unquoted(replies[0].content)


# Attribution lines the library misses: its Spanish pattern wants two spaces before
# "escribió", and Gmail wraps long "On ... wrote:" lines in two.
_ATTRIBUTION = re.compile(
    r"^[ \t>]*(?:On|El|Le|Am)\b[^\n]*(?:\n[^\n]*)?"
    r"\b(?:wrote|escribi[oó]|a [ée]crit|schrieb)\s*:[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)


def _unquoted(text: str) -> str:
    match = _ATTRIBUTION.search(text)
    if match:
        text = text[: match.start()]
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):  # an unknown charset: keep what decodes
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    return html_to_text(content) if part.get_content_type() == "text/html" else content


def is_automated(message: EmailMessage) -> bool:
    """Out-of-office and other machine replies (RFC 3834): recorded, never answered."""
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        auto not in ("", "no")
        or precedence in _AUTOMATED_PRECEDENCE
        or message.get("X-Autoreply") is not None
        or message.get("X-Autorespond") is not None
    )


def _message_id(message: EmailMessage, raw: bytes) -> str:
    message_id = str(message.get("Message-ID", "")).strip()
    if message_id:
        return message_id[:200]
    # Without a Message-ID a replay is still the same bytes.
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _first_recipient(message: EmailMessage) -> str | None:
    addresses = getaddresses([str(value) for value in message.get_all("To", [])])
    found = [address.lower() for _name, address in addresses if "@" in address]
    return found[0] if found else None


# Containers that hold the whole quote. Outlook's header block (divRplyFwdMsg) is kept:
# its From:/Sent: lines are what the text-level parser splits the thread on.
_QUOTE_CLASSES = re.compile(r"gmail_quote|yahoo_quoted|moz-cite-prefix")
_VOID_TAGS = {"br", "img", "hr", "meta", "input", "link", "wbr", "col", "area", "base"}
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"}


class _TextExtractor(HTMLParser):
    """Visible text of an HTML mail, leaving out quoted history."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.quote_depth = 0  # > 0 inside a quote container
        self.skip_depth = 0  # > 0 inside <style>/<script>
        self.stack: list[tuple[str, bool]] = []  # open tags: (name, opened a quote?)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        marker = " ".join(value or "" for name, value in attrs if name in ("class", "id"))
        opens_quote = tag == "blockquote" or bool(_QUOTE_CLASSES.search(marker))
        if tag in ("style", "script"):
            self.skip_depth += 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag not in _VOID_TAGS:
            self.stack.append((tag, opens_quote))
            self.quote_depth += opens_quote

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self.skip_depth = max(0, self.skip_depth - 1)
        names = [name for name, _quote in self.stack]
        if tag in names:
            # Close everything opened since `tag`: HTML mail is rarely well nested.
            index = len(names) - 1 - names[::-1].index(tag)
            closed, self.stack = self.stack[index:], self.stack[:index]
            self.quote_depth -= sum(quote for _name, quote in closed)
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.quote_depth and not self.skip_depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    text = "".join(extractor.parts)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()
