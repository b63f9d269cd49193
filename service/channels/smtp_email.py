"""Email through SMTP (stdlib smtplib): TLS, auth, multipart/alternative, one-click unsubscribe.

The conversation is driven step by step (MAIL, RCPT, DATA) so a failure can be placed:
anything before the end of DATA was surely not accepted; losing the connection while
waiting for the final reply to DATA leaves the message in doubt.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from typing import TYPE_CHECKING

from service.channels.base import DeliveryError, OutboundMessage, Receipt
from service.domain import Channel

if TYPE_CHECKING:
    from service.config import Settings


class SmtpEmailAdapter:
    name = "smtp"
    can_find_sent = False  # SMTP cannot list what a server accepted: in doubt -> review

    def __init__(self, *, settings: Settings, channel: Channel = Channel.EMAIL) -> None:
        self.settings = settings

    def send(self, message: OutboundMessage) -> Receipt:
        email = self.build(message)
        try:
            smtp = self._connect()
            try:
                self._secure(smtp)
                self._deliver(smtp, email, message.to)
            finally:
                _close(smtp)  # after DATA succeeded, a failing QUIT changes nothing
        except DeliveryError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            # Our credentials, not this message: retrying may work once they are fixed.
            raise DeliveryError(f"SMTP login failed ({exc.smtp_code})", permanent=False) from exc
        except smtplib.SMTPResponseException as exc:
            raise _reply_error(exc.smtp_code, exc.smtp_error) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _reply_error(code, reply) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"cannot reach the mail server ({type(exc).__name__})",
                                permanent=False) from exc  # fmt: skip
        return Receipt(provider=self.name, provider_id=email["Message-ID"].strip("<>"))

    def find_sent(self, *, to: str, since: datetime, body: str, message_id: int) -> Receipt | None:
        """SMTP cannot list what a server accepted, so in-doubt email goes to review."""
        return None

    def build(self, message: OutboundMessage) -> EmailMessage:
        sender = message.from_ or self.settings.email_from
        email = EmailMessage(policy=SMTP_POLICY)
        email["From"] = sender
        email["To"] = message.to
        email["Subject"] = message.subject or ""
        email["Date"] = format_datetime(datetime.now(UTC))
        email["Message-ID"] = _message_id(message.message_id, sender)
        for name, value in message.headers.items():
            email[name] = value
        email.set_content(message.body)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        return email

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        host, timeout = s.smtp_host or "localhost", s.smtp_timeout_seconds
        if s.smtp_ssl:
            context = ssl.create_default_context()
            return smtplib.SMTP_SSL(host, s.smtp_port, timeout=timeout, context=context)
        return smtplib.SMTP(host, s.smtp_port, timeout=timeout)

    def _secure(self, smtp: smtplib.SMTP) -> None:
        s = self.settings
        if s.smtp_starttls and not s.smtp_ssl:
            smtp.starttls(context=ssl.create_default_context())
        if s.smtp_username and s.smtp_password:
            smtp.login(s.smtp_username, s.smtp_password.get_secret_value())

    def _deliver(self, smtp: smtplib.SMTP, email: EmailMessage, to: str) -> None:
        smtp.ehlo_or_helo_if_needed()
        code, reply = smtp.mail(email["From"])
        if code != 250:
            raise _reply_error(code, reply)
        code, reply = smtp.rcpt(to)
        if code not in (250, 251):
            raise _reply_error(code, reply)
        try:
            code, reply = smtp.data(email.as_bytes())
        except smtplib.SMTPDataError:
            raise  # the server answered: it did not take the message
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            raise DeliveryError(
                "the mail server went silent after the message was sent; it may have it",
                permanent=False,
                in_doubt=True,
            ) from exc
        if code != 250:  # smtplib returns the final reply to DATA rather than raising
            raise _reply_error(code, reply)


def _close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError, smtplib.SMTPException):
        smtp.quit()
    smtp.close()


def _reply_error(code: int, reply: bytes | str) -> DeliveryError:
    """SMTP 4xx: try again later; 5xx: this message will never be accepted."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return DeliveryError(
        f"mail server said {code} {text}".strip(), permanent=code >= 500, provider_code=str(code)
    )


def _message_id(message_id: int, sender: str) -> str:
    # Kept under 64 characters: it is stored as the provider id, which has that limit.
    domain = sender.rpartition("@")[2].strip("> ") or "aftercare.local"
    if len(domain) > 36:
        domain = "aftercare.local"
    return f"<ac{message_id}.{uuid.uuid4().hex[:16]}@{domain}>"
