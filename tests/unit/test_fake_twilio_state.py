"""The fake Twilio's status callbacks: in order by default, final-first when asked."""

from __future__ import annotations

from service.fakes.twilio_state import FakeTwilio

FORM = {"To": "+14155550123", "From": "+14155550100", "Body": "hi",
        "StatusCallback": "http://127.0.0.1:9/webhooks/twilio/status?mid=1"}  # fmt: skip


def posted_statuses(fake: FakeTwilio) -> list[str]:
    found = []
    while not fake.callbacks.empty():
        item = fake.callbacks.get_nowait()
        assert item is not None
        found.append(item[1]["MessageStatus"])
    return found


def test_it_posts_sent_then_delivered():
    fake = FakeTwilio(account_sid="AC1", auth_token="t", seed=1)
    fake.accept(FORM)
    assert posted_statuses(fake) == ["sent", "delivered"]


def test_it_posts_the_final_status_first_for_its_disorder_share():
    fake = FakeTwilio(account_sid="AC1", auth_token="t", seed=1)
    fake.configure(callback_disorder=1.0)
    fake.accept(FORM)
    assert posted_statuses(fake) == ["delivered", "sent"]
