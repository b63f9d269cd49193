"""Carrier keywords and the safety order, as tables (STYLE convention 12)."""

from __future__ import annotations

import pytest

from service.inbound.compliance import (
    Action,
    checkin_answer,
    decide,
    is_help,
    is_opt_in,
    is_opt_out,
    only_a_keyword,
    tokens,
)

OPT_OUTS = [
    "STOP", "stop", "Stop.", "stop please", "STOP!!!", "  stop  ", "Stop 🙏", "please stop",
    "STOPALL", "stop all", "UNSUBSCRIBE", "unsubscribe me", "Cancel", "END", "quit", "OPTOUT",
    "opt out", "opt-out", "REVOKE", "stop texting me", "STOP sending me messages",
    "Stop it now, thanks", "PARAR", "¡Parar!", "cancelar", "CANCELAR por favor", "detener",
    "no más mensajes", "baja", "STOP.", '"stop"', "stop, thank you",
]  # fmt: skip
NOT_OPT_OUTS = [
    "The pain won't stop", "the bleeding will not stop", "can't stop itching",
    "cancel my appointment please", "can I stop taking the antibiotics?", "stop by tomorrow?",
    "I stopped the ice packs", "when does the swelling end", "", "🙂", "stopping by later",
    "stop the pain please", "para mañana tengo cita", "no puedo parar de sangrar",
    "unstop", "start",
]  # fmt: skip
OPT_INS = ["START", "start", "Unstop", "start please", "START.", "subscribe", "COMENZAR"]
HELPS = ["HELP", "help", "Help?", "info", "INFO please", "AYUDA", "ayuda por favor", "Información"]
NOT_HELPS = ["help my face is drooping", "info about the swelling?", "can you help me"]


@pytest.mark.parametrize("text", OPT_OUTS)
def test_opt_out_keywords_are_recognised_with_filler_and_punctuation(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize("text", NOT_OPT_OUTS)
def test_sentences_that_merely_contain_an_opt_out_word_are_not_opt_outs(text: str) -> None:
    assert not is_opt_out(text)


@pytest.mark.parametrize("text", OPT_INS)
def test_start_keywords_opt_back_in(text: str) -> None:
    assert is_opt_in(text, opted_out=False)


def test_a_bare_yes_only_opts_in_a_patient_who_is_opted_out() -> None:
    assert is_opt_in("YES", opted_out=True)
    assert is_opt_in("sí", opted_out=True)
    assert not is_opt_in("yes", opted_out=False)


@pytest.mark.parametrize("text", HELPS)
def test_help_keywords(text: str) -> None:
    assert is_help(text)


@pytest.mark.parametrize("text", NOT_HELPS)
def test_help_inside_a_sentence_is_not_the_help_keyword(text: str) -> None:
    assert not is_help(text)


@pytest.mark.parametrize(
    ("text", "answer"),
    [("1", 1), ("2", 2), ("3", 3), ("3.", 3), ("#2", 2), ("3 please", 3), ("1️⃣", 1),
     (" 1 thanks", 1), ("option 3", 3), ("4", None), ("12", None), ("1 2", None),
     ("3 days of swelling", None), ("", None), ("day 3 feeling ok", None)],
)  # fmt: skip
def test_checkin_answers_are_a_bare_digit(text: str, answer: int | None) -> None:
    assert checkin_answer(text) == answer


def test_tokens_fold_case_accents_punctuation_and_emoji() -> None:
    assert tokens("¡PARAR! 🙏 Información") == ["parar", "informacion"]


# (text, classifier label, classifier check-in, opted out) -> action
DECISIONS = [
    ("STOP", "stop", None, False, Action.OPT_OUT),
    ("STOP", "other", None, False, Action.OPT_OUT),  # the keyword works whatever triage says
    ("please stop texting me I'm fine", "stop", None, False, Action.OPT_OUT),
    ("STOP my lips are turning blue", "urgent", None, False, Action.URGENT),
    ("help my face is drooping", "urgent", None, False, Action.URGENT),
    ("HELP", "help", None, False, Action.HELP),
    ("HELP", "other", None, False, Action.HELP),
    ("START", "start", None, True, Action.OPT_IN),
    ("yes", "start", None, True, Action.OPT_IN),
    ("yes", "normal", None, False, Action.NOTE),
    ("3", "other", None, False, Action.CHECKIN),
    ("three please", "other", 3, False, Action.CHECKIN),
    ("The pain won't stop and it is getting worse", "concern", None, False, Action.CONCERN),
    ("3 days and the redness is spreading", "concern", None, False, Action.CONCERN),
    ("tingling but fine", "normal", None, False, Action.NOTE),
    ("can I reschedule?", "other", None, False, Action.NOTE),
    ("", "other", None, False, Action.NOTE),
]


@pytest.mark.parametrize(("text", "label", "checkin", "opted_out", "action"), DECISIONS)
def test_decisions_follow_the_safety_order(
    text: str, label: str, checkin: int | None, opted_out: bool, action: Action
) -> None:
    assert decide(text=text, label=label, checkin=checkin, opted_out=opted_out).action == action


def test_an_urgent_reply_with_an_opt_out_word_is_flagged_for_a_phone_follow_up() -> None:
    decision = decide(text="STOP my lips are turning blue", label="urgent")
    assert decision.action == Action.URGENT
    assert decision.opt_out_word


@pytest.mark.parametrize(
    ("text", "label", "flagged"),
    [
        ("The pain won't stop", "concern", True),
        ("the tingling won't stop but it is fine", "normal", True),
        ("can't stop itching", "normal", True),
        ("the swelling is getting worse", "concern", False),
        ("tingling but fine", "normal", False),
        ("cancel my appointment please", "other", False),  # logistics, not a symptom
        ("para la hinchazon", "concern", False),  # Spanish "para" is "for"
    ],
)
def test_a_symptom_with_an_opt_out_word_asks_staff_to_confirm(
    text: str, label: str, flagged: bool
) -> None:
    decision = decide(text=text, label=label)
    assert decision.action in (Action.CONCERN, Action.NOTE)  # the symptom wins
    assert decision.opt_out_word is flagged


@pytest.mark.parametrize(
    ("text", "label", "keyword_only"),
    [
        ("STOP", "stop", True),
        ("stop please", "stop", True),
        ("HELP", "help", True),
        ("START", "start", True),
        ("3", "other", True),
        ("#2", "other", True),
        ("I am moving abroad, please stop the texts", "stop", False),
        ("who is this?", "help", False),
        ("three please", "other", False),
        ("thanks!", "other", False),
        ("yes", "normal", False),  # not opted out: an answer, not a keyword
        ("the pain won't stop", "concern", False),
    ],
)
def test_only_a_bare_keyword_or_checkin_number_stays_out_of_the_inbox(
    text: str, label: str, keyword_only: bool
) -> None:
    decision = decide(text=text, label=label, checkin=3 if text == "three please" else None)
    assert only_a_keyword(text, decision) is keyword_only


def test_a_checkin_decision_carries_the_answer() -> None:
    assert decide(text="3", label="other").checkin == 3
