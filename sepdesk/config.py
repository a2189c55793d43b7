"""Typed, frozen settings: built-in defaults <- TOML file <- environment.

Every key lives in exactly one dataclass below, with its default and a line
of help (``field(metadata={"help": ...})``). The loader checks the file
against these dataclasses, so an unknown key or a wrong type is one clear
line naming the file, section and key. Secrets never live in the TOML: they
are read from ``*_file`` paths, the environment or systemd's
``$CREDENTIALS_DIRECTORY``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import types
import typing
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

from sepdesk.errors import ConfigError
from sepdesk.mailbox import is_domain_entry, is_mailbox

DEFAULT_CONFIG_PATH = Path("config/sepdesk.toml")
TLS_MODES = ("tls", "starttls", "none")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MAX_REOPEN_DAYS = 36500  # a hundred years: "always"
MAX_REPEAT_MINUTES = 525600  # a year: more overflowed the timer's dates at every breach
TAG_MAX = 20  # characters of [desk] tag in a subject


# [imap] and [relay] alike.
_TLS_HELP = "tls | starttls | none (none only to a loopback address, unless allow_plaintext)"
_PLAINTEXT_HELP = (
    "Allow tls = none to a host that is not loopback: the login and the mail cross the"
    " network unencrypted (a trusted network only)"
)
_CA_HELP = (
    "CA certificates (PEM file) the {}'s certificate must chain to; empty: the system's store"
)


def _f(default: Any, help: str) -> Any:
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class DeskSettings:
    name: str = _f("SEP Support", "Display name on every mail the desk sends")
    support_address: str = _f("support@sep.example", "The desk's own address (From, Reply-To)")
    tag: str = _f(
        "SEP",
        "Subject tag: [<tag> T-2026-000123]; 1-20 characters, no brackets, blanks or control characters",
    )
    staff: list[str] = _f(
        [],
        "Staff addresses or '@domain' entries (a dot in the domain, as in contract contacts);"
        " when set, tickets are assigned to staff only",
    )
    team_address: str = _f("", "Where new tickets are announced; empty: no team notices")
    escalation_to: list[str] = _f([], "Who receives SLA warnings and breach mails")
    hotline_phone: str = _f("+49 8024 46331-0", "Hotline number named in replies")
    emergency_form_url: str = _f(
        "https://www.sep.example/emergency-call", "Emergency Call order form link"
    )
    timezone: str = _f("Europe/Berlin", "The desk's timezone (support hours, printed instants)")
    require_auth: bool = _f(True, "Staff mail counts only with passing Authentication-Results")
    authserv_id: str = _f("", "Whose Authentication-Results header is trusted")
    reopen_days: int = _f(14, "A reply within this many days reopens a solved ticket")
    max_auto_replies_per_day: int = _f(10, "Automatic replies per sender per 24 h")
    aliases: list[str] = _f([], "Further addresses the desk receives mail for")


@dataclass(frozen=True)
class DatabaseSettings:
    path: str = _f("var/sepdesk.db", "SQLite database file")


@dataclass(frozen=True)
class SmtpSettings:
    enabled: bool = _f(True, "Run the SMTP receiver in serve")
    host: str = _f("127.0.0.1", "Address the receiver listens on")
    port: int = _f(2525, "Port the receiver listens on")
    max_message_bytes: int = _f(33554432, "Larger messages are refused with 552")
    max_connections: int = _f(100, "Sessions at once; more are told 421 (try again later)")


@dataclass(frozen=True)
class ImapSettings:
    enabled: bool = _f(False, "Run the IMAP poller in serve")
    host: str = _f("", "IMAP server")
    port: int = _f(993, "IMAP port")
    user: str = _f("", "IMAP login")
    password_file: str = _f(
        "",
        "File holding the IMAP password; read when SEPDESK_IMAP_PASSWORD and credential"
        " imap_password are unset or empty",
    )
    tls: str = _f("tls", _TLS_HELP)
    ca_file: str = _f("", _CA_HELP.format("server"))
    allow_plaintext: bool = _f(False, _PLAINTEXT_HELP)
    folder: str = _f("INBOX", "Folder to read")
    processed_folder: str = _f("Processed", "Where processed mail is moved")
    quarantine_folder: str = _f("Quarantine", "Where mail that failed is moved")
    poll_interval: int = _f(
        60, "Seconds between polls; with IDLE, at most this long before every folder is read again"
    )
    extra_folders: list[str] = _f([], "Further folders of the same account to read")
    accounts: list[dict[str, Any]] = _f(
        [],
        "Further mailboxes (e.g. a partner address): tables of the keys above, the rest from [imap]",
    )

    def mailboxes(self) -> list[ImapSettings]:
        """The main account, then each of ``accounts`` with the keys it does not set inherited."""
        main = dataclasses.replace(self, accounts=[])
        return [main, *(main._account(acct) for acct in self.accounts)]

    @property
    def account(self) -> str:
        """user@host, as the poller's log lines and imap_state rows name the account."""
        return f"{self.user}@{self.host}"

    @property
    def read_folders(self) -> list[str]:
        """The folders read, main folder first, without duplicates."""
        return list(dict.fromkeys([self.folder, *self.extra_folders]))

    def mailbox_names(self) -> list[str]:
        """Every folder this config reads, as imap_state names it ("user@host/folder");
        none with IMAP off."""
        if not self.enabled:
            return []
        return [f"{box.account}/{f}" for box in self.mailboxes() for f in box.read_folders]

    def _account(self, acct: dict[str, Any]) -> ImapSettings:
        # allow_plaintext trusts the network to [imap]'s host: an account on another host
        # says so itself. Inherited, it let that account (tls = none inherited too) log in
        # in plain text to a host the config never named as trusted.
        if acct.get("host", self.host) != self.host:
            acct = {"allow_plaintext": False, **acct}
        return dataclasses.replace(self, **acct)


@dataclass(frozen=True)
class RelaySettings:
    host: str = _f("", "Relay host; empty: write mail to [outbox] dir")
    port: int = _f(587, "Relay port")
    tls: str = _f("starttls", _TLS_HELP)
    ca_file: str = _f("", _CA_HELP.format("relay"))
    allow_plaintext: bool = _f(False, _PLAINTEXT_HELP)
    user: str = _f("", "Relay login; empty: no AUTH")
    password_file: str = _f(
        "",
        "File holding the relay password; read when SEPDESK_RELAY_PASSWORD and credential"
        " relay_password are unset or empty",
    )


@dataclass(frozen=True)
class OutboxSettings:
    dir: str = _f("var/outbox", "Folder for .eml files when no relay is configured")
    max_attempts: int = _f(8, "Delivery attempts before a mail is marked failed")


@dataclass(frozen=True)
class SlaSettings:
    warn_at: float = _f(0.75, "Warn when this fraction of the response budget is used")
    repeat_after_breach: int = _f(
        120, "Minutes between breach reminders; 0 = none, at most 525600 (a year)"
    )


@dataclass(frozen=True)
class CalendarSettings:
    country: str = _f("DE", "Country of the public holidays")
    subdivisions: list[str] = _f([], "Subdivisions whose holidays are closed too, e.g. BY")
    extra_closed: list[str] = _f([], "Extra closed days: 'MM-DD' every year or ISO dates")


@dataclass(frozen=True)
class PolicySettings:
    current_version: str = _f("5.1.0", "Newest SEP sesam release; older ones are named in replies")


@dataclass(frozen=True)
class HotlineSettings:
    spool_dir: str = _f("var/hotline", "Folder watched for hotline CSV files")
    columns: dict[str, str] = _f({}, "Map of our column name -> the phone system's name")


@dataclass(frozen=True)
class PipelineSettings:
    processes: int = _f(0, "Pipeline worker processes in serve; 0 = one per core (at most 4)")


@dataclass(frozen=True)
class LogSettings:
    level: str = _f("INFO", "DEBUG | INFO | WARNING | ERROR")


@dataclass(frozen=True)
class Settings:
    desk: DeskSettings = field(default_factory=DeskSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    imap: ImapSettings = field(default_factory=ImapSettings)
    relay: RelaySettings = field(default_factory=RelaySettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    sla: SlaSettings = field(default_factory=SlaSettings)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    hotline: HotlineSettings = field(default_factory=HotlineSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    log: LogSettings = field(default_factory=LogSettings)
    source: str = "built-in defaults"

    @property
    def relay_enabled(self) -> bool:
        return bool(self.relay.host)

    def desk_addresses(self) -> set[str]:
        """Every address the desk receives mail for, lower-cased."""
        return {a.lower() for a in (self.desk.support_address, *self.desk.aliases) if a}

    def desk_domain(self) -> str:
        return self.desk.support_address.rpartition("@")[2] or "localhost"

    def is_staff(self, address: str) -> bool:
        """True when ``address`` is in ``[desk] staff``, itself or by its "@domain" entry."""
        address = address.lower()
        domain = "@" + address.rpartition("@")[2]
        staff = {s.lower() for s in self.desk.staff}
        return bool(address) and (address in staff or domain in staff)

    def may_assign(self, address: str, requester: str | None) -> bool:
        """Whether a ticket may be assigned to ``address``: escalations (internal: the
        customer, the contract, the due) go to the assignee. A staff address when
        ``[desk] staff`` is set; without it, any address but the ticket's requester."""
        address = address.strip().lower()
        if not address or address == (requester or "").strip().lower():
            return False
        return self.is_staff(address) if self.desk.staff else True


SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Settings)[f.name]
    for f in dataclasses.fields(Settings)
    if f.name != "source"
}


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        _, item = typing.get_args(hint)
        return isinstance(value, dict) and all(_type_ok(v, item) for v in value.values())
    if isinstance(hint, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    return False


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is list:
        return f"list of {_type_name(typing.get_args(hint)[0])}"
    if origin is dict:
        return f"table of {_type_name(typing.get_args(hint)[1])}"
    return getattr(hint, "__name__", str(hint))


def _type_fault(value: Any, hint: Any) -> str:
    """What is wrong with ``value``: a table's entry is named ("columns = { summary = 5 }"
    is a table, and 'expected table, got dict' said nothing of its value)."""
    if typing.get_origin(hint) is dict and isinstance(value, dict):
        item = typing.get_args(hint)[1]
        key, bad = next((k, v) for k, v in value.items() if not _type_ok(v, item))
        return f"{key}: expected {_type_name(item)}, got {_toml_type(bad)}"
    return f"expected {_type_name(hint)}, got {_toml_type(value)}"


def _toml_type(value: Any) -> str:
    """The value's type, a dict named as TOML names it: a table."""
    return "table" if isinstance(value, dict) else type(value).__name__


def _build_section(where: str, name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    hints = typing.get_type_hints(cls)
    for key, value in raw.items():
        if key not in hints:
            raise ConfigError(f"{where}: [{name}] {key}: unknown key")
        if not _type_ok(value, hints[key]):
            raise ConfigError(f"{where}: [{name}] {key}: {_type_fault(value, hints[key])}")
    values = {k: (float(v) if hints[k] is float else v) for k, v in raw.items()}
    return cls(**values)


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Keys an [imap] accounts entry may set; the others belong to the whole poller.
_ACCOUNT_KEYS = (
    "host", "port", "user", "password_file", "tls", "allow_plaintext", "ca_file", "folder",
    "processed_folder", "quarantine_folder", "poll_interval", "extra_folders",
)  # fmt: skip


def _imap_key(i: int, key: str) -> str:
    """How errors name ``key`` of mailbox ``i`` of :meth:`ImapSettings.mailboxes`: [imap]'s
    own, or account i's (a bad port of an account was blamed on [imap]'s port)."""
    return f"[imap] accounts[{i}].{key}" if i else f"[imap] {key}"


def _validate_accounts(where: str, imap: ImapSettings) -> None:
    hints = typing.get_type_hints(ImapSettings)
    for i, acct in enumerate(imap.accounts, 1):
        for key, value in acct.items():
            name = f"[imap] accounts[{i}].{key}"
            if key not in _ACCOUNT_KEYS:
                raise ConfigError(f"{where}: {name}: unknown key")
            if not _type_ok(value, hints[key]):
                raise ConfigError(f"{where}: {name}: expected {_type_name(hints[key])}")
        if not str(acct.get("user", "")).strip():
            raise ConfigError(f"{where}: [imap] accounts[{i}].user: missing")
    if not imap.enabled:
        return
    # Else serve starts and its poller retries for ever against host "" (a DNS error
    # naming "@:993") or logs in as nobody, without a word about the key to set.
    for key in ("host", "user"):
        if not str(getattr(imap, key)).strip():
            raise ConfigError(f"{where}: [imap] {key}: required with enabled = true")
    for i, mailbox in enumerate(imap.mailboxes()[1:], 1):
        if not mailbox.host.strip():
            raise ConfigError(f"{where}: [imap] accounts[{i}].host: must not be empty")
    _validate_folders(where, imap)


def _validate_folders(where: str, imap: ImapSettings) -> None:
    """No folder read twice, none that mail is moved into read again: a processed folder
    that was also read took each mail in again on every pass (938 duplicates of one mail
    in 25 s), a mailbox named twice moved each mail twice."""
    read: dict[tuple[str, int, str, str], str] = {}
    boxes = [
        ("[imap]" if i == 0 else f"[imap] accounts[{i}]", box)
        for i, box in enumerate(imap.mailboxes())
    ]

    def at(box: ImapSettings, folder: str) -> tuple[str, int, str, str]:
        return (box.host.strip().lower(), box.port, box.user.strip().lower(), folder)

    for name, box in boxes:
        for folder in (box.folder, *box.extra_folders):
            if at(box, folder) in read:
                raise ConfigError(
                    f"{where}: {name}: folder {folder!r} of {box.user} is read already"
                    f" ({read[at(box, folder)]})"
                )
            read[at(box, folder)] = name
    for name, box in boxes:
        for key in ("processed_folder", "quarantine_folder"):
            if at(box, getattr(box, key)) in read:
                raise ConfigError(
                    f"{where}: {name} {key}: {getattr(box, key)!r} is a folder that is read;"
                    " its mail would be taken in again on every pass"
                )


def tls_context(ca_file: str) -> ssl.SSLContext:
    """The client context for IMAP and the relay: the system's CA store, or only the
    certificates of ``ca_file`` (a private CA); hostname checking stays on either way."""
    import ssl  # here: 15 ms of every command's start, for the few that connect

    return ssl.create_default_context(cafile=ca_file or None)


def _validate_ca_files(where: str, s: Settings) -> None:
    """Each ca_file set is loaded once here: a missing or unusable one stops the start
    (and a reload) naming the key, instead of failing every connection later."""
    files = [("[relay] ca_file", s.relay.ca_file)]
    for i, mailbox in enumerate(s.imap.mailboxes()):
        files.append((_imap_key(i, "ca_file"), mailbox.ca_file))
    files = [(name, path) for name, path in files if path]
    if not files:
        return
    import ssl  # as in tls_context: only when a ca_file is set

    for name, path in files:
        try:
            tls_context(path)
        except ssl.SSLError as exc:  # before OSError: it is one
            raise ConfigError(
                f"{where}: {name}: {path}: no CA certificate in it (PEM): {exc.reason}"
            ) from None
        except OSError as exc:
            raise ConfigError(f"{where}: {name}: {path}: {exc.strerror or exc}") from None


def _validate_calendar(where: str, s: Settings) -> None:
    """[calendar] as the SLA clock will read it: built once here, so every command
    (``sepdesk status`` too) refuses a calendar the SLA timer could not build (unknown
    country or subdivision, bad extra_closed day), naming the file and key."""
    from sepdesk.sla.calendar import SupportCalendar  # imports this module: not at the top

    try:
        SupportCalendar.from_settings(s)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _validate(where: str, s: Settings) -> None:
    _validate_accounts(where, s.imap)
    links: list[tuple[str, str, str, bool]] = [
        ("[relay] tls", s.relay.tls, s.relay.host, s.relay.allow_plaintext)
    ]
    # An account's tls = none inherited from [imap] is the account's fault once the account
    # names a host that is not loopback: it is named, and where its value came from.
    for i, m in enumerate(s.imap.mailboxes()):
        key = _imap_key(i, "tls")
        if i and "tls" not in s.imap.accounts[i - 1]:
            key += " (inherited from [imap])"
        links.append((key, m.tls, m.host, m.allow_plaintext))
    for key, tls, host, plain_ok in links:
        if tls not in TLS_MODES:
            raise ConfigError(f"{where}: {key}: must be one of {', '.join(TLS_MODES)}")
        if tls == "none" and host and not _is_loopback(host) and not plain_ok:
            raise ConfigError(
                f"{where}: {key}: 'none' is only allowed to a loopback host"
                f" (on a trusted network: allow_plaintext = true)"
            )
    _validate_ca_files(where, s)
    if s.pipeline.processes < 0:
        raise ConfigError(f"{where}: [pipeline] processes: must be 0 or more")
    _validate_ranges(where, s)
    if not 0 < s.sla.warn_at < 1:
        raise ConfigError(
            f"{where}: [sla] warn_at: must be greater than 0 and less than 1"
            f" (a fraction of the response budget), not {s.sla.warn_at:g}"
        )
    if not 0 <= s.sla.repeat_after_breach <= MAX_REPEAT_MINUTES:
        raise ConfigError(
            f"{where}: [sla] repeat_after_breach: must be 0 (no reminders) to"
            f" {MAX_REPEAT_MINUTES} minutes (a year), not {s.sla.repeat_after_breach}"
        )
    if s.log.level.upper() not in LOG_LEVELS:
        raise ConfigError(
            f"{where}: [log] level: {s.log.level!r} is not one of {', '.join(LOG_LEVELS)}"
        )
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(s.desk.timezone)
    except Exception:
        raise ConfigError(
            f"{where}: [desk] timezone: unknown timezone {s.desk.timezone!r}"
        ) from None
    _validate_calendar(where, s)
    _validate_desk(where, s.desk)
    version = s.policy.current_version
    if version and not re.fullmatch(r"\d+(?:\.\d+){0,3}", version):
        # "latest" or "5.1" with a typo compared as nothing: no reply would ever name an
        # old version, and nobody would know why.
        raise ConfigError(
            f"{where}: [policy] current_version: {version!r} is not a version like 5.1.0"
            " (empty: replies name no old versions)"
        )
    if s.desk.staff and s.desk.require_auth and not s.desk.authserv_id.strip():
        # Else no staff mail could ever authenticate: engineers' replies would silently
        # be treated as customer mail.
        raise ConfigError(
            f"{where}: [desk] authserv_id: required with staff and require_auth = true"
            " (the host whose Authentication-Results header is trusted)"
        )


def _tag_fault(tag: str) -> str | None:
    """Why ``tag`` cannot stand in the subject tag ``[<tag> T-2026-000123]``, or None."""
    if not tag:
        return "must not be empty (the subject tag is [<tag> T-...])"
    if len(tag) > TAG_MAX:
        return f"at most {TAG_MAX} characters, not {len(tag)}"
    # A bracket ends or opens the tag early: the desk no longer found its own tag in a
    # reply's subject to drop it ("[A] T-2026-000123] [A] T-2026-000123] ..." grew with
    # every reply, "A[B" cut the subject). A blank or control character is folded or
    # dropped by header_safe, an invisible one cannot be seen: the tag sent would not
    # be the tag written here.
    bad = [c for c in tag if c in "[]" or c.isspace() or unicodedata.category(c)[0] == "C"]
    if bad:
        return f"{bad[0]!r} is not allowed (no brackets, blanks or control characters)"
    return None


def _validate_desk(where: str, desk: DeskSettings) -> None:
    """The subject tag and the desk's addresses: what SPEC §3 types only as str or list."""
    fault = _tag_fault(desk.tag)
    if fault:
        raise ConfigError(f"{where}: [desk] tag: {desk.tag!r}: {fault}")
    # Addresses as the parser reads senders (mailbox.is_mailbox): "Name <a@x.de>", a
    # list in one string or a typo would be written into a header, or matched nobody.
    addresses = [("support_address", desk.support_address)]
    addresses += [("team_address", desk.team_address)] if desk.team_address else []
    addresses += [("escalation_to", a) for a in desk.escalation_to]
    addresses += [("aliases", a) for a in desk.aliases]
    for key, address in addresses:
        if not is_mailbox(address):
            raise ConfigError(f"{where}: [desk] {key}: not a mail address: {address!r}")
    for entry in desk.staff:
        ok = is_domain_entry(entry) if entry.startswith("@") else is_mailbox(entry)
        if not ok:
            raise ConfigError(f"{where}: [desk] staff: not a mail address or @domain: {entry!r}")


def _validate_ranges(where: str, s: Settings) -> None:
    """Numbers that parse but mean nothing, and hotline columns that do not exist."""
    mailboxes = list(enumerate(s.imap.mailboxes()))
    ports = [("[smtp] port", s.smtp.port), ("[relay] port", s.relay.port)]
    ports += [(_imap_key(i, "port"), m.port) for i, m in mailboxes]
    for key, port in ports:
        if not 0 < port < 65536:
            raise ConfigError(f"{where}: {key}: must be 1-65535, not {port}")
    counts = [
        ("[smtp] max_connections", s.smtp.max_connections),
        ("[smtp] max_message_bytes", s.smtp.max_message_bytes),
        # 0 attempts: every mail failed unsent; 0 s: a poller that never waits.
        ("[outbox] max_attempts", s.outbox.max_attempts),
    ]
    counts += [(_imap_key(i, "poll_interval"), m.poll_interval) for i, m in mailboxes]
    for key, number in counts:
        if number < 1:
            raise ConfigError(f"{where}: {key}: must be 1 or more, not {number}")
    if s.desk.reopen_days > MAX_REOPEN_DAYS:  # more: a follow-up's timedelta overflows
        raise ConfigError(
            f"{where}: [desk] reopen_days: must be at most {MAX_REOPEN_DAYS},"
            f" not {s.desk.reopen_days}"
        )
    for key, value in (
        ("reopen_days", s.desk.reopen_days),
        ("max_auto_replies_per_day", s.desk.max_auto_replies_per_day),
    ):
        if value < 0:
            raise ConfigError(f"{where}: [desk] {key}: must be 0 or more, not {value}")
    for name, key, path in (
        ("database", "path", s.database.path),
        ("outbox", "dir", s.outbox.dir),
        ("hotline", "spool_dir", s.hotline.spool_dir),
    ):
        if not path.strip():
            # pathlib reads "" as ".": the working directory would be the database, the
            # outbox, or the spool whose CSV files are imported and moved away.
            raise ConfigError(f"{where}: [{name}] {key}: must not be empty")
    from sepdesk.hotline.csvrows import FIELDS  # late: config is imported by everything

    for ours in s.hotline.columns:
        if ours not in FIELDS:
            raise ConfigError(
                f"{where}: [hotline] columns: {ours!r} is not a hotline column"
                f" ({', '.join(FIELDS)})"
            )


def from_mapping(data: dict[str, Any], where: str = "config") -> Settings:
    """Settings from a parsed TOML mapping; raises ConfigError naming the key."""
    sections: dict[str, Any] = {}
    for name, raw in data.items():
        if name not in SECTIONS:
            raise ConfigError(f"{where}: [{name}]: unknown section")
        sections[name] = _build_section(where, name, SECTIONS[name], raw)
    settings = Settings(**sections, source=where)
    _validate(where, settings)
    return settings


def load(path: str | os.PathLike[str] | None = None) -> Settings:
    """Load settings: explicit path, else $SEPDESK_CONFIG, else config/sepdesk.toml, else defaults.

    Only an explicitly named file (argument or environment) must exist.
    """
    explicit = path or os.environ.get("SEPDESK_CONFIG")
    candidate = Path(explicit) if explicit else DEFAULT_CONFIG_PATH
    try:
        found = candidate.exists()
    except OSError as exc:
        # A folder on the way that may not be searched: exists() raises (EACCES), which
        # escaped as exit 1 of every command instead of the configuration error it is.
        raise ConfigError(f"{candidate}: cannot read: {exc.strerror or exc}") from None
    if not found:
        if explicit:
            raise ConfigError(f"{candidate}: config file not found")
        return Settings()
    try:
        # utf-8-sig: Windows editors save a BOM, which TOML refuses ("invalid statement
        # at line 1, column 1") and the admin cannot see. One leading BOM is dropped.
        data = tomllib.loads(candidate.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{candidate}: not valid TOML: {exc}") from None
    except OSError as exc:  # the reason alone: the file is named already
        raise ConfigError(f"{candidate}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{candidate}: cannot read: {exc}") from None
    return from_mapping(data, str(candidate))


def _secret_text(path: Path) -> str:
    """The file's text without trailing newlines, or a BOM an editor put in front (it
    became the password's first character, and every login failed)."""
    try:
        return path.read_text(encoding="utf-8-sig").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read secret: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read secret: not UTF-8 (byte {exc.start})") from None


def read_secret(path: str, env_var: str, credential: str) -> str | None:
    """A secret from $env_var, systemd's credential directory, or a file.

    Order: environment, then ``$CREDENTIALS_DIRECTORY/<credential>``, then
    the configured file. Trailing newlines are stripped. An empty variable or
    credential counts as absent: the systemd unit loads both credentials always,
    an empty file standing for a channel without one, which must not hide the
    configured file.
    """
    if os.environ.get(env_var):
        return os.environ[env_var]
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / credential).is_file():
        secret = _secret_text(Path(cred_dir) / credential)
        if secret:
            return secret
    if path:
        return _secret_text(Path(path))
    return None


# Where each password may come from besides its ``password_file``: the environment
# variable and the systemd credential (README, "Configuration").
RELAY_SECRET = ("SEPDESK_RELAY_PASSWORD", "relay_password")
IMAP_SECRET = ("SEPDESK_IMAP_PASSWORD", "imap_password")


def imap_secret_names(index: int) -> tuple[str, str]:
    """The variable and credential of IMAP account ``index``: 0 is [imap] itself, n the
    n-th of [imap] accounts (``..._n``)."""
    return IMAP_SECRET if not index else (f"{IMAP_SECRET[0]}_{index}", f"{IMAP_SECRET[1]}_{index}")


def no_secret(section: str, user: str, names: tuple[str, str]) -> str:
    """The line naming a password nowhere given, and every place it may come from."""
    return (
        f"[{section}] user {user}: no password configured: set {names[0]},"
        f" the credential {names[1]} or [{section}] password_file"
    )


def missing_secrets(settings: Settings) -> list[str]:
    """One line per login the config asks for whose password is given nowhere, as this
    process sees the environment and credentials. A password file that cannot be read is
    not listed: it is named, with the reason, where it is read."""
    wanted = []
    if settings.relay_enabled and settings.relay.user:
        wanted.append(("relay", settings.relay.user, settings.relay.password_file, RELAY_SECRET))
    if settings.imap.enabled:
        for i, box in enumerate(settings.imap.mailboxes()):
            wanted.append(("imap", box.user, box.password_file, imap_secret_names(i)))
    lines = []
    for section, user, path, names in wanted:
        try:
            secret = read_secret(path, *names)
        except ConfigError:
            continue
        if secret is None:
            lines.append(no_secret(section, user, names))
    return lines


def describe() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, help) for every key: docs and the config test use it."""
    out = []
    for name, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            default = (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            )
            out.append((name, f.name, default, f.metadata.get("help", "")))
    return out
