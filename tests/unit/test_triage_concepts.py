"""Concept rules (templates/triage/concepts.yaml): warning signs recognised as a
combination of body site, finding and trajectory, by procedure; unplaced findings;
compliance words said in sentences; long replies. One or two sentences per class of
the triage issue, in both languages: the classes, not these sentences, are the point
(the fresh batches in BENCHMARKS.md measure the rest)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.triage import classify
from service.triage.classifier import LONG_REPLY, MAX_CHARS

ROOT = Path(__file__).resolve().parents[2]

WARNING_SIGNS = [
    # clot signs: one calf or leg after body surgery, or after travel
    ("my right calf is twice the size of the left and hot", "surgery", 9, "urgent"),
    ("tengo la pierna izquierda mas gruesa que la otra y me duele", "surgery", 7, "urgent"),
    ("long flight home yesterday and now my leg is swollen and red", "botox", 4, "urgent"),
    # infection that spreads or turns systemic; fevers in either unit
    ("red streaks going up from the incision", "surgery", 6, "urgent"),
    ("lip is red, hot and I'm running a temp of 101.3F", "dermal_filler", 6, "urgent"),
    ("mi hija vomita todo, no retiene ni el agua ni las pastillas", "surgery", 2, "urgent"),
    # haematoma: hard, one-sided, growing fast
    ("one side of my neck has blown up in the last hour, rock hard", "surgery", 1, "urgent"),
    ("se me esta hinchando la mejilla rapidisimo y esta dura", "thread_lift", 0, "urgent"),
    # toxin spread after Botox, also written by a carer
    ("my mum had botox and now she sounds drunk and cant swallow", "botox", 5, "urgent"),
    ("both eyelids drooping and my arms feel weak", "botox", 3, "urgent"),
    ("tengo debilidad muscular lejos de la zona tratada", "botox", 7, "urgent"),
    # facial nerve weakness after surgery, thread lift or RF
    ("when I smile only the right side of my mouth moves", "surgery", 2, "urgent"),
    ("no puedo levantar la ceja izquierda desde los hilos", "thread_lift", 3, "urgent"),
    # vascular occlusion after filler, in Spanish as in English
    ("mi labio esta blanco y frio", "dermal_filler", 1, "urgent"),
    ("la piel cerca del relleno tiene manchas como un encaje", "dermal_filler", 1, "urgent"),
    ("my lip went white for a few minutes then pink again, fine now", "dermal_filler", 0, "urgent"),
    # heavy bleeding with faintness; a breathing problem that has passed
    ("the wound keeps bleeding and I feel lightheaded", "surgery", 2, "urgent"),
    ("couldn't catch my breath for a couple of minutes last night, fine now", "botox", 6, "urgent"),
    ("anoche no podia tragar ni la saliva, ahora ya estoy mejor", "botox", 8, "urgent"),
    # wrapped in humour
    ("lol my lip is kinda purple and ice cold, fashion?", "dermal_filler", 1, "urgent"),
    ("well this is fun, half my face forgot how to smile haha", "surgery", 3, "urgent"),
    ("swallowing is an adventure today", "botox", 5, "urgent"),
    # by what the patient can no longer do, or in short sentences
    ("cant lie down in bed, feels like im drowning", "surgery", 3, "urgent"),
    ("al beber se me sale el agua y no puedo inflar las mejillas", "surgery", 4, "urgent"),
    ("can't read my phone, my left eye is all misty", "surgery", 2, "urgent"),
    ("bleeding through my dressing. still going. pressed 20 mins", "surgery", 1, "urgent"),
    ("cheek is like an egg on one side. wasnt like that this morning", "thread_lift", 1, "urgent"),
    ("SOB on exertion, sats 90 on my oximeter", "surgery", 4, "urgent"),
    ("my husband is driving me to A&E, my calf is huge", "surgery", 8, "urgent"),
    ("nomás le sube un lado de la boca al sonreír", "thread_lift", 2, "urgent"),
    ("next thing I knew I was on the kitchen floor", "surgery", 2, "urgent"),
    ("no mames, tengo 39.2 y tiemblo toda", "surgery", 5, "urgent"),
    ("like an elephant sat on me and it goes down my left arm", "surgery", 4, "urgent"),
    ("my lip looks like a plum and feels like an ice cube", "dermal_filler", 1, "urgent"),
    ("la punta de la nariz se ve como de cera", "dermal_filler", 0, "urgent"),
]


@pytest.mark.parametrize(("text", "procedure", "day", "label"), WARNING_SIGNS)
def test_it_recognises_a_warning_sign_however_it_is_worded(
    text: str, procedure: str, day: int, label: str
) -> None:
    assert classify(text, procedure=procedure, day=day).label == label


@pytest.mark.parametrize(
    ("text", "procedure", "day"),
    [
        ("my cheek feels weird", "botox", 3),
        ("algo no anda bien, me veo distinta de un lado", None, None),
        ("there's a dent in my cheek that wasn't there", "thread_lift", 12),
        ("me salio un herpes en el labio", "microneedling", 2),
        ("cold sore popped up on my top lip", "dermal_filler", 3),
    ],
)
def test_a_change_it_cannot_place_is_read_by_a_person_today(
    text: str, procedure: str | None, day: int | None
) -> None:
    assert classify(text, procedure=procedure, day=day).label == "concern"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("thanks!", "other"),
        ("ok 👍", "other"),
        ("feeling good", "normal"),
        ("much better, swelling is way down", "normal"),
        ("a purple bruise on my lip", "normal"),
        ("my forehead won't move at all, is that right?", "normal"),
    ],
)
def test_normal_needs_positive_evidence_and_thanks_are_other(text: str, label: str) -> None:
    assert classify(text).label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("leave me alone", "stop"),
        ("I no longer wish to receive these messages", "stop"),
        ("can you stop the reminders?", "stop"),
        ("basta de mensajes", "stop"),
        ("déjenme de escribir por favor", "stop"),
        ("stpo pls", "stop"),
        ("stoppp", "stop"),
        ("stop sneding these", "stop"),
        ("por favor no me vuelvan a escribir", "stop"),
        ("i really don't need your reminders any more", "stop"),
        ("please never text me again", "stop"),
        ("no me mandéis más, gracias", "stop"),
        ("cancelen los correos por favor", "stop"),
        ("volvés a escribirme los recordatorios?", "start"),
        ("who is this?", "help"),
        ("why am i getting these texts?", "help"),
        ("how do I make these stop?", "help"),
        ("por que me llegan estos mensajes?", "help"),
        ("I unsubscribed last week but I'd like the texts back please", "start"),
        ("quiero volver a recibir los mensajes", "start"),
        ("the pain won't stop", "concern"),
        ("I don't need these painkillers any more, all good", "normal"),
        ("help my face is drooping", "urgent"),
    ],
)
def test_compliance_words_are_honoured_in_any_reasonable_manner(text: str, label: str) -> None:
    assert classify(text).label == label


@pytest.mark.parametrize(
    ("text", "procedure", "label"),
    [
        ("what if my calf gets swollen and red?", "surgery", "other"),
        ("what if my calf is swollen and red? cos that's how it is now", "surgery", "urgent"),
        ("y si se me pone el labio blanco? porque así lo tengo ahora", "dermal_filler", "urgent"),
        # a passed sign is resolved by the words right after it, not by a later aside
        ("had some swelling yesterday, gone now", "surgery", "normal"),
        ("my right calf is red and hot. the other leg is normal. is ok?", "surgery", "urgent"),
    ],
)
def test_a_question_that_reports_the_sign_and_a_resolution_far_from_it_still_count(
    text: str, procedure: str, label: str
) -> None:
    assert classify(text, procedure=procedure, day=6).label == label


def test_a_forwarded_message_is_read_whole() -> None:
    text = "---------- Forwarded message ---------\nFrom: Kayla\n\nmy lip is white and cold"
    assert classify(text, "dermal_filler", 1).label == "urgent"
    quoted = "Fwd: from my sister\n\n> she says her lip went white and cold\n\nThanks"
    assert classify(quoted, "dermal_filler", 1).label == "urgent"


def test_a_pasted_warning_sign_list_counts_only_the_ticked_signs() -> None:
    ticked = "- trouble breathing or swallowing: no\n- double vision: no\n- drooping lid: yes"
    assert classify(ticked, "botox", 6).label != "normal"
    clear = "- trouble breathing or swallowing: no\n- double vision: no\n- weak arms: no"
    assert classify(clear, "botox", 6).label == "normal"


def test_a_long_email_is_read_in_windows_and_a_sign_in_the_middle_is_found() -> None:
    filler = "Thanks again for everything, the staff were lovely and kind. " * 120
    text = filler + "Also my lip has gone white and cold since lunch. " + filler
    assert len(text) < MAX_CHARS
    assert classify(text, procedure="dermal_filler", day=1).label == "urgent"


def test_a_reply_past_the_cap_is_flagged_for_a_person_to_read_whole() -> None:
    text = "Everything is going fine, thank you. " * (MAX_CHARS // 30)
    result = classify(text)
    assert result.label == "concern"
    assert result.matches[-1] == LONG_REPLY


def test_the_label_does_not_depend_on_the_hash_seed() -> None:
    # Sets of concepts iterate in hash order: a rule must not pick its concepts by it.
    script = (
        "from service.triage import classify;"
        "print(classify('no fever but pus coming out', procedure='thread_lift', day=12).matches)"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(outputs) == 1
