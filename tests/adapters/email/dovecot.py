"""A throwaway Dovecot IMAP server for tests (see /work/shared/FACTS.md).

Everything lives in a temporary directory: config, base_dir, state, log, the passwd-file
and the Maildirs (owned by ``nobody``; mail never runs as root). ``add_user`` gives each
test its own mailbox; ``deliver`` runs ``dovecot-lda``, which works with the server down.
"""

from __future__ import annotations

import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

LDA = "/usr/lib/dovecot/dovecot-lda"
PASSWORD = "secret"
USERS = 500


def available() -> str | None:
    """None when a Dovecot can run here, else the reason it cannot."""
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        return "the dovecot binary is absent (apt-get install -y dovecot-imapd)"
    if not Path(LDA).exists():
        return f"{LDA} is absent (apt-get install -y dovecot-imapd)"
    if os.geteuid() != 0:
        return "the Dovecot fixture starts its server as root"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kanal-dovecot-"))
        os.chmod(self.root, 0o755)  # nobody must reach the Maildirs
        self.host = "127.0.0.1"
        self.port = free_port()
        self.binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        self.base_dir = self.root / "run"
        self.mail = self.root / "mail"
        self.users = self.root / "users"
        self.conf = self.root / "dovecot.conf"
        self.log = self.root / "dovecot.log"
        for d in (self.base_dir, self.root / "state", self.mail):
            d.mkdir()
        self._nobody = pwd.getpwnam("nobody").pw_uid
        self._nogroup = grp.getgrnam("nogroup").gr_gid
        os.chown(self.mail, self._nobody, self._nogroup)
        # users exist from the start: the auth process caches the passwd-file
        self.pool = [f"u{i:03d}" for i in range(USERS)]
        self.users.write_text("".join(f"{u}:{{PLAIN}}{PASSWORD}\n" for u in self.pool))
        self.conf.write_text(f"""\
base_dir = {self.base_dir}
state_dir = {self.root / 'state'}
log_path = {self.log}
info_log_path = {self.log}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {self.users}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
""")

    # -- server ------------------------------------------------------------------------

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "master.pid"

    def start(self) -> Dovecot:
        # the daemon keeps inherited pipes open: never capture its output
        subprocess.run([self.binary, "-c", str(self.conf)], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log_text()}")

    def stop(self) -> None:
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (FileNotFoundError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        # the listener is gone once connecting fails
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                time.sleep(0.05)
            except OSError:
                break

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # -- mailboxes ---------------------------------------------------------------------

    def add_user(self) -> str:
        """A user with an empty mailbox, fresh for each call."""
        name = self.pool.pop(0)
        home = self.mail / name
        home.mkdir()
        os.chown(home, self._nobody, self._nogroup)
        return name

    def deliver(self, user: str, raw: bytes, sender: str = "sender@example.org") -> None:
        """dovecot-lda as the mail user (nobody), with no userdb lookup: it needs no
        running server, so mail can arrive during an outage."""
        env = {"USER": user, "HOME": str(self.mail / user), "PATH": os.environ["PATH"]}
        quiet = ["-o", "log_path=/dev/stderr", "-o", "info_log_path=/dev/stderr",
                 "-o", "stats_writer_socket_path="]  # root's files; nobody cannot open them
        result = subprocess.run([LDA, "-c", str(self.conf), *quiet, "-f", sender], input=raw,
                                capture_output=True, timeout=30, env=env,
                                user=self._nobody, group=self._nogroup, extra_groups=[])
        if result.returncode != 0:
            raise RuntimeError(f"dovecot-lda failed ({result.returncode}): "
                               f"{result.stderr.decode(errors='replace')}")
