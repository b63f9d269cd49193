"""Parsing inbound SMS forms and raw emails: odd inputs never crash, quotes never leak."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from service.domain import Channel
from service.inbound.email import html_to_text, latest_reply, parse_email
from service.inbound.sms import InboundParseError, parse_twilio_form

SID = "SM" + "a" * 32


def form(**fields: str) -> dict[str, str]:
    return {"MessageSid": SID, "From": "+14155550123", "To": "+14155550999", **fields}


def test_it_parses_a_plain_sms() -> None:
    reply = parse_twilio_form(form(Body=" Feeling fine \n"))
    assert reply.channel == Channel.SMS
    assert reply.provider_id == SID
    assert reply.text == "Feeling fine"
    assert reply.to_address == "+14155550999"


def test_a_media_only_mms_keeps_its_photo_links() -> None:
    reply = parse_twilio_form(
        form(
            MessageSid="MM" + "b" * 32,
            Body="",
            NumMedia="2",
            MediaUrl0="https://api.twilio.com/media/1",
            MediaUrl1="https://api.twilio.com/media/2",
        )
    )
    assert reply.text == ""
    assert reply.media_urls == ("https://api.twilio.com/media/1", "https://api.twilio.com/media/2")
    assert not reply.is_empty


def test_a_garbled_media_count_still_keeps_the_photos() -> None:
    reply = parse_twilio_form(form(NumMedia="x", MediaUrl0="https://m/1"))
    assert reply.media_urls == ("https://m/1",)


@pytest.mark.parametrize("body", ["", "   ", "🙂🙂🙂", "😷" * 400, "a" * 1600])
def test_odd_bodies_parse(body: str) -> None:
    reply = parse_twilio_form(form(Body=body))
    assert reply.body == body


def test_an_empty_body_with_no_media_is_empty() -> None:
    assert parse_twilio_form(form(Body="")).is_empty


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"MessageSid": ""}, "MessageSid"),
        ({"MessageSid": "x"}, "MessageSid"),
        ({"From": ""}, "From"),
    ],
)
def test_missing_fields_are_named(fields: dict[str, str], name: str) -> None:
    with pytest.raises(InboundParseError, match=name):
        parse_twilio_form(form(**fields))


def raw_email(body: str, *, html: str | None = None, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Ana Patient <Ana@Example.test>")
    message["To"] = headers.pop("To", "Glow Clinic <care@glow.test>")
    message["Subject"] = headers.pop("Subject", "Re: Day 3 check-in")
    message["Message-ID"] = headers.pop("Message_ID", "<abc123@mail.example.test>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return bytes(message)


QUOTED_GMAIL = """Swelling is going down, thanks!

On Mon, Mar 2, 2026 at 10:00 AM Glow Clinic <care@glow.test> wrote:
> Call us if you have a fever, pus or trouble breathing.
> Reply STOP to opt out.
"""
QUOTED_OUTLOOK = """All good here

From: Glow Clinic <care@glow.test>
Sent: Monday, March 2, 2026 10:00 AM
To: Ana Patient <ana@example.test>
Subject: Day 3 check-in

Call us if you have a fever. Reply STOP to opt out.
"""
QUOTED_SPANISH = """Todo bien, gracias

El lun, 2 mar 2026 a las 10:00, Glow Clinic <care@glow.test> escribió:
> Llámenos si tiene fiebre. Responda STOP para no recibir más.
"""
ORIGINAL_MESSAGE = """ok

-----Original Message-----
From: Glow Clinic
fever STOP
"""
SIGNED = """Tingling near the scar

Best regards,
Ana
Sent from my iPhone
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (QUOTED_GMAIL, "Swelling is going down, thanks!"),
        (QUOTED_OUTLOOK, "All good here"),
        (QUOTED_SPANISH, "Todo bien, gracias"),
        (ORIGINAL_MESSAGE, "ok"),
        (SIGNED, "Tingling near the scar"),
        ("> fever\n> STOP\nfine now", "fine now"),
    ],
)
def test_quoted_history_and_signatures_are_stripped(body: str, expected: str) -> None:
    reply = parse_email(raw_email(body))
    assert reply.text == expected
    assert "fever" not in reply.text.lower() and "stop" not in reply.text.lower()


def test_a_reply_that_only_quotes_us_has_no_text_of_its_own() -> None:
    text, whole = latest_reply("On Mon, Mar 2, 2026 at 10:00 AM Clinic <c@x.test> wrote:\n> fever")
    assert (text, whole) == ("", "")


def test_hyphen_lists_in_the_reply_are_kept_not_taken_for_a_signature() -> None:
    text, _ = latest_reply("Update:\n- swelling worse\n- pus coming out\n")
    assert "pus coming out" in text


def test_the_unstripped_reply_keeps_lines_the_parser_took_for_a_signature() -> None:
    _text, whole = latest_reply("Hi\nThanks, but I have trouble breathing\n")
    assert "breathing" in whole


def test_it_reads_sender_recipient_subject_and_message_id() -> None:
    reply = parse_email(raw_email("hello"))
    assert reply.channel == Channel.EMAIL
    assert reply.from_address == "ana@example.test"
    assert reply.to_address == "care@glow.test"
    assert reply.subject == "Re: Day 3 check-in"
    assert reply.provider_id == "<abc123@mail.example.test>"


def test_a_message_without_message_id_is_identified_by_its_bytes() -> None:
    message = EmailMessage()
    message["From"] = "ana@example.test"
    message.set_content("hi")
    raw = bytes(message)
    assert parse_email(raw).provider_id == parse_email(raw).provider_id
    assert parse_email(raw).provider_id.startswith("sha256:")


def test_a_message_without_a_sender_is_refused_naming_the_header() -> None:
    with pytest.raises(InboundParseError, match="From"):
        parse_email(b"Subject: hi\n\nbody")


def test_out_of_office_replies_are_marked_automated() -> None:
    assert parse_email(raw_email("I am away", Auto_Submitted="auto-replied")).automated
    assert not parse_email(raw_email("my face is swollen")).automated


def test_html_only_mail_drops_blockquotes_and_gmail_quotes() -> None:
    html = (
        "<div dir='ltr'>My lip is <b>numb</b><br>still</div>"
        "<div class='gmail_quote'><div>On Mon ... wrote:</div>"
        "<blockquote>fever <p>STOP</blockquote></div>"
    )
    assert html_to_text(html) == "My lip is numb\nstill"


def test_html_alternative_is_not_preferred_over_plain_text() -> None:
    reply = parse_email(raw_email("plain words", html="<p>html words</p>"))
    assert reply.text == "plain words"


def test_garbage_bytes_do_not_crash() -> None:
    reply = parse_email(
        b"From: a@b.test\nContent-Type: text/plain; charset=x-unknown\n\n\xff\xfe ok"
    )
    assert "ok" in reply.text


def test_a_forwarded_message_is_kept_whole_for_triage() -> None:
    text, whole = latest_reply(
        "---------- Forwarded message ---------\nFrom: Kayla R\nTo: Mom\n\n"
        "mom my cheek looks purple where they did the filler"
    )
    assert "cheek looks purple" in text
    assert text == whole
