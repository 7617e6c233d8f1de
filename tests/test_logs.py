import logging

import pytest

from gateway.logs import REDACTED, RedactingFilter, channel_secrets


@pytest.mark.parametrize("text", [
    "from 0812-3456-7890", "from +6281234567890", "from whatsapp:+6281234567890",
    "from 62 812 3456 7890", "mail siti.aminah@example.org", "key test-jaki-key in header",
    "Invalid 'To' Phone Number: whatsapp:ID.1234567890123456", "to ID.ENT.98123456",
], ids=["local-phone", "e164", "whatsapp", "spaced", "email", "secret",
        "whatsapp-business-scoped-id", "parent-business-scoped-id"])
def test_personal_data_and_secrets_are_redacted(text):
    f = RedactingFilter(secrets=["test-jaki-key"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (text,), None)
    f.filter(record)
    assert REDACTED in record.getMessage()
    for leak in ("3456", "siti", "test-jaki-key"):
        assert leak not in record.getMessage()


def test_ordinary_text_is_left_alone():
    f = RedactingFilter()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "inbox %s quarantined", (42,),
                               None)
    f.filter(record)
    assert record.getMessage() == "inbox 42 quarantined"


def test_exception_text_is_redacted_too():
    f = RedactingFilter()
    try:
        raise ValueError("bad number 081234567890")
    except ValueError:
        import sys
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    f.filter(record)
    assert "081234567890" not in record.exc_text


def test_adapter_secrets_are_collected(kanal):
    assert "test-jaki-key" in channel_secrets(kanal)


def test_a_secret_typed_in_later_is_redacted_from_then_on(make_kanal, settings, caplog):
    """After a reload, the log filter of ``kanal serve`` knows the new channel's token."""
    import logging

    from core.db import writing
    from gateway.logs import redact_channels

    kanal = make_kanal(settings=settings.model_copy(update={"secret_key": "k" * 32}))
    kanal.redactor = RedactingFilter()
    redact_channels(kanal.redactor, kanal)
    token = "999:AAH-typed-into-the-console-xyz"
    with writing(kanal.engine) as conn:
        kanal.configurator.add(conn, "telegram-2", "telegram", "telegram", "admin1")
        kanal.configurator.update(conn, "telegram-2", "admin1", secrets={"bot_token": token})
    kanal.reload_channels()  # still disabled: its secret is hidden all the same
    record = logging.LogRecord("kanal", logging.INFO, __file__, 1, "token %s", (token,), None)
    kanal.redactor.filter(record)
    assert token not in record.getMessage() and REDACTED in record.getMessage()
