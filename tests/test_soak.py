"""A bounded crash soak of ``sepdesk serve``: SMTP and IMAP intake at once, SIGKILL twice.

Real parts only: ``sepdesk serve`` as a process (its aiosmtpd receiver, its
IMAP poller on a real Dovecot, its pipeline processes) with its relay pointed
at the SMTP sink. One fixed plan, no randomness: the sample mails, each with a
fresh Message-ID and an ``X-Soak-Token`` header, are fed over SMTP (the files'
bytes with bare LF, as smtplib sends them) and by IMAP APPEND (CR LF). Among
them are the cases a randomized soak found getting two tickets: the same mail
by both routes, a resend by one route, a copy behind a Message-ID another mail
used first, a mail without Message-ID by both routes; and auto-replies and DSN
bounces, which must never be answered. Serve's process group is SIGKILLed at
two fixed points of the feed and restarted; then serve drains, stops on
SIGTERM, and every invariant is checked per mail, each failure naming its token.
"""

from __future__ import annotations

import contextlib
import email
import email.utils
import os
import re
import signal
import smtplib
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

from sepdesk.config import load
from sepdesk.contracts import import_csv
from sepdesk.desk import Desk
from tests.conftest import CONTRACTS, LABELS, MAILS, T0, write_toml
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_sink import Received, SmtpSink
from tests.test_serve_signals import Served, wait_for

pytestmark = pytest.mark.dovecot

DESK = "support@sep.example"
TEAM = "team@sep.example"
DRAIN_S = 40.0  # serve finishes the backlog within this after the feed (it takes a few s)
TOKEN_RE = re.compile(rb"^X-Soak-Token: (SOAK-\d{3})\r?$", re.M)
MID_RE = re.compile(rb"^Message-ID:[^\n]*\n(?:[ \t][^\n]*\n)*", re.I | re.M)
SAMPLE = {p.name[:3]: p for p in MAILS}  # "001" -> the sample file


@dataclass
class Mail:
    """One fed mail: its token, what it was made from and how often each route took it."""

    token: str
    what: str
    raw: bytes  # bare LF line ends, like the sample files
    env_from: str
    automatic: bool  # an auto-reply or bounce: never to be answered
    smtp: int = 0  # times the SMTP receiver said 250
    imap: int = 0  # times appended to INBOX

    def crlf(self) -> bytes:
        return re.sub(rb"\r?\n", b"\r\n", self.raw)

    def __str__(self) -> str:
        return f"{self.token} ({self.what}; smtp x{self.smtp}, imap x{self.imap})"


class Corpus:
    """Numbered mails: a token header on top, the sample's Message-ID replaced."""

    def __init__(self) -> None:
        self.mails: dict[str, Mail] = {}

    def make(self, what: str, body: bytes, mid: str | None = "", automatic: bool = False) -> Mail:
        """``mid``: "" for a fresh Message-ID, None for none at all, else that one."""
        token = f"SOAK-{len(self.mails) + 1:03d}"
        if mid == "":
            mid = f"{token.lower()}@soak.test"
        head = f"X-Soak-Token: {token}\n" + (f"Message-ID: <{mid}>\n" if mid else "")
        raw = head.encode() + MID_RE.sub(b"", body, count=1)
        msg = email.message_from_bytes(raw)
        env_from = "" if msg.get("Return-Path", "").strip() == "<>" else msg.get("From", "")
        mail = Mail(token, what, raw, email.utils.parseaddr(env_from)[1], automatic)
        self.mails[token] = mail
        return mail

    def sample(self, number: str, mid: str | None = "", note: str = "") -> Mail:
        path = SAMPLE[number]
        automatic = LABELS[path.name]["auto_reply_allowed"] is False
        what = path.name + (f", {note}" if note else "")
        return self.make(what, path.read_bytes(), mid, automatic)


def auto_reply(corpus: Corpus, answered: Received) -> Mail:
    """The customer's out-of-office answer to a desk mail."""
    desk_mail = answered.message()
    body = (
        f"From: <{answered.rcpt_tos[0]}>\nTo: {DESK}\n"
        "Subject: Automatische Antwort: Ihre Anfrage\n"
        "Date: Mon, 07 Dec 2026 09:00:00 +0100\n"
        f"In-Reply-To: {desk_mail['Message-ID']}\nReferences: {desk_mail['Message-ID']}\n"
        "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "Ich bin bis 20.12. nicht im Buero.\n"
    )
    return corpus.make("auto-reply to a desk mail", body.encode(), automatic=True)


def dsn(corpus: Corpus, bounced: Received) -> Mail:
    """A delivery status notification (Return-Path <>) for a desk mail."""
    desk_mail = bounced.message()
    rcpt = bounced.rcpt_tos[0]
    body = (
        "Return-Path: <>\n"
        "From: MAILER-DAEMON@mx.kunde.example (Mail Delivery System)\nTo: {desk}\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Date: Mon, 07 Dec 2026 09:01:00 +0100\nAuto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\n\n'
        "--b1\nContent-Type: text/plain; charset=us-ascii\n\n<{rcpt}>: mailbox unavailable\n"
        "--b1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.kunde.example\n\n"
        "Final-Recipient: rfc822; {rcpt}\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\n"
        "--b1\nContent-Type: text/rfc822-headers\n\n"
        "From: {desk}\nTo: <{rcpt}>\nMessage-ID: {mid}\n--b1--\n"
    ).format(desk=DESK, rcpt=rcpt, mid=desk_mail["Message-ID"])
    return corpus.make("DSN bounce of a desk mail", body.encode(), automatic=True)


class Crashable(Served):
    """``sepdesk serve`` leading its own process group: SIGKILL takes its pipeline too."""

    new_session = True

    def kill(self) -> None:
        if self.proc is None:
            return
        pgid = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        self.proc.wait(10)
        wait_for(lambda: not _group_alive(pgid), 10, f"every process of group {pgid} gone")

    def backlog(self, dovecot: DovecotServer) -> str:
        """What the killed serve left: unprocessed rows, unsent mail, unmoved messages."""
        pending, queued = self.query(
            "SELECT (SELECT count(*) FROM intake WHERE state = 'pending'),"
            " (SELECT count(*) FROM outbox WHERE state = 'queued')"
        )[0]
        return f"{pending} pending, {queued} queued, {len(dovecot.uids('INBOX'))} in INBOX"


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is left in the process group."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class Feeder:
    """Feeds one mail at a time by a route and counts what each route accepted."""

    def __init__(self, served: Served, imap: IMAPClient) -> None:
        self.served = served
        self.imap_client = imap
        self.feeds = 0

    def smtp(self, mail: Mail) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", self.served.port, timeout=20) as client:
                client.sendmail(mail.env_from, [DESK], mail.raw)  # bytes go out as they are
        except (smtplib.SMTPException, OSError) as exc:
            raise AssertionError(f"{mail}: SMTP did not take it: {exc!r}") from exc
        mail.smtp += 1
        self.feeds += 1

    def imap(self, mail: Mail) -> None:
        self.imap_client.append("INBOX", mail.crlf())
        mail.imap += 1
        self.feeds += 1

    def both(self, mail: Mail, first: str) -> None:
        routes = (self.smtp, self.imap) if first == "smtp" else (self.imap, self.smtp)
        for route in routes:
            route(mail)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


@pytest.fixture
def served(tmp_path: Path, dovecot: DovecotServer, sink: SmtpSink) -> Iterator[Crashable]:
    """A serve config with SMTP and IMAP intake, a relay to the sink, the sample contracts."""
    s = Crashable(tmp_path)
    secret = tmp_path / "imap.pw"
    secret.write_text(dovecot.password + "\n")
    s.sections["desk"] = {"support_address": DESK, "team_address": TEAM}
    s.sections["imap"] = {
        "enabled": True,
        "host": dovecot.host,
        "port": dovecot.port,
        "user": dovecot.user,
        "password_file": str(secret),
        "tls": "none",
    }
    s.sections["relay"] = sink.relay_settings()
    s.sections["pipeline"] = {"processes": 2}
    write_toml(s.config, s.sections)
    desk = Desk.open(load(s.config))
    try:
        import_csv(desk.db, CONTRACTS, T0)
    finally:
        desk.close()
    yield s
    s.kill()


def folder_tokens(dovecot: DovecotServer, folder: str) -> Counter[str]:
    """How many messages of each token a folder holds ("?" for one without a token)."""
    found: Counter[str] = Counter()
    with dovecot.client() as c:
        if not c.folder_exists(folder):
            return found
        c.select_folder(folder, readonly=True)
        uids = c.search("ALL")
        for data in c.fetch(uids, ["BODY.PEEK[]"]).values() if uids else ():
            m = TOKEN_RE.search(data[b"BODY[]"])
            found[m.group(1).decode() if m else "?"] += 1
    return found


def desk_mail_answering(sink: SmtpSink, mail: Mail) -> Callable[[], Received | None]:
    mid = f"<{mail.token.lower()}@soak.test>"

    def find() -> Received | None:
        for r in sink.received():
            if TEAM not in r.rcpt_tos and r.message()["In-Reply-To"] == mid:
                return r
        return None

    return find


def test_crash_soak_each_mail_once_by_smtp_and_imap(
    served: Crashable, dovecot: DovecotServer, sink: SmtpSink
) -> None:
    """Fed by a fixed plan, SIGKILLed after fixed feeds: every mail once, answered once."""
    started = time.monotonic()
    corpus = Corpus()
    s = corpus.sample
    # Mails with a role; every other sample is an ordinary one, fed by alternating routes.
    first = s("001", note="its desk mail gets an auto-reply and a DSN")
    reused_a1 = s("002", mid="reused-1@soak.test", note="first with Message-ID reused-1")
    reused_a2 = s("006", mid="reused-2@soak.test", note="first with Message-ID reused-2")
    resend_smtp = [s("003", note="resent by SMTP"), s("020", note="resent by SMTP")]
    resend_imap = [s("009", note="resent by IMAP"), s("021", note="resent by IMAP")]
    # 010, 017 and 032 have a body line starting with a dot (smtplib dot-stuffs it).
    both = {n: s(n, note="by both routes") for n in ("010", "017", "032", "024", "040")}
    no_mid = {n: s(n, mid=None, note="no Message-ID, by both routes") for n in ("007", "026")}
    reused_b1 = s("012", mid="reused-1@soak.test", note="reused-1 with other content, twice")
    reused_b2 = s("016", mid="reused-2@soak.test", note="reused-2 with other content, twice")
    special = {m.what[:3] for m in corpus.mails.values()}
    ordinary = [s(n) for n in sorted(SAMPLE) if n not in special]
    assert len(ordinary) == 29, "the sample corpus changed: adjust the plan"
    kills: list[str] = []  # the backlog each SIGKILL left

    def feed_ordinary(mails: list[Mail], start: int) -> None:
        for i, m in enumerate(mails, start):
            route = "smtp" if i % 2 == 0 else "imap"
            if i % 3 == 2:  # every third also by the other route
                m.what += ", by both routes"
                feeder.both(m, route)
            else:
                getattr(feeder, route)(m)

    served.start()
    with dovecot.client() as imap:
        feeder = Feeder(served, imap)
        # -- serve #1
        feeder.smtp(first)
        feeder.smtp(reused_a1)
        feeder.imap(reused_a2)
        feeder.smtp(resend_smtp[0])
        feeder.imap(resend_imap[0])
        feeder.both(both["010"], "smtp")
        feeder.both(no_mid["007"], "smtp")
        feed_ordinary(ordinary[:12], 0)
        feeder.smtp(resend_smtp[0])  # the resend
        feeder.smtp(resend_smtp[1])
        feeder.imap(resend_imap[1])
        for m in ordinary[12:16]:  # a burst by SMTP: a backlog for the kill
            feeder.smtp(m)
        served.kill()
        kills.append(served.backlog(dovecot))
        # -- serve down: IMAP mail waits in INBOX
        feeder.imap(both["017"])
        feeder.imap(resend_imap[0])  # the resend
        feeder.imap(ordinary[16])
        served.start()
        # -- serve #2
        feeder.smtp(both["017"])
        answered = wait_for_value(desk_mail_answering(sink, first), 20, f"a desk mail to {first}")
        auto = auto_reply(corpus, answered)
        bounce = dsn(corpus, answered)
        feeder.imap(auto)
        feeder.both(bounce, "smtp")
        feeder.smtp(reused_b1)
        feeder.smtp(reused_b1)  # its exact copy, behind reused-1 of another mail
        feeder.imap(reused_b2)
        feeder.imap(reused_b2)
        feeder.both(both["024"], "imap")
        feeder.both(no_mid["026"], "imap")
        feed_ordinary(ordinary[17:24], 17)
        feeder.smtp(both["040"])
        feeder.smtp(both["032"])
        served.kill()
        kills.append(served.backlog(dovecot))
        # -- serve down
        feeder.imap(both["032"])
        feeder.imap(both["040"])
        feeder.imap(ordinary[24])
        served.start()
        # -- serve #3
        feeder.smtp(resend_smtp[1])  # the resends
        feeder.imap(resend_imap[1])
        feed_ordinary(ordinary[25:], 25)

    deadline = time.monotonic() + DRAIN_S
    while time.monotonic() < deadline and not drained(served, dovecot):
        time.sleep(0.2)
    rc = served.stop(15)
    assert rc == 0, f"serve exited {rc} on SIGTERM:\n{served.log_text()[-3000:]}"
    mails = corpus.mails
    assert 60 <= feeder.feeds <= 100, feeder.feeds
    problems = check_intake(served, mails)
    problems += check_folders(dovecot, mails)
    problems += check_outbound(served, sink, mails, len(kills))
    took = time.monotonic() - started
    print(f"{feeder.feeds} feeds of {len(mails)} mails in {took:.1f} s; SIGKILL left {kills}")
    assert not problems, f"{len(problems)} problems after {took:.0f} s:\n" + "\n".join(problems)


def wait_for_value(find: Callable[[], Received | None], timeout: float, what: str) -> Received:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not reached within {timeout} s: {what}")


def drained(served: Served, dovecot: DovecotServer) -> bool:
    busy = served.query(
        "SELECT (SELECT count(*) FROM intake WHERE state NOT IN ('done', 'quarantined')),"
        " (SELECT count(*) FROM outbox WHERE state = 'queued')"
    )[0]
    return busy == (0, 0) and not dovecot.uids("INBOX")


def token_of(raw: object) -> str:
    m = TOKEN_RE.search(raw if isinstance(raw, bytes) else b"")
    return m.group(1).decode() if m else "?"


def check_intake(served: Served, mails: dict[str, Mail]) -> list[str]:
    """Each fed mail stored once per feed, with one outcome that counts and no second ticket."""
    problems = []
    rows: dict[str, list[tuple[object, ...]]] = defaultdict(list)
    for row in served.query(
        "SELECT raw, id, source, state, outcome, ticket_id, reason FROM intake ORDER BY id"
    ):
        rows[token_of(row[0])].append(row[1:])
    for row in rows.pop("?", []):
        problems.append(f"intake #{row[0]} ({row[1]}) carries no soak token")
    for token, mail in mails.items():
        got = rows.get(token, [])
        shown = [f"#{i} {src} {state} {outcome} ticket={t}" for i, src, state, outcome, t, _ in got]
        stored = Counter(r[1] for r in got)
        if (stored["smtp"], stored["imap"]) != (mail.smtp, mail.imap):
            problems.append(f"{mail}: stored smtp x{stored['smtp']}, imap x{stored['imap']}")
        left = [r for r in got if r[2] not in ("done", "quarantined")]
        if left:
            problems.append(f"{mail}: intake rows left unprocessed: {shown}")
        counted = [r for r in got if r[3] != "duplicate"]
        if len(counted) != 1:
            problems.append(f"{mail}: {len(counted)} outcomes besides 'duplicate': {shown}")
        tickets = {r[4] for r in got if r[3] == "new_ticket"}
        if len(tickets) > 1:
            problems.append(f"{mail}: {len(tickets)} tickets for one mail: {shown}")
    return problems


def check_folders(dovecot: DovecotServer, mails: dict[str, Mail]) -> list[str]:
    """INBOX empty; each appended message in Processed or Quarantine, once."""
    problems = []
    inbox = folder_tokens(dovecot, "INBOX")
    if inbox:
        problems.append(f"INBOX not empty: {dict(inbox)}")
    moved = folder_tokens(dovecot, "Processed") + folder_tokens(dovecot, "Quarantine")
    for token, mail in mails.items():
        if moved[token] != mail.imap:
            problems.append(f"{mail}: {moved[token]} copies in Processed/Quarantine")
    strays = sorted(set(moved) - set(mails))
    if strays:
        problems.append(f"messages in Processed/Quarantine of no fed mail: {strays}")
    return problems


def check_outbound(served: Served, sink: SmtpSink, mails: dict[str, Mail], kills: int) -> list[str]:
    """At most one automatic desk mail per incoming mail, none to an automatic one; what the
    outbox calls sent is in the sink; a SIGKILL may repeat one mail (same Message-ID), no more."""
    problems = []
    # The mails under each Message-ID (a stand-in for a mail without one) and the mails
    # that opened each ticket: a desk mail answers the one its In-Reply-To names, or
    # without one (the answer to a mail without Message-ID) the one that opened its ticket.
    by_mid: dict[str, set[str]] = defaultdict(set)
    opened: dict[str, set[str]] = defaultdict(set)
    for raw, mid, outcome, ticket in served.query(
        "SELECT raw, message_id, outcome, ticket_id FROM intake"
    ):
        by_mid[str(mid).strip("<>")].add(token_of(raw))
        if outcome == "new_ticket":
            opened[f"ticket {ticket}"].add(token_of(raw))
    outbox = served.query(
        "SELECT id, kind, state, message_id, in_reply_to, ticket_id FROM outbox ORDER BY id"
    )
    ticket_of = {str(row[3]).strip("<>"): row[5] for row in outbox}
    received = sink.received()
    copies = Counter(str(r.message()["Message-ID"]).strip("<>") for r in received)
    answers: dict[str, set[str]] = defaultdict(set)  # what is answered -> desk mail IDs
    for r in received:
        if TEAM in r.rcpt_tos:
            continue
        msg = r.message()
        mid = str(msg["Message-ID"]).strip("<>")
        irt = str(msg["In-Reply-To"] or "").strip("<>")
        answers[irt or f"ticket {ticket_of.get(mid)}"].add(mid)
        if any(DESK in a.lower() or "mailer-daemon" in a.lower() for a in r.rcpt_tos):
            problems.append(f"desk mail {mid} went to {r.rcpt_tos}")
    for answered, desk_mails in answers.items():
        tokens = sorted(by_mid.get(answered) or opened.get(answered) or ())
        shown = [str(mails.get(t, t)) for t in tokens]
        if not tokens:
            problems.append(f"desk mails {sorted(desk_mails)} answer no fed mail ({answered})")
        elif any(mails[t].automatic for t in tokens if t in mails):
            problems.append(f"automatic mail {shown} was answered by {sorted(desk_mails)}")
        elif len(desk_mails) > len(tokens):
            problems.append(f"{shown}: {len(desk_mails)} automatic desk mails {sorted(desk_mails)}")
    resent = {mid: n for mid, n in copies.items() if n > 1}
    if sum(n - 1 for n in resent.values()) > kills:
        problems.append(f"sink got repeats {resent}, more than {kills} SIGKILLs explain")
    for oid, kind, state, out_mid, out_irt, ticket in outbox:
        about = sorted(by_mid.get(str(out_irt).strip("<>")) or opened.get(f"ticket {ticket}") or ())
        if state == "sent" and str(out_mid).strip("<>") not in copies:
            problems.append(f"outbox #{oid} {kind} (answering {about}) sent, not in the sink")
        if state == "queued":
            problems.append(f"outbox #{oid} {kind} (answering {about}) still queued")
    customer_mails = sum(len(v) for v in answers.values())
    if customer_mails < 20:  # the check above must have had something to check
        problems.append(f"only {customer_mails} desk mails answering fed mail reached the sink")
    return problems
