"""The replies inbox: every reply that carries words is read and handled by a person.

Inbound handling files each reply here (`enter`); triage orders the inbox, it does not
decide whether anyone sees a reply. Staff mark replies handled and attribute a reply
from a shared number to one patient (`mark_handled`, `assign`); the response-time job
(`service.inbox.jobs`) opens a task and pages when an unread reply is past its time.
The inbox calls down into `service.alerts`, never up into `service.inbound`.
"""

from service.inbox.items import (
    InboxError,
    ReplyView,
    assign,
    enter,
    list_replies,
    mark_handled,
    mark_patient_handled,
    patient_ids_of,
    retime_unread,
)

__all__ = [
    "InboxError",
    "ReplyView",
    "assign",
    "enter",
    "list_replies",
    "mark_handled",
    "mark_patient_handled",
    "patient_ids_of",
    "retime_unread",
]
