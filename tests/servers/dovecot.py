"""A real Dovecot IMAP server on loopback, run from a config template in a temp dir.

Tests and the IMAP bench start their own ``dovecot -F`` (never the system
service) with its own base_dir, state_dir, log file, users file and maildirs.
It listens on two free loopback ports: plain IMAP (STARTTLS offered) and
IMAPS, both with a self-signed certificate made by the ``openssl`` CLI.
``stop()``/``start()`` let a test take the server away mid-run and bring it
back on the same ports.

A missing Dovecot is a failure, not a skip: the test command installs it
(``.ci/install-dovecot.sh``), so silently skipping would hide lost coverage.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

DOVECOT_BIN = os.environ.get("SEPDESK_DOVECOT", "/usr/sbin/dovecot")
HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
STOP_GRACE_S = 2.0

CONFIG_TEMPLATE = """\
# Generated for one test run; see tests/servers/dovecot.py.
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
instance_name = sepdesk-test-{port}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 0
first_valid_gid = 0
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
ssl = yes
ssl_cert = <{root}/tls/cert.pem
ssl_key = <{root}/tls/key.pem
mail_location = maildir:~/Maildir
mail_fsync = never
protocol imap {{
  mail_max_userip_connections = 100
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
"""


class DovecotMissing(RuntimeError):
    """Raised when the dovecot binary is not installed (run .ci/install-dovecot.sh)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _service_users() -> tuple[str, str, str]:
    """(internal user, its group, login user): Dovecot's own accounts when root, else ourselves."""
    me = pwd.getpwuid(os.getuid())
    if os.getuid() != 0:
        return me.pw_name, _group_name(me.pw_gid), me.pw_name
    try:
        internal = pwd.getpwnam("dovecot")
        login = pwd.getpwnam("dovenull")
    except KeyError:
        return me.pw_name, _group_name(me.pw_gid), me.pw_name
    return internal.pw_name, _group_name(internal.pw_gid), login.pw_name


def _mail_owner() -> tuple[int, int]:
    """uid/gid owning the maildirs: ourselves, or ``nobody`` as root (Dovecot refuses uid 0)."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


def _make_cert(tls_dir: Path) -> None:
    tls_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(tls_dir / "key.pem"), "-out", str(tls_dir / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


class DovecotServer:
    """One Dovecot instance with one mailbox user; start()/stop() may be called repeatedly."""

    def __init__(
        self,
        root: Path,
        user: str = "desk@sep.example",
        password: str = "s3cret-pw",
        extra_config: str = "",
    ):
        """``extra_config``: lines appended to the generated config (a quota, capabilities)."""
        if not Path(DOVECOT_BIN).is_file():
            raise DovecotMissing(f"{DOVECOT_BIN}: not installed; run .ci/install-dovecot.sh")
        self.root = root
        self.user = user
        self.password = password
        self.host = HOST
        self.port = free_port()
        self.tls_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.extra_config = extra_config
        self._write_files()

    @property
    def cert_file(self) -> Path:
        return self.root / "tls" / "cert.pem"

    @property
    def log_file(self) -> Path:
        return self.root / "dovecot.log"

    def _write_files(self) -> None:
        for sub in ("run", "state"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._make_home()
        _make_cert(self.root / "tls")
        internal, group, login = _service_users()
        conf = CONFIG_TEMPLATE.format(
            root=self.root,
            host=self.host,
            port=self.port,
            tls_port=self.tls_port,
            internal_user=internal,
            internal_group=group,
            login_user=login,
            uid=_mail_owner()[0],
            gid=_mail_owner()[1],
        )
        (self.root / "dovecot.conf").write_text(conf + self.extra_config)
        (self.root / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        # The run dir must be reachable by the unprivileged login processes.
        os.chmod(self.root, 0o755)

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        log = self.log_file.open("ab")
        try:
            self.proc = subprocess.Popen(
                [DOVECOT_BIN, "-F", "-c", str(self.root / "dovecot.conf")],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() reaches every child
            )
        finally:
            log.close()
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited {self.proc.returncode}: {self.log_tail()}")
            if self._greets():
                return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on {self.port}: {self.log_tail()}")

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as s:
                return s.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the master and its children (SIGTERM, then SIGKILL to the group); idempotent.

        Dovecot's master may wait many seconds for an IDLE session to end, so
        after a short grace the whole process group is killed: for the client
        that is a server that vanished, which is what the tests want anyway.
        """
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(STOP_GRACE_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(STOP_TIMEOUT_S)
        self._wait_closed()

    def _wait_closed(self) -> None:
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and self._greets():
            time.sleep(0.05)

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.cert_file))

    @contextmanager
    def client(self) -> Iterator[IMAPClient]:
        """A logged-in plain IMAP client for test setup and checks; always logged out."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        try:
            client.login(self.user, self.password)
            yield client
        finally:
            try:
                client.logout()
            except Exception:
                client.shutdown()

    def append(self, folder: str, raw: bytes, msg_time: datetime | None = None) -> None:
        with self.client() as c:
            c.append(folder, raw, msg_time=msg_time)

    def uids(self, folder: str) -> list[int]:
        with self.client() as c:
            if not c.folder_exists(folder):
                return []
            c.select_folder(folder, readonly=True)
            return sorted(int(u) for u in c.search("ALL"))

    def reset_mail(self) -> None:
        """Remove every mailbox of the user (between tests sharing one server)."""
        shutil.rmtree(self.root / "home", ignore_errors=True)
        self._make_home()

    def _make_home(self) -> None:
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        os.chown(home, *_mail_owner())


def dovecot_server(where: Any, extra_config: str = "") -> Iterator[DovecotServer]:
    """Generator for a fixture: a started server; stopped (and its files removed) at teardown.

    ``where`` is pytest's ``tmp_path_factory`` or a directory. As root the
    files go to a fresh world-traversable dir under /tmp instead: Dovecot's
    auth and mail processes run as other users and cannot enter pytest's
    0700 temp tree. Use e.g.::

        @pytest.fixture(scope="module")
        def dovecot(tmp_path_factory):
            yield from dovecot_server(tmp_path_factory)
    """
    own_dir = os.getuid() == 0
    if own_dir:
        root = Path(tempfile.mkdtemp(prefix="sepdesk-dovecot-"))
    else:
        root = where.mktemp("dovecot") if hasattr(where, "mktemp") else Path(where)
    try:
        server = DovecotServer(root, extra_config=extra_config)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)
