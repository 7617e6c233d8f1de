"""Tracking IDs: short, typo-proof, unguessable report numbers.

Eight random symbols plus one check symbol over a 31-symbol alphabet that has no
0/O, 1/I/L. 31 is prime and every position has a distinct non-zero weight, so the
weighted sum mod 31 changes under every single-symbol substitution and every swap of
two adjacent symbols (the weights of neighbours differ by one). 31**8 gives about
39.6 random bits. Displayed as ``JK7Q-M4XA-9`` (11 characters).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, prime
DATA_LENGTH = 8
LENGTH = DATA_LENGTH + 1
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_IGNORED = re.compile(r"[\s\-_.]+")
# Nine alphabet symbols, optionally grouped 4-4-1 by dashes or spaces, standing alone.
_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])([2-9A-Za-z]{4})[\s-]?([2-9A-Za-z]{4})[\s-]?([2-9A-Za-z])(?![0-9A-Za-z])"
)


class InvalidTrackingID(ValueError):
    """Raised for input that is not a tracking ID; ``reason`` is ``format`` or ``checksum``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _weighted_sum(symbols: str) -> int:
    return sum((i + 1) * _VALUE[ch] for i, ch in enumerate(symbols)) % BASE


def check_symbol(data: str) -> str:
    """The check symbol that makes the weighted sum of ``data + check`` zero mod 31."""
    partial = _weighted_sum(data)
    weight = len(data) + 1
    # solve partial + weight * v == 0 (mod 31); weight is invertible because 31 is prime
    value = (-partial * pow(weight, -1, BASE)) % BASE
    return ALPHABET[value]


def is_valid(compact: str) -> bool:
    return (
        len(compact) == LENGTH
        and all(ch in _VALUE for ch in compact)
        and _weighted_sum(compact) == 0
    )


SPACE = BASE ** DATA_LENGTH


def generate(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A new random tracking ID in compact form (9 symbols, no dashes): one uniform draw
    below 31**8, written in base 31."""
    value = randbelow(SPACE)
    symbols = []
    for _ in range(DATA_LENGTH):
        value, digit = divmod(value, BASE)
        symbols.append(ALPHABET[digit])
    data = "".join(symbols)
    return data + check_symbol(data)


def display(compact: str) -> str:
    """``JK7QM4XA9`` -> ``JK7Q-M4XA-9``."""
    return f"{compact[:4]}-{compact[4:8]}-{compact[8:]}"


def normalize(text: str) -> str:
    """Canonical compact form of what a citizen typed; raises InvalidTrackingID.

    Case does not matter, and dashes, dots, underscores and spaces are ignored.
    """
    compact = _IGNORED.sub("", text or "").upper()
    if len(compact) != LENGTH or any(ch not in _VALUE for ch in compact):
        raise InvalidTrackingID("format", "not a tracking ID")
    if _weighted_sum(compact) != 0:
        raise InvalidTrackingID("checksum", "the check symbol does not match")
    return compact


def find_in_text(text: str | None) -> Iterator[str]:
    """Every valid tracking ID written in ``text``, in order, compact form."""
    if not text:
        return
    seen = set()
    for match in _IN_TEXT.finditer(text):
        compact = "".join(match.groups()).upper()
        if compact not in seen and is_valid(compact):
            seen.add(compact)
            yield compact
