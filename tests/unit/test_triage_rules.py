"""The general rules added for replies written outside the project: one table each.

Numbers (temperatures, pain scores), the scope of a negation across "and", questions
about the future, colour changes, pain medicine that does not help, fainting and
confusion, carers writing for the patient, infection signs with a fever, and words
that look like symptoms but are not.
"""

from __future__ import annotations

import pytest

from service.triage import lexicon_only
from service.triage.measures import mark_scores, mark_temperatures
from service.triage.text import normalise, tokenise

TEMPERATURES = [  # 38 °C / 100.4 °F and up is a fever; a lower reading reassures
    ("temp 38.9", "concern"),
    ("39C", "concern"),
    ("it's 39 °C", "concern"),
    ("temp of 101", "concern"),
    ("fever of 102", "concern"),
    ("103F", "concern"),
    ("39 grados", "concern"),
    ("tengo 39 y la herida esta supurando", "urgent"),  # "tengo 39": a temperature
    ("tengo 39 anos", "other"),  # an age
    ("tengo 38 de fiebre", "concern"),
    ("thermometer says 38,4", "concern"),
    ("temp 37.2 all good", "normal"),
    ("slight temp of 37.8", "concern"),  # low-grade: the reply's "temp" still counts
    ("temperature is 98.6", "normal"),
    ("I'm 39 and it's my first filler", "other"),
    ("can I book 2 sessions for 100 pounds", "other"),
]
PAIN_SCORES = [  # 8-10 out of 10 is severe pain; 6-7 a concern
    ("pain 9/10", "urgent"),
    ("pain 9/10, nothing is helping", "urgent"),
    ("pain is 8 out of 10", "urgent"),
    ("10/10 pain all night", "urgent"),
    ("el dolor es 9 de 10", "urgent"),
    ("it's 9/10 even after my meds", "urgent"),
    ("pain about 7/10", "concern"),
    ("pain 2/10, fine", "normal"),
    ("results are 10/10, thank you!", "normal"),
]
NEGATION_AND_SCOPE = [  # "and" starts a new assertion; "or" and a repeated "no" do not
    ("no fever and pus coming out", "concern"),
    ("no fever and there's pus", "concern"),
    ("not swollen and my lip is white", "urgent"),
    ("no fever and no pus", "normal"),
    ("no fever or pus", "normal"),
    ("no tengo fiebre y sale pus", "concern"),
    ("no fever and the wound is fine", "normal"),
]
FUTURE_QUESTIONS = [  # a question about what will happen is not a present symptom
    ("will my lips be swollen for the wedding?", "other"),
    ("will it bruise?", "other"),
    ("is it going to swell tomorrow?", "other"),
    ("is my lip going to be lumpy?", "other"),
    ("se me va a hinchar el labio?", "other"),
    ("will my lips be swollen? they are turning white now", "urgent"),
    ("could my lip be turning blue?", "urgent"),  # a worry about now, not the future
]
COLOUR_CHANGES = [
    ("still blue and I feel faint", "urgent"),
    ("my lip looks kind of purple-ish", "urgent"),
    ("skin looks greyish near the injection", "urgent"),
    ("the area is marbled", "urgent"),
    ("tip of my nose is cold to the touch", "urgent"),
    ("labio frio y amoratado", "urgent"),
    ("a purple bruise on my lip", "normal"),
    ("my lip is purple and bruised", "normal"),
    ("no bruise, but my lip is purple", "urgent"),  # a negated bruise explains nothing
]
PAIN_MEDICINE_FAILS = [  # "pain medicine doesn't help" is a red flag of every plan
    ("the tablets aren't helping at all", "urgent"),
    ("co-codamol isn't touching it", "urgent"),
    ("took nurofen, no difference", "urgent"),
    ("painkillers are wearing off too fast and it still hurts", "urgent"),
    ("hurts even with paracetamol", "urgent"),
    ("los calmantes no me hacen nada", "urgent"),
    ("paracetamol helps, just a bit sore", "normal"),
]
FAINTING_AND_CONFUSION = [
    ("I feel faint", "urgent"),
    ("felt a bit faint earlier and still dizzy", "urgent"),
    ("faint and clammy", "urgent"),
    ("felt faint yesterday but fine today", "concern"),
    ("a faint bruise on my chin", "normal"),
    ("she's disorientated since the op", "urgent"),
    ("he doesn't know where he is", "urgent"),
    ("esta muy confundida", "urgent"),
    ("I'm confused about the aftercare leaflet", "other"),
]
CARERS_AND_OTHERS = [  # a carer writes about the patient; a combination is a red flag
    ("I'm writing on behalf of my mother, she has a fever and pus", "urgent"),
    ("my husband has a high fever and his incision is oozing", "urgent"),
    ("my daughter has a fever", "concern"),
]
FEVER_WITH_INFECTION_SIGNS = [
    ("fever of 102 and my face is red and swollen", "urgent"),
    ("cheek swollen and hot, temp 38.4", "urgent"),
    ("38.5 and the incision is red and angry", "urgent"),
    ("burning up and there's pus", "urgent"),
    ("feel hot and shivery and the wound is oozing yellow", "urgent"),
    ("face is red and swollen", "normal"),  # day unknown: early healing
    ("temp 38.2 and a bit swollen", "concern"),
]
PAIRS = [  # two concepts in one clause, either order, any distance; "," or "but" ends it
    ("sharp pain in the middle of my chest", "urgent"),
    ("siento presion en el pecho", "urgent"),
    ("se me cierra la garganta", "urgent"),
    ("respiro con dificultad", "urgent"),
    ("my breathing sounds noisy and whistly", "urgent"),
    ("there's a grey curtain over part of my vision", "urgent"),
    ("her face looks twisted and she can't lift her arm", "urgent"),
    ("blood is running down my face and won't stop", "urgent"),
    ("ibuprofen has done nothing", "urgent"),
    ("the pills aren't doing a thing", "urgent"),
    ("face and tongue have puffed up", "urgent"),
    ("my chest isn't sore", "normal"),  # a negation inside the pair
    ("no trouble breathing", "normal"),
    ("breathing fine, no trouble", "normal"),
    ("my chest is fine, the pain is in my cheek", "normal"),  # the comma ends the pair
    ("tengo la cara torcida cuando sonrio", "urgent"),  # a longer phrase holds the pair
    ("my speech is weird", "urgent"),
    ("one side of my face isn't working", "urgent"),
    ("i cant raise my left arm", "urgent"),
    ("my airway feels restricted", "urgent"),
    ("chest feels like an elephant is sitting on it", "urgent"),
    ("half my vision is missing", "urgent"),
    ("a small hole has opened up in the incision", "concern"),
]
MORE_SYNONYMS = [
    ("struggling to get food down", "urgent"),
    ("saliva keeps pooling in my mouth", "urgent"),
    ("no vision in my right eye", "urgent"),
    ("keep losing consciousness", "urgent"),
    ("we can't wake him up properly", "urgent"),
    ("I went dizzy and hit the floor", "urgent"),
    ("haemorrhaging from the incision", "urgent"),
    ("nothing touches the pain", "urgent"),
    ("ninguna pastilla me quita el dolor", "urgent"),
    ("la zona del relleno esta blanca", "urgent"),
    ("skin where the filler is has gone really dark", "urgent"),
    ("the bruise has gone dark", "normal"),  # a bruise explains the colour
    ("boiling hot and the swelling is spreading", "urgent"),
    ("redness is moving down my neck and I'm feverish", "urgent"),
    ("had a nosebleed, it stopped after 10 minutes", "normal"),
    ("bit achy but nothing major", "normal"),
    ("restart texts please", "start"),
    ("feels like I'm breathing through a straw", "urgent"),
    ("drinks are coming back out my nose", "urgent"),
    ("numb and weak down one side of my body", "urgent"),
    ("the side of my nose is dark", "urgent"),
    ("the bandage is soaked", "urgent"),
    ("bleeding for an hour now", "urgent"),
    ("taken everything I'm allowed and it's not shifting", "urgent"),
    ("paracetamol isn't making a dent", "urgent"),
    ("pain level 10", "urgent"),
    ("the red area has doubled in size and I have a fever", "urgent"),
    ("fever 38.4, cheek hot red and getting bigger", "urgent"),
    ("temp of 38.9 and the wound has gone green", "urgent"),  # "gone green" is no recovery
    ("I had blurry vision on day one but it went after an hour", "urgent"),
    ("had a little bleed yesterday but nothing since", "normal"),
    ("I'm breathless with excitement to see the results", "normal"),
    ("I feel like I'm suffocating", "urgent"),
    ("breathing's gone funny", "urgent"),  # a noun's "'s" is dropped
    ("I see two of everything", "urgent"),
    ("her smile has gone on one side", "urgent"),
    ("I can't puff my cheeks out", "urgent"),
    ("my face looks uneven all of a sudden", "urgent"),
    ("no siento ni puedo mover el lado izquierdo de la cara", "urgent"),
    ("she's acting strange", "urgent"),
    ("he doesn't know what day it is", "urgent"),
    ("I'm confused about the leaflet", "other"),
    ("fever and a yellowy ooze at the incision", "urgent"),
    ("my face has blown up like a balloon", "urgent"),
    ("I can't open my eyes for the swelling", "urgent"),
    ("the painkillers only last 20 minutes", "urgent"),
    ("one of the stitches has popped", "concern"),
    ("it throbbed a bit last night but it's settled now", "normal"),
    ("Yes please send them again", "start"),
]
NEGATION_IN_A_GAP = [  # a pattern's ".." never skips a negation
    ("lips not white or blue, just swollen", "normal"),
    ("my lips are not blue", "normal"),  # no term left: not a red flag
    ("lips are really blue", "urgent"),
    ("breathing is not fine", "urgent"),  # the pattern's own "not", not a gap
    ("my face is not moving on the left", "urgent"),
]
BACK_TO_NORMAL = [
    ("my lips went a bit white but they're back to normal", "urgent"),  # a resolved red flag
    ("the area has gone white and it's not going back to normal", "urgent"),
    ("whitish area on my lip that won't go back to pink", "urgent"),
    ("eyes were watering during the treatment, all fine after", "normal"),
]
MORE_WORDS = [
    ("I can only see half of things", "urgent"),
    ("my mouth has slipped on one side", "urgent"),
    ("bleeding heaps", "urgent"),
    ("I did faint when I saw the needle but I'm fine now", "concern"),
    ("sorry, can't talk right now", "other"),
    ("I've been having panic attacks", "concern"),
    ("having an asthma type attack", "urgent"),
    ("I'm gagging when I try to swallow", "urgent"),
    ("seeing zigzag lines", "urgent"),
    ("I can still see lines on my forehead", "other"),  # wrinkles, not a vision change
    ("skin looks like it's dying where the filler was", "urgent"),
    ("drain bottle filling up with blood", "urgent"),
    ("codeine doesn't touch it", "urgent"),
    ("vision and breathing both fine", "normal"),
    ("i need to sit up to breathe", "urgent"),
    ("temp 38.8 and loads of gunk from the incision", "urgent"),
    ("no problems breathing or swallowing", "normal"),  # a reassurance's "no" negates
    ("no issues with my vision", "normal"),
    ("air hunger, can't fill my lungs", "urgent"),
    ("my face has gone floppy on one side", "urgent"),
    ("I can't lift my eyebrow or smile on the right", "urgent"),
    ("I can't stop smiling, love it", "normal"),
    ("she can't get her words out", "urgent"),
    ("he's incoherent", "urgent"),
    ("38.5 temp, swollen hot cheek", "urgent"),
    ("heart pain", "urgent"),
    ("lips swelling and itchy all over", "urgent"),
    ("I can't stop coughing and I'm struggling for air", "urgent"),
    ("feels like my windpipe is squeezed", "urgent"),
]
DROOP_AND_EYELID = [  # "drooping" alone is a stroke sign unless a lid or brow is named
    ("drooping", "urgent"),
    ("everything is drooping", "urgent"),
    ("my eyelid feels heavy and keeps drooping", "concern"),
    ("my eyelid is drooping and my mouth droops too", "urgent"),
    ("my brow is drooping. My face is drooping too", "urgent"),
]
LOOK_ALIKES = [
    ("can I use numbing cream next time?", "other"),
    ("what's the emergency number?", "other"),
    ("should I stop my blood thinners?", "other"),
    ("tengo una pregunta sobre mi cita", "other"),
    ("my forehead feels a bit heavy", "normal"),
]


@pytest.mark.parametrize(
    ("text", "label"),
    TEMPERATURES
    + PAIN_SCORES
    + NEGATION_AND_SCOPE
    + FUTURE_QUESTIONS
    + COLOUR_CHANGES
    + PAIN_MEDICINE_FAILS
    + FAINTING_AND_CONFUSION
    + CARERS_AND_OTHERS
    + FEVER_WITH_INFECTION_SIGNS
    + PAIRS
    + MORE_SYNONYMS
    + DROOP_AND_EYELID
    + NEGATION_IN_A_GAP
    + BACK_TO_NORMAL
    + MORE_WORDS
    + LOOK_ALIKES,
)
def test_it_applies_the_general_rules(text: str, label: str) -> None:
    result = lexicon_only(text)  # the lexicon's own rules (the learned model has its tests)
    assert result.label == label, result


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("temp 38.5", ["temp", "fever(38.5)"]),
        ("39c", ["fever(39)", "c"]),
        ("temp 37,2", ["temp", "normaltemp(37.2)"]),
        ("age 39", ["age", "39"]),
        ("101", ["101"]),
        ("temp of 101", ["temp", "of", "fever(101)"]),
        ("38.6 in the evening", ["fever(38.6)", "in", "the", "evening"]),
    ],
)
def test_temperature_readings_become_fever_or_normal_tokens(text: str, tokens: list[str]) -> None:
    marked = mark_temperatures(tokenise(text))
    assert [t.replace("37,2", "37.2") for t in marked] == tokens


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("pain 9/10", "scorehigh"),
        ("8 out of 10", "scorehigh"),
        ("9 de 10", "scorehigh"),
        ("7/10", "scoremid"),
        ("3 / 10", "scorelow"),
        ("pain level 10", "scorehigh"),
        ("pain is at a 9", "scorehigh"),
        ("pain 7 today", "scoremid"),
    ],
)
def test_pain_scores_become_one_word(text: str, word: str) -> None:
    assert word in mark_scores(text).split()


@pytest.mark.parametrize(
    "text", ["pain for 3 days", "pain since 3pm", "pain 38.5", "pain 2/3 days"]
)
def test_numbers_near_pain_that_are_not_scores_stay_numbers(text: str) -> None:
    assert "score" not in mark_scores(text)


def test_a_decimal_is_one_token_and_digits_split_from_letters() -> None:
    assert tokenise("38.5c, 3pm") == ["38.5", "c", ",", "3", "pm"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a noun's apostrophe-s is dropped, a pronoun's kept
        ("breathing's gone funny", "breathing gone funny"),
        ("mum's face", "mum face"),
        ("it's fine", "its fine"),
        ("that's ok", "thats ok"),
        ("she's confused", "shes confused"),
        ("what\u2019s up", "whats up"),
        # dictation: spoken punctuation ends a clause, spoken temperatures are numbers
        ("it hurts period i flew back", "it hurts . i flew back"),
        ("my period started", "my period started"),
        ("for a short period of time", "for a short period of time"),
        ("swollen comma hot new line sore", "swollen , hot . sore"),
        ("temp of one hundred one", "temp of 101"),
        ("a hundred and two fever", "102 fever"),
        ("one oh two point five", "102.5"),
        ("38 point 9", "38.9"),
        ("tengo treinta y nueve punto dos", "tengo 39.2"),
        ("el punto se abrio", "el punto se abrio"),
        ("un subscribe me", "unsubscribe me"),
        ("un-subscribe", "unsubscribe"),
        # an opening "si" that asks nothing is an unaccented "sí"
        ("Si tengo la piel palida", "yes tengo la piel palida"),
        ("si tengo fiebre?", "si tengo fiebre?"),
        ("si no mejora llamo", "si no mejora llamo"),
        ("sigo igual", "sigo igual"),
        # how much better, not how much swelling
        ("mucho mejor la hinchazon", "mejor la hinchazon"),
        ("so much better the swelling", "much better the swelling"),
        ("mucho peor la hinchazon", "mucho peor la hinchazon"),
    ],
)
def test_a_reply_reads_as_its_writer_meant_it(text: str, expected: str) -> None:
    assert normalise(text, {}) == expected
