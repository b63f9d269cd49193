"""Triage of patient replies: the hard cases of DESIGN §6, one table per behaviour."""

from __future__ import annotations

import pytest

from service.triage import classify

NEGATION = [
    ("no fever", "normal"),
    ("no fever no pus", "normal"),
    ("no pain but pus coming out", "concern"),
    ("no fever, but there's pus and I have chills now", "urgent"),
    ("not bleeding anymore", "normal"),
    ("I don't have any swelling or bruising", "normal"),
    ("No fever, but I can't see out of my right eye", "urgent"),
    ("no tengo fiebre ni pus", "normal"),
    ("not sure if it's normal but my lip is turning white", "urgent"),
    ("no idea why but my lips are blue", "urgent"),
]
SPOKEN_SPELT_AND_TOLD_BY_OTHERS = [
    ("my left calve is swollen and hot period I flew back on Sunday", "urgent"),
    ("hey Siri no not you period I'm seeing double and my eyelid is drooping", "urgent"),
    ("full of puss and I got a temp of one hundred one", "urgent"),
    ("Dice que no ve nada del ojo derecho", "urgent"),
    ("ya ve bien, no ve nada raro", "normal"),
    ("haha my smile only works on one side now, half a joker", "urgent"),
    (
        "mostly down but this morning one side went big and tight in like 30 min, really painful",
        "urgent",
    ),
    ("redness spreading way down my neck and I have chills", "urgent"),
    ("el moreton no se ha ido y ya son 3 semanas", "concern"),
    ("un subscribe me", "stop"),
    ("blud is soakin thru the bandaj and my shirt and it wont stop", "urgent"),
    ("mi esposo no puede tragal vien y abla raro como arrastrando", "urgent"),
    ("keeps bleedin from the hole, gone thru 4 tissues and its still runnin", "urgent"),
    ("dolor en el pecho 7/10 cuando respiro", "urgent"),
    ("the picture doubles when i look up", "urgent"),
]
HYPOTHETICALS = [
    ("what if I get a fever?", "other"),
    ("should I worry if it turns white?", "other"),
    ("in case I get swelling, should I ice it?", "other"),
    ("what are the signs of infection?", "other"),
    ("¿qué hago si me da fiebre?", "other"),
    ("what if I get a fever? I have chills and pus right now", "urgent"),
]
PAST_AND_RESOLVED = [
    ("had some swelling yesterday, gone now", "normal"),
    ("the bleeding stopped", "normal"),
    ("the bleeding hasn't stopped", "urgent"),
    ("bleeding won't stop", "urgent"),
    ("had trouble breathing last night but it's fine now", "urgent"),
    ("ya no tengo hinchazón", "normal"),
]
SOMEONE_ELSE = [
    ("my daughter has a fever", "concern"),
    ("my son has a rash, can I still come on Friday?", "concern"),
    ("my husband says my lips look blue", "urgent"),
    ("my mom can't breathe, she had her surgery yesterday", "urgent"),
]
TYPOS_AND_EMOJI = [
    ("my breatheing is bad", "urgent"),
    ("vission is blurry", "urgent"),
    ("my cheek is so swolen and getting worse", "concern"),
    ("bleading a lot and it wont stop", "urgent"),
    ("temp 38.5 🤒", "concern"),
    ("all good 👍", "normal"),
    ("face drooping 😱", "urgent"),
]
SPANISH = [
    ("no puedo respirar", "urgent"),
    ("me duele mucho", "concern"),
    ("tengo fiebre", "concern"),
    ("tengo fiebre y sale pus", "urgent"),
    ("la piel se puso blanca", "urgent"),
    ("gracias, todo bien", "normal"),
]
KEYWORDS = [
    ("STOP", "stop"),
    ("Stop.", "stop"),
    ("stop please", "stop"),
    ("STOPALL", "stop"),
    ("unsubscribe", "stop"),
    ("CANCEL", "stop"),
    ("end", "stop"),
    ("QUIT", "stop"),
    ("optout", "stop"),
    ("revoke", "stop"),
    ("PARAR", "stop"),
    ("cancelar", "stop"),
    ("START", "start"),
    ("unstop", "start"),
    ("YES", "start"),
    ("HELP", "help"),
    ("info", "help"),
    ("AYUDA", "help"),
    ("the pain won't stop", "concern"),
    ("help my face is drooping", "urgent"),
    ("STOP my lip is turning white", "urgent"),
    ("I need to cancel my appointment", "other"),
    ("can I stop taking the antibiotics?", "other"),
    ("STOP. I've moved clinics.", "stop"),
    ("Yes. Everything is fine", "normal"),
]
NEVER_DROPPED = [  # red flags that a careless negation, "if" or "gone" would hide
    ("No I can't breathe", "urgent"),
    ("I'm not ok I can't breathe", "urgent"),
    ("if I press on it, it turns white and stays white", "urgent"),
    ("my vision is gone", "urgent"),
    ("I was fine yesterday but now I can't breathe", "urgent"),
    ("the swelling went down but now my lip is white", "urgent"),
    ("my sister had filler and her lip is white", "urgent"),
    ("the bleeding stopped then started again", "concern"),
    ("breathing is not fine", "urgent"),
    ("I can't tell if my lip is white", "urgent"),
    ("no more bleeding from the cut but my lip is white", "urgent"),
    ("I read that filler can cause blindness because a friend had it", "other"),
]
LOOK_ALIKES = [  # symptom words that are not symptoms, and the red flag next to them
    ("Can I drink red wine?", "other"),
    ("sorry the photo is blurry", "other"),
    ("in the photo my lips are blue", "urgent"),
    ("I'm sick of waiting for my results", "other"),
    ("I was in hospital last year for my knee, is filler ok?", "other"),
    ("should I go to the ER?", "urgent"),
    ("🚑", "urgent"),
]
REASSURANCE = [
    ("Breathing fine, vision fine", "normal"),
    ("no more pain", "normal"),
    ("nothing unusual", "normal"),
    ("How do I know if I have an infection?", "other"),
    ("I have a bad headache that won't go away", "concern"),
]
QUOTED_EMAIL = [
    ("Thanks, all fine.\n\nOn Mon, 2 Mar 2026, Clinic <c@x.example> wrote:\n> fever?", "normal"),
    ("Can we move it to 3pm?\n> If you can't breathe call 999", "other"),
    ("ok\n-----Original Message-----\nFrom: Clinic\nVision changes? Call us.", "other"),
]


# Thoughts of suicide or self-harm page a person; low mood, and the "I want to die" that
# is often said in jest, are read today.
MOOD = [
    ("I keep thinking about ending it all since the surgery", "urgent"),
    ("no quiero seguir viviendo con esta cara", "urgent"),
    ("me siento muy deprimida, lloro todo el día desde la operación", "concern"),
    ("honestly I want to die, I hate how I look", "concern"),
    ("feeling really low since the op", "concern"),
    # a symptom that came back is not resolved by its earlier settling
    ("se me volvió a inflamar el labio de la nada, ya me había bajado", "concern"),
]


@pytest.mark.parametrize(
    ("text", "label"),
    MOOD
    + NEGATION
    + SPOKEN_SPELT_AND_TOLD_BY_OTHERS
    + HYPOTHETICALS
    + PAST_AND_RESOLVED
    + SOMEONE_ELSE
    + TYPOS_AND_EMOJI
    + SPANISH
    + NEVER_DROPPED
    + REASSURANCE
    + LOOK_ALIKES,
)
def test_it_reads_symptoms_in_context(text: str, label: str) -> None:
    result = classify(text)
    assert result.label == label, result


@pytest.mark.parametrize(("text", "label"), KEYWORDS)
def test_it_tells_carrier_keywords_from_symptoms(text: str, label: str) -> None:
    assert classify(text).label == label


@pytest.mark.parametrize(("text", "label"), QUOTED_EMAIL)
def test_it_never_triages_quoted_email_history(text: str, label: str) -> None:
    assert classify(text).label == label


@pytest.mark.parametrize(
    ("text", "procedure", "day", "label"),
    [
        ("still numb", "surgery", 3, "normal"),
        ("still numb", "surgery", 200, "concern"),
        ("face is red", "microneedling", 2, "normal"),
        ("face is red", "microneedling", 10, "concern"),
        ("lips a bit swollen", "dermal_filler", 2, "normal"),
        ("lips a bit swollen", "botox", 2, "concern"),
        ("lips swollen", "botox", 2, "urgent"),
        ("still numb 6 months later", None, None, "concern"),
        ("swelling is really bad", "surgery", 2, "concern"),
    ],
)
def test_it_knows_what_is_expected_on_which_day(
    text: str, procedure: str | None, day: int | None, label: str
) -> None:
    assert classify(text, procedure=procedure, day=day).label == label


@pytest.mark.parametrize(
    ("text", "checkin", "label"),
    [
        ("1", 1, "normal"),
        ("2", 2, "concern"),
        ("3", 3, "concern"),
        ("2.", 2, "concern"),
        ("1 all good", 1, "normal"),
        ("1 but my lip is white", 1, "urgent"),
        ("2 days ago the swelling went down", None, "normal"),
        ("3 weeks and still swollen", None, "concern"),
    ],
)
def test_it_reads_check_in_answers(text: str, checkin: int | None, label: str) -> None:
    result = classify(text)
    assert (result.checkin, result.label) == (checkin, label)


def test_it_names_what_it_matched_for_the_staff_view() -> None:
    result = classify("no fever but pus coming out", procedure="thread_lift", day=12)
    # pus after a thread lift is a sign the plan says to call about straight away
    assert result.label == "urgent"
    assert result.matches == ["fever (negated)", "infection_thread: pus", "pus"]


def test_it_keeps_the_opt_out_intent_of_an_urgent_reply() -> None:
    result = classify("STOP texting me, I can't breathe")
    assert (result.label, result.intent, result.severity) == ("urgent", "stop", "urgent")


@pytest.mark.parametrize("text", ["", "   ", "🤔", "?!", "x" * 1600, "é" * 50])
def test_it_survives_odd_input(text: str) -> None:
    assert classify(text).label == "other"
