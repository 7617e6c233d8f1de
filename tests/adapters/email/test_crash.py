"""A kanal process killed (SIGKILL) between the inbox commit and the cursor save: the next
process re-reads that mail, and the inbox's (channel, Message-ID) key keeps it single."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from core.models import InboxItem, Report
from tests.adapters.email.conftest import email_plugins
from tests.adapters.email.test_imap import count, cursor, mail

ROOT = Path(__file__).parents[3]

# a child kanal that polls once and dies where a crash would hurt most
CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, sys.argv[1])
    from core.settings import KanalSettings
    import gateway.runtime as runtime
    from adapters.email import plugin

    def die(*args, **kw):  # the inbox is committed; the cursor is not saved yet
        os.kill(os.getpid(), signal.SIGKILL)

    runtime.set_cursor = die
    settings = KanalSettings.model_validate_json(sys.stdin.read())
    kanal = runtime.Kanal(settings, env={}, extra_plugins=tuple(
        [plugin] if sys.argv[2] == "plugin" else []))
    assert kanal.channel("email").state == "ready", kanal.channel("email").reason
    kanal.poll_channel("email")
    print("not killed")
""")


def test_kill_between_inbox_commit_and_cursor_save_loses_and_doubles_nothing(
        email_kanal, mailbox):
    for n in (1, 2, 3):
        mailbox.deliver(mail(n))
    before = cursor(email_kanal)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), "plugin" if email_plugins() else "-"],
        input=email_kanal.settings.model_dump_json(), capture_output=True, text=True,
        timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    # the dead process committed the mail (and made reports) but never moved the cursor
    assert count(email_kanal, InboxItem) == 3
    assert cursor(email_kanal) == before
    mailbox.deliver(mail(4))
    assert email_kanal.poll_channel("email") == 4  # all re-read from the old cursor
    assert count(email_kanal, InboxItem) == 4 and count(email_kanal, Report) == 4
    assert cursor(email_kanal).endswith(":4")
    assert email_kanal.poll_channel("email") == 0
