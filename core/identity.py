"""Normalising reporters' handles so the same person is recognised across channels."""

from __future__ import annotations

import re

import phonenumbers

from core.canonical import Sender

_PHONE = re.compile(r"\+?[0-9(][0-9 ().-]*[0-9]")


def phone_e164(raw: str | None, region: str = "ID") -> str | None:
    """``0812…``, ``+62812…``, ``62812…`` and ``whatsapp:+62812…`` all give ``+62812…``.
    Only a phone number string is read as one: digits with spaces, dashes, dots or
    brackets, and a leading ``+``; letters (a WhatsApp ``ID.123…`` user id, ``tel:``)
    never. The number must be valid, or at least of a possible length with 8 digits or
    more after the country code (a citizen on a range newer than phonenumbers' data must
    still get an answer)."""
    if not raw:
        return None
    text = raw.strip()
    if text.lower().startswith("whatsapp:"):
        text = text[len("whatsapp:"):]
    if not _PHONE.fullmatch(text):
        return None
    if text.startswith("62"):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not (phonenumbers.is_valid_number(number) or (
            phonenumbers.is_possible_number(number) and len(str(number.national_number)) >= 8)):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_address(raw: str | None) -> str | None:
    if not raw or "@" not in raw:
        return None
    local, _, domain = raw.strip().rpartition("@")
    if not local or "." not in domain:
        return None
    return f"{local}@{domain.lower()}"


def contact_senders(phone: str | None, email: str | None, *, name: str | None = None,
                    prefix: str = "") -> list[Sender]:
    """Senders for a phone and an email given with a message. ``prefix`` keeps
    self-declared, unverified contacts (a web form) apart from verified ones."""
    out = []
    if (p := phone_e164(phone)) is not None:
        out.append(Sender(prefix + "phone", p, name))
    if (e := email_address(email)) is not None:
        out.append(Sender(prefix + "email", e, name))
    return out
