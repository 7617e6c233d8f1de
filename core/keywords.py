"""Keywords citizens type on conversational channels (SMS, WhatsApp, Telegram)."""

from __future__ import annotations

import re

_STATUS = re.compile(r"^\s*/?(?:status|cek)(?:@\w+)?(?=$|[\s:#])\s*[:#]?\s*(?P<arg>\S.*?)?\s*$",
                     re.I)
# "4", "4.", "2 lampu masih mati", "5/5 mantap", "3 dari 5": a rating when the sender has a
# finished report to rate (core.replies.claim_ratings), else an ordinary message
_RATING = re.compile(r"^\s*(?P<score>[1-5])(?![.,]?\d)(?:\s*/\s*5|\s+dari\s+5)?"
                     r"(?:(?:\s*[.,:;!)\-]+\s*|\s+)(?P<comment>.*?))?\s*$", re.I | re.S)
_ID_SHAPED = re.compile(r"^[0-9A-Za-z](?:[\s.-]?[0-9A-Za-z]){8}$")
_SIMPLE = {
    "stop": "opt_out", "berhenti": "opt_out", "unsubscribe": "opt_out",
    "mulai": "opt_in", "start": "opt_in",
    "/start": "start",
}


def parse(text: str | None) -> tuple[str, str | None] | None:
    """(intent, argument) when the whole message is a keyword, else None.

    ``STATUS JK7Q-M4XA-9``, ``cek jk7qm4xa9`` and ``/status JK7Q M4XA 9`` ask for a status
    (the argument must be shaped like a tracking ID, or absent);
    ``STOP``/``BERHENTI`` opt out, ``MULAI`` opts back in; Telegram's ``/start`` greets;
    a digit 1-5 first (``2 lampu masih mati``) may be a rating (the argument is the text).
    """
    if not text:
        return None
    stripped = text.strip()
    word = stripped.split("@")[0].lower() if stripped.startswith("/") else stripped.lower()
    if word.startswith("/start ") or word.startswith("/start@"):  # a t.me/<bot>?start= link
        return "start", None
    if word in _SIMPLE:
        return _SIMPLE[word], None
    match = _STATUS.match(stripped)
    if match:
        arg = match.group("arg")
        # "cek saluran air di depan rumah" is a complaint, not a status request
        if arg is None or _ID_SHAPED.match(arg):
            return "status", arg
    if _RATING.match(stripped):
        return "rating", stripped
    return None


def rating_reply(text: str | None) -> tuple[int, str | None] | None:
    """(score, comment) when a message is a rating reply: a digit 1-5 first, a comment
    after it if any. ``None`` for anything else ("10", "lampu mati")."""
    match = _RATING.match(text or "")
    if match is None:
        return None
    return int(match.group("score")), (match.group("comment") or "").strip() or None
