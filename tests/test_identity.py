"""Only a phone number string becomes a phone: anything else (a WhatsApp business-scoped
user id, a word with digits in it) is not read as one."""

from __future__ import annotations

import pytest

from core.identity import phone_e164

PHONES = [
    ("e164", "+6281234567890", "+6281234567890"),
    ("local", "081234567890", "+6281234567890"),
    ("local_with_dashes", "0812-3456-7890", "+6281234567890"),
    ("spaced", "+62 812 3456 7890", "+6281234567890"),
    ("country_code_without_plus", "6281234567890", "+6281234567890"),
    ("whatsapp_address", "whatsapp:+6281234567890", "+6281234567890"),
    ("jakarta_landline", "(021) 555-1234", "+62215551234"),
    ("foreign_e164", "+1 415 555 0123", "+14155550123"),
    ("a_range_newer_than_the_library", "+62 840 1234 5678", "+6284012345678"),
]
NOT_PHONES = [
    ("whatsapp_business_scoped_id", "whatsapp:ID.123456789"),
    ("business_scoped_id", "ID.123456789"),
    ("long_business_scoped_id", "US.13491208655302741918"),
    ("parent_business_scoped_id", "ID.ENT.11815799212886844830"),
    ("letters_before_the_number", "abc0812345678"),
    ("letters_after_the_number", "081234567890x"),
    ("vanity_number", "1-800-FLOWERS"),
    ("tel_uri", "tel:+6281234567890"),
    ("a_plus_inside", "62+81234567890"),
    ("too_short", "12345"),
    ("not_a_real_number", "+62812345"),
    ("empty_whatsapp_address", "whatsapp:"),
    ("blank", "   "),
]


@pytest.mark.parametrize("label, raw, e164", PHONES, ids=[p[0] for p in PHONES])
def test_phone_numbers_are_read(label, raw, e164):
    assert phone_e164(raw) == e164


@pytest.mark.parametrize("label, raw", NOT_PHONES, ids=[p[0] for p in NOT_PHONES])
def test_what_is_not_a_phone_number_never_becomes_one(label, raw):
    assert phone_e164(raw) is None
