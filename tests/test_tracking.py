import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import tracking
from core.tracking import ALPHABET, InvalidTrackingID

ids = st.builds(lambda data: data + tracking.check_symbol(data),
                st.text(alphabet=ALPHABET, min_size=8, max_size=8))


def test_alphabet_has_no_ambiguous_characters():
    assert not set("0O1IL") & set(ALPHABET)
    assert len(ALPHABET) == 31 and len(set(ALPHABET)) == 31


def test_generated_ids_are_valid_short_and_random():
    drawn = {tracking.generate() for _ in range(2000)}
    assert len(drawn) == 2000
    for tid in drawn:
        assert tracking.is_valid(tid)
        assert len(tracking.display(tid)) <= 12
    # at least 30 random bits
    assert len(ALPHABET) ** tracking.DATA_LENGTH >= 2**30


@given(ids, st.integers(0, tracking.LENGTH - 1), st.sampled_from(ALPHABET))
@settings(max_examples=3000)
def test_every_single_substitution_is_detected(tid, position, symbol):
    if tid[position] == symbol:
        return
    typo = tid[:position] + symbol + tid[position + 1:]
    assert not tracking.is_valid(typo)


@given(ids, st.integers(0, tracking.LENGTH - 2))
@settings(max_examples=3000)
def test_every_adjacent_swap_is_detected(tid, position):
    a, b = tid[position], tid[position + 1]
    if a == b:
        return
    swapped = tid[:position] + b + a + tid[position + 2:]
    assert not tracking.is_valid(swapped)


def test_exhaustively_for_one_id():
    tid = tracking.generate(random.Random(7).randrange)
    for i in range(tracking.LENGTH):
        for symbol in ALPHABET:
            if symbol != tid[i]:
                assert not tracking.is_valid(tid[:i] + symbol + tid[i + 1:])
        if i + 1 < tracking.LENGTH and tid[i] != tid[i + 1]:
            assert not tracking.is_valid(tid[:i] + tid[i + 1] + tid[i] + tid[i + 2:])


@pytest.mark.parametrize("typed", [
    "{d}", "{c}", "{lower}", " {d} ", "{spaced}", "{c_lower_dashless}",
], ids=["display", "compact", "lowercase", "padded", "spaces", "lower-compact"])
def test_normalize_accepts_what_citizens_type(typed):
    tid = tracking.generate()
    d = tracking.display(tid)
    text = typed.format(d=d, c=tid, lower=d.lower(), spaced=d.replace("-", " "),
                        c_lower_dashless=tid.lower())
    assert tracking.normalize(text) == tid


@pytest.mark.parametrize("text,reason", [
    ("", "format"), ("ABC", "format"), ("JK7Q-M4XA-99", "format"), ("0000-0000-0", "format"),
], ids=["empty", "short", "long", "ambiguous-digits"])
def test_normalize_rejects_non_ids(text, reason):
    with pytest.raises(InvalidTrackingID) as err:
        tracking.normalize(text)
    assert err.value.reason == reason


def test_normalize_flags_mistyped_check_symbol():
    tid = tracking.generate()
    wrong = next(s for s in ALPHABET if s != tid[-1])
    with pytest.raises(InvalidTrackingID) as err:
        tracking.normalize(tid[:-1] + wrong)
    assert err.value.reason == "checksum"


@pytest.mark.parametrize("template", [
    "status {d}", "Re: Laporan {d} belum ditangani", "nomor {lower} tolong dicek",
    "{compact}", "cek ({d}).",
], ids=["status", "subject", "lowercase", "compact", "punctuated"])
def test_found_in_text(template):
    tid = tracking.generate()
    text = template.format(d=tracking.display(tid), lower=tracking.display(tid).lower(),
                           compact=tid)
    assert list(tracking.find_in_text(text)) == [tid]


def test_not_found_inside_longer_words_or_with_bad_check():
    tid = tracking.generate()
    wrong = next(s for s in ALPHABET if s != tid[-1])
    assert list(tracking.find_in_text(f"X{tid}")) == []
    assert list(tracking.find_in_text(tid[:-1] + wrong)) == []
    assert list(tracking.find_in_text(None)) == []
