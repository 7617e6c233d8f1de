import pytest

from core import keywords


@pytest.mark.parametrize("text,expected", [
    ("STATUS JK7Q-M4XA-9", ("status", "JK7Q-M4XA-9")),
    ("cek jk7qm4xa9", ("status", "jk7qm4xa9")),
    ("/status JK7Q M4XA 9", ("status", "JK7Q M4XA 9")),
    ("/status@kanal_bot JK7QM4XA9", ("status", "JK7QM4XA9")),
    ("status", ("status", None)),
    ("STOP", ("opt_out", None)),
    ("berhenti", ("opt_out", None)),
    ("Mulai", ("opt_in", None)),
    ("/start", ("start", None)),
    ("/start laporan-banjir", ("start", None)),
    ("Cek saluran air di depan rumah, mampet", None),
    ("statusnya bagaimana pak", None),
    ("Jalan rusak di depan sekolah", None),
    ("", None),
], ids=["status", "cek-lower", "slash-status-spaced", "bot-suffix", "bare-status", "stop",
        "berhenti", "mulai", "start", "start-deep-link", "cek-is-a-complaint", "status-prefix-word",
        "complaint", "empty"])
def test_keywords(text, expected):
    assert keywords.parse(text) == expected
