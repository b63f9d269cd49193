"""What to do with one inbound reply: pure, ordered keyword handling.

The order is the safety order (STYLE convention 12):

1. an urgent symptom outranks everything, even an opt-out word in the same message
   ("STOP my lips are turning blue" pages the clinic; it does not silently opt out);
2. opt-out (STOP, UNSUBSCRIBE, PARAR...) - carriers require it to work at once;
3. HELP / START;
4. check-in answers (1/2/3);
5. the triage label (concern opens a review alert; normal and other are recorded).

A reply read as a symptom (urgent, concern, normal) that also has an opt-out word in it
("the pain won't stop") is handled as the symptom, and `opt_out_word` asks staff to
confirm whether the patient wants messages to stop.

A carrier keyword only counts when the message is the keyword plus filler words
("Stop.", "stop please", "STOP sending me texts"): "the pain won't stop" is a symptom
report, "cancel my appointment" is logistics. The classifier's own stop/start/help
label is honoured too (it recognises clear intent in longer sentences), except that a
bare "yes" only opts back in a patient who is opted out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.words import tokens


class Action(StrEnum):
    URGENT = "urgent"  # alert + page + safety-net reply
    OPT_OUT = "opt_out"  # stop SMS, cancel pending SMS, one confirmation, tell the clinic
    OPT_IN = "opt_in"  # SMS allowed again + confirmation
    HELP = "help"  # clinic name, phone and how to opt out
    CHECKIN = "checkin"  # a 1/2/3 answer; 3 asks for a call back
    CONCERN = "concern"  # review within the day + gentler reply
    NOTE = "note"  # recorded for the timeline, no reply


@dataclass(frozen=True)
class Decision:
    action: Action
    checkin: int | None = None
    # A reply read as a symptom also contains an opt-out word ("the pain won't stop"):
    # the symptom wins, and staff confirm whether the patient wants messages to stop.
    opt_out_word: bool = False


OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"}
    | {"parar", "para", "cancelar", "detener", "alto", "fin", "baja", "nomas", "salir"}
)
START_WORDS = frozenset({"start", "unstop", "optin", "subscribe", "comenzar", "iniciar", "alta"})
YES_WORDS = frozenset({"yes", "si", "y"})
HELP_WORDS = frozenset({"help", "info", "ayuda", "informacion"})

# Words that may surround a keyword without changing what it means.
FILLER = frozenset(
    {
        "please", "pls", "plz", "now", "me", "all", "text", "texts", "texting", "message",
        "messages", "msgs", "msg", "sms", "sending", "send", "thanks", "thank", "you",
        "thx", "ty", "ok", "okay", "it", "this", "these", "them", "the", "to", "from",
        "of", "us", "my", "number", "i", "want", "would", "like", "wanna", "id", "just",
        "and", "any", "more", "reminders", "subscription", "right", "away", "immediately",
        "por", "favor", "gracias", "ya", "mensajes", "mensaje", "de", "los", "mas",
        "quiero", "enviar", "envien", "manden", "todo", "todos", "textos", "dar", "darme",
        "answer", "option", "reply", "numero", "opcion", "respuesta", "is",
    }
)  # fmt: skip
_MAX_KEYWORD_TOKENS = 8  # a longer message is a sentence, not a carrier keyword
CHECKIN_ANSWERS = frozenset({"1", "2", "3"})


def _keyword_only(words: list[str], keywords: frozenset[str]) -> bool:
    if not words or len(words) > _MAX_KEYWORD_TOKENS:
        return False
    hits = [word for word in words if word in keywords]
    rest = [word for word in words if word not in keywords and word not in FILLER]
    return bool(hits) and not rest


def is_opt_out(text: str) -> bool:
    return _keyword_only(tokens(text), OPT_OUT_WORDS)


def is_opt_in(text: str, *, opted_out: bool) -> bool:
    words = tokens(text)
    if _keyword_only(words, START_WORDS):
        return True
    return opted_out and _keyword_only(words, YES_WORDS)


def is_help(text: str) -> bool:
    return _keyword_only(tokens(text), HELP_WORDS)


def checkin_answer(text: str) -> int | None:
    """1, 2 or 3 when the message is just that answer ("3", "#2", "3 please", "1️⃣")."""
    words = tokens(text)
    digits = [word for word in words if word.isdigit()]
    if len(digits) != 1 or digits[0] not in CHECKIN_ANSWERS:
        return None
    if any(word not in FILLER for word in words if not word.isdigit()):
        return None
    return int(digits[0])


def decide(
    *, text: str, label: str, checkin: int | None = None, opted_out: bool = False
) -> Decision:
    """The one action for a reply, given the classifier's label (DESIGN section 6).

    `checkin` is the classifier's reading of a check-in answer, if it gives one.
    """
    if label == "urgent":
        return Decision(Action.URGENT, opt_out_word=is_opt_out(text) or _mentions_stop(text))
    if label == "stop" or is_opt_out(text):
        return Decision(Action.OPT_OUT)
    if label == "help" or is_help(text):
        return Decision(Action.HELP)
    if is_opt_in(text, opted_out=opted_out) or (label == "start" and opted_out):
        return Decision(Action.OPT_IN)
    answer = checkin_answer(text) or checkin
    if answer in (1, 2, 3):
        return Decision(Action.CHECKIN, checkin=answer)
    if label == "concern":
        return Decision(Action.CONCERN, opt_out_word=_mentions_stop(text))
    return Decision(Action.NOTE, opt_out_word=label == "normal" and _mentions_stop(text))


def only_a_keyword(text: str, decision: Decision) -> bool:
    """A reply that is nothing but a compliance keyword (STOP, START, HELP, with filler
    words) or a check-in number: acted on automatically, with nothing for a person to
    read. A sentence the classifier read as a keyword ("I'm moving abroad, please stop
    the texts") is not: it still reaches the replies inbox."""
    if decision.action == Action.CHECKIN:
        return checkin_answer(text) is not None
    if decision.action in (Action.OPT_OUT, Action.OPT_IN, Action.HELP):
        return is_opt_out(text) or is_help(text) or is_opt_in(text, opted_out=True)
    return False


def _mentions_stop(text: str) -> bool:
    return any(word in OPT_OUT_WORDS - {"para", "end", "fin", "alto"} for word in tokens(text))
