"""Configuration: defaults, one-line errors naming file/section/key, the example file, the README."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from sepdesk import config
from sepdesk.cli.main import _register, cli
from sepdesk.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_run_alone_on_this_machine() -> None:
    s = config.Settings()
    assert (s.smtp.host, s.smtp.port) == ("127.0.0.1", 2525)
    assert s.database.path == "var/sepdesk.db"
    assert not s.relay_enabled and s.outbox.dir == "var/outbox"
    assert s.desk.tag == "SEP" and s.desk.timezone == "Europe/Berlin"


@pytest.mark.parametrize("how", ["option", "environment", "default"])
def test_a_config_file_in_a_folder_that_may_not_be_searched_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Path.exists() raises PermissionError for a file in a folder of mode 000 (for anyone
    but root): it escaped config.load as "sepdesk: c.toml: Permission denied", exit 1 of
    every command, where README promises exit 2 for a configuration error."""
    monkeypatch.chdir(tmp_path)
    hidden = config.DEFAULT_CONFIG_PATH if how == "default" else tmp_path / "locked" / "c.toml"
    real_exists = Path.exists

    def exists(self: Path) -> bool:
        if self == hidden:
            raise PermissionError(13, "Permission denied", str(self))
        return real_exists(self)

    monkeypatch.setattr(Path, "exists", exists)
    monkeypatch.delenv("SEPDESK_CONFIG", raising=False)
    if how == "environment":
        monkeypatch.setenv("SEPDESK_CONFIG", str(hidden))
    _register()
    result = CliRunner().invoke(
        cli, [*(["--config", str(hidden)] if how == "option" else []), "status"]
    )
    assert result.exit_code == 2
    assert result.stderr == f"sepdesk: {hidden}: cannot read: Permission denied\n"


def test_unknown_key_names_file_section_and_key(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[desk]\nnmae = "x"\n')
    with pytest.raises(ConfigError, match=r"c\.toml: \[desk\] nmae: unknown key"):
        config.load(p)


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[smtp]\nport = "25"\n')
    with pytest.raises(ConfigError, match=r"\[smtp\] port: expected int, got str"):
        config.load(p)


def test_a_table_entry_of_the_wrong_type_is_named() -> None:
    """Not 'columns: expected table, got dict': the value is a table, one entry is wrong."""
    with pytest.raises(ConfigError, match=r"\[hotline\] columns: summary: expected str, got int$"):
        config.from_mapping({"hotline": {"columns": {"summary": 5}}}, "c.toml")
    with pytest.raises(ConfigError, match=r"\[hotline\] columns: expected table of str, got str$"):
        config.from_mapping({"hotline": {"columns": "summary"}}, "c.toml")


def test_missing_explicit_file_and_unknown_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "nope.toml")
    p = tmp_path / "c.toml"
    p.write_text("[smpt]\nport = 25\n")
    with pytest.raises(ConfigError, match=r"\[smpt\]: unknown section"):
        config.load(p)


def test_staff_with_required_auth_needs_whose_results_to_trust(tmp_path: Path) -> None:
    """Without authserv_id no staff mail could authenticate: engineers' replies would
    be customer mail without a word. Either setting alone, or both, is fine."""
    p = tmp_path / "c.toml"
    p.write_text('[desk]\nstaff = ["@sep.example"]\n')
    with pytest.raises(ConfigError, match=r"c\.toml: \[desk\] authserv_id: required"):
        config.load(p)
    p.write_text('[desk]\nstaff = ["@sep.example"]\nauthserv_id = "mx.sep.example"\n')
    assert config.load(p).desk.authserv_id == "mx.sep.example"
    p.write_text('[desk]\nstaff = ["@sep.example"]\nrequire_auth = false\n')
    assert config.load(p).desk.require_auth is False


def test_plaintext_only_to_loopback(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[relay]\nhost = "smtp.example.com"\ntls = "none"\n')
    with pytest.raises(ConfigError, match="loopback"):
        config.load(p)


@pytest.mark.parametrize(
    "toml",
    [
        '[relay]\nhost = "10.0.0.25"\ntls = "none"\n{plain}',
        '[imap]\nenabled = true\nhost = "imap.lan"\nuser = "s"\ntls = "none"\n{plain}',
        '[imap]\nhost = "127.0.0.1"\nuser = "s"\ntls = "none"\n'
        'accounts = [{{ user = "p", host = "imap.lan", {plain_inline} }}]\n',
    ],
)
def test_plaintext_beyond_loopback_only_when_the_config_allows_it(
    tmp_path: Path, toml: str
) -> None:
    """Issue 5: plain login only on loopback unless the config says otherwise."""
    p = tmp_path / "c.toml"
    p.write_text(toml.format(plain="", plain_inline="port = 143"))
    with pytest.raises(ConfigError, match=r"only allowed to a loopback host \(on a trusted"):
        config.load(p)
    p.write_text(
        toml.format(plain="allow_plaintext = true\n", plain_inline="allow_plaintext = true")
    )
    loaded = config.load(p)
    assert loaded.relay.allow_plaintext or loaded.imap.mailboxes()[-1].allow_plaintext


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("accounts = [{ user = 'p', port = 0 }]\n", r"\[imap\] accounts\[1\]\.port: must be 1-"),
        (
            "accounts = [{ user = 'p' }, { user = 'q', poll_interval = 0 }]\n",
            r"\[imap\] accounts\[2\]\.poll_interval: must be 1 or more, not 0",
        ),
        ("accounts = [{ user = 'p', tls = 'ssl' }]\n", r"\[imap\] accounts\[1\]\.tls: must be one"),
        (
            "enabled = true\nhost = '127.0.0.1'\nuser = 'u'\ntls = 'none'\n"
            "accounts = [{ user = 'p', host = 'mail.example.com' }]\n",
            r"\[imap\] accounts\[1\]\.tls \(inherited from \[imap\]\): 'none' is only",
        ),
    ],
)
def test_a_bad_value_of_an_account_names_the_account(
    tmp_path: Path, toml: str, expected: str
) -> None:
    """Blamed on [imap]'s own key before ("[imap] port: must be 1-65535, not 0"), though
    [imap] had no port set: the admin looked for the fault in the wrong table."""
    refused(tmp_path / "c.toml", "[imap]\n" + toml, expected)


def test_plaintext_allowed_to_imap_host_is_not_allowed_to_an_account_on_another(
    tmp_path: Path,
) -> None:
    """allow_plaintext trusts the network to one host. An account on another host had
    inherited it with tls = none: a plain login to imap.example.com, no error."""
    p = tmp_path / "c.toml"
    main = '[imap]\nhost = "imap.lan"\nuser = "s"\ntls = "none"\nallow_plaintext = true\n'
    p.write_text(main + 'accounts = [{ user = "p", host = "imap.example.com" }]\n')
    with pytest.raises(ConfigError, match=r"only allowed to a loopback host \(on a trusted"):
        config.load(p)
    p.write_text(main + 'accounts = [{ user = "p" }, { user = "q", host = "imap.lan" }]\n')
    assert [m.allow_plaintext for m in config.load(p).imap.mailboxes()] == [True] * 3
    own = 'accounts = [{ user = "p", host = "imap2.lan", allow_plaintext = true }]\n'
    p.write_text(main + own)
    assert config.load(p).imap.mailboxes()[1].allow_plaintext


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[imap]\nenabled = true\n", r"\[imap\] host: required with enabled = true"),
        ('[imap]\nenabled = true\nhost = "imap.sep.example"\n', r"\[imap\] user: required"),
        (
            '[imap]\nenabled = true\nhost = "imap.sep.example"\nuser = "support"\n'
            'accounts = [{ user = "partner", host = " " }]\n',
            r"\[imap\] accounts\[1\]\.host: must not be empty",
        ),
        (  # blank, as [imap] user is: it had passed the account check
            '[imap]\nenabled = true\nhost = "imap.sep.example"\nuser = "support"\n'
            'accounts = [{ user = " " }]\n',
            r"\[imap\] accounts\[1\]\.user: missing",
        ),
    ],
)
def test_an_enabled_imap_poller_needs_host_and_user(
    tmp_path: Path, toml: str, expected: str
) -> None:
    """Accepted before, serve then retried for ever with "connection to @:993 failed:
    gaierror" (or a login as nobody), naming no key; `status` passed the file."""
    refused(tmp_path / "c.toml", toml, expected)
    p = tmp_path / "ok.toml"
    p.write_text('[imap]\nhost = ""\n')  # not enabled: no poller, nothing to check
    assert config.load(p).imap.enabled is False


def test_example_config_lists_every_key_and_loads() -> None:
    text = (ROOT / "config" / "sepdesk.toml").read_text("utf-8")
    for section, key, _default, help_text in config.describe():
        header = re.search(rf"^\[{section}\]$", text, re.M)
        assert header, section
        assert help_text, f"{section}.{key} has no help"
        # The help line above each key is describe()'s: the two must not drift apart.
        entry = re.compile(rf"^# (.*)\n#? ?{key} = ", re.M).search(text, header.end())
        assert entry, f"{section}.{key}"
        assert entry.group(1) == help_text, f"{section}.{key}"
    assert config.load(ROOT / "config" / "sepdesk.toml") == config.Settings(
        source=str(ROOT / "config" / "sepdesk.toml")
    )


def test_missing_secrets_names_each_login_without_a_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An IMAP account without a password retried "no IMAP password configured" at INFO
    for ever, naming neither the account nor where the password could come from."""
    for name in ("SEPDESK_IMAP_PASSWORD", "SEPDESK_IMAP_PASSWORD_1", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    pw = tmp_path / "pw"
    pw.write_text("geheim\n")
    imap = {
        "enabled": True,
        "host": "mail.example",
        "user": "support",
        "accounts": [{"user": "partner"}, {"user": "third", "password_file": str(pw)}],
    }
    settings = config.from_mapping({"imap": imap}, "t")
    assert config.missing_secrets(settings) == [
        "[imap] user support: no password configured: set SEPDESK_IMAP_PASSWORD,"
        " the credential imap_password or [imap] password_file",
        "[imap] user partner: no password configured: set SEPDESK_IMAP_PASSWORD_1,"
        " the credential imap_password_1 or [imap] password_file",
    ]
    monkeypatch.setenv("SEPDESK_IMAP_PASSWORD_1", "x")
    monkeypatch.setenv("SEPDESK_IMAP_PASSWORD", "y")
    assert config.missing_secrets(settings) == []
    # No login asked for: nothing is missing.
    assert config.missing_secrets(config.from_mapping({"relay": {"host": "r"}}, "t")) == []


def test_secret_from_environment_then_credentials_then_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "pw"
    f.write_text("from-file\n")
    assert config.read_secret(str(f), "SEPDESK_TEST_PW", "pw") == "from-file"
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "pw").write_text("from-credential")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert config.read_secret(str(f), "SEPDESK_TEST_PW", "pw") == "from-credential"
    monkeypatch.setenv("SEPDESK_TEST_PW", "from-env")
    assert config.read_secret(str(f), "SEPDESK_TEST_PW", "pw") == "from-env"


def test_an_empty_credential_or_variable_does_not_hide_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unit loads both credentials always; an empty one stands for "none"."""
    f = tmp_path / "pw"
    f.write_text("from-file\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "pw").write_text("\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("SEPDESK_TEST_PW", "")
    assert config.read_secret(str(f), "SEPDESK_TEST_PW", "pw") == "from-file"
    assert config.read_secret("", "SEPDESK_TEST_PW", "pw") is None


def test_a_secret_file_saved_with_a_bom_or_not_in_utf8(tmp_path: Path) -> None:
    """A BOM (Windows editors) became the password's first character; a file in Latin-1
    was a UnicodeDecodeError traceback instead of one line naming the file."""
    f = tmp_path / "pw"
    f.write_bytes(b"\xef\xbb\xbfs3cret\r\n")
    assert config.read_secret(str(f), "SEPDESK_TEST_PW", "pw") == "s3cret"
    f.write_bytes(b"gehe\xefm\n")
    with pytest.raises(ConfigError, match=r"pw: cannot read secret: not UTF-8 \(byte 4\)"):
        config.read_secret(str(f), "SEPDESK_TEST_PW", "pw")


def test_cli_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[desk]\nbogus = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sepdesk", "--config", str(p), "tickets", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "[desk] bogus: unknown key" in proc.stderr and "Traceback" not in proc.stderr


def test_config_option_after_the_subcommand(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text(f'[database]\npath = "{tmp_path / "x.db"}"\n')
    _register()
    result = CliRunner().invoke(cli, ["init", "--config", str(p)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x.db").exists()


def _leaf_commands() -> list[str]:
    import click

    _register()
    names = []
    for name, cmd in cli.commands.items():
        if isinstance(cmd, click.Group):
            names.extend(f"{name} {sub}" for sub in cmd.commands)
        else:
            names.append(name)
    return names


def test_every_command_has_help_and_is_in_the_readme() -> None:
    import click

    readme = (ROOT / "README.md").read_text("utf-8")
    for full in _leaf_commands():
        group, _, sub = full.partition(" ")
        cmd = cli.commands[group]
        if sub:
            assert isinstance(cmd, click.Group)
            cmd = cmd.commands[sub]
        assert cmd.help or cmd.short_help, full
        lines = [ln for ln in readme.splitlines() if f"sepdesk {group}" in ln]
        assert lines, f"sepdesk {group} is not in the README"
        if sub:
            assert any(re.search(rf"\b{re.escape(sub)}\b", ln) for ln in lines), full


def test_the_readme_feeds_files_of_the_repository() -> None:
    """README "Feeding it a mail" named ../shared/samples/..., outside the repository:
    on a fresh clone the first command failed with "No such file"."""
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Feeding it a mail", 1)[1].split("\n## ", 1)[0]
    files = re.findall(r"[\w./-]+\.(?:csv|eml)\b", section)
    assert files
    for name in files:
        path = (ROOT / name).resolve()
        assert path.is_relative_to(ROOT) and path.is_file(), name


def _desk_and_mail(tmp_path: Path) -> Path:
    """A new desk's config, beside one mail (``m.eml``) to ingest."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\npath = "{tmp_path / "d.db"}"\n')
    (tmp_path / "m.eml").write_bytes(
        b"From: a@example.org\nSubject: x\nMessage-ID: <m@x>\n\nhello\n"
    )
    _register()
    assert CliRunner().invoke(cli, ["--config", str(cfg), "init"]).exit_code == 0
    return cfg


def _intake_rows(tmp_path: Path) -> int:
    with closing(sqlite3.connect(tmp_path / "d.db")) as conn:
        return int(conn.execute("SELECT count(*) FROM intake").fetchone()[0])


def test_ingest_with_a_bad_received_at_is_a_usage_error_and_stores_nothing(tmp_path: Path) -> None:
    cfg = _desk_and_mail(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "sepdesk", "--config", str(cfg), "ingest",
         str(tmp_path / "m.eml"), "--received-at", "yesterday-ish"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "--received-at" in proc.stderr and "Traceback" not in proc.stderr
    assert _intake_rows(tmp_path) == 0


def _ingest_at(tmp_path: Path, received_at: str) -> tuple[Result, int]:
    """``ingest --received-at`` of one mail on a new desk; the result and the intake rows."""
    cfg = _desk_and_mail(tmp_path)
    args = ["--config", str(cfg), "ingest", str(tmp_path / "m.eml"), "--received-at", received_at]
    result = CliRunner().invoke(cli, args, prog_name="sepdesk")
    return result, _intake_rows(tmp_path)


@pytest.mark.parametrize("value", ["01.12.2026", "Tue, 01 Dec 2026 10:00:00 +0100", "12/01/2026"])
def test_ingest_received_at_needs_iso_8601(tmp_path: Path, value: str) -> None:
    """A loose text was read as it came ("01.12.2026"): it starts the SLA clock at a time
    nobody gave. Refused as any bad date is: one line, exit 2."""
    result, stored = _ingest_at(tmp_path, value)
    assert (result.exit_code, stored) == (2, 0)
    assert result.stderr == (
        "sepdesk ingest: Invalid value for --received-at: not an ISO 8601 instant:"
        f" {value!r}; give e.g. 2026-11-02T09:15 or 2026-11-02T09:15+01:00"
        " (see sepdesk ingest --help)\n"
    )


def test_ingest_received_at_takes_any_iso_instant_a_date_and_the_future_too(
    tmp_path: Path,
) -> None:
    """ingest replays and tests mail of any day (SPEC §3: "--received-at ISO"): a date
    alone is its midnight, and a day after today is taken (a test of Christmas)."""
    with time_machine.travel(datetime(2026, 12, 7, 12, 0, tzinfo=UTC), tick=False):
        for value, stored in (("2026-12-25T10:00", 1), ("2026-12-24", 1)):
            result, rows = _ingest_at(tmp_path, value)
            assert (result.exit_code, rows) == (0, stored), result.output
            (tmp_path / "d.db").unlink()


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("gone.eml", "No such file or directory"),
        # A folder (``ingest mails/*`` matching one) was a usage error (exit 2) that kept
        # every other file out.
        ("sub", "Is a directory"),
    ],
)
def test_ingest_names_a_file_it_cannot_read_in_one_line_and_goes_on(
    tmp_path: Path, bad: str, why: str
) -> None:
    """SPEC §3: a bad file is exit 1 with one line on stderr naming it; the rest is ingested."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\npath = "{tmp_path / "d.db"}"\n')
    good = tmp_path / "m.eml"
    good.write_bytes(b"From: a@example.org\nSubject: x\nMessage-ID: <m@x>\n\nhello\n")
    missing = tmp_path / bad
    (tmp_path / "sub").mkdir()
    _register()
    result = CliRunner().invoke(
        cli, ["--config", str(cfg), "ingest", str(missing), str(good), "--json"]
    )
    assert result.exit_code == 1
    assert result.stderr == f"sepdesk: {missing}: cannot read: {why}\n"
    records = {r["file"]: r["outcome"] for r in json.loads(result.stdout)}
    assert records == {str(missing): "error", str(good): "new_ticket"}


@pytest.mark.parametrize("command", [("backup",), ("report", "sce", "--out")])
def test_a_folder_to_write_to_is_a_bad_file_exit_1(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    """SPEC §3 (review finding): exit 1, one line naming the path, no file left beside it."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\npath = "{tmp_path / "d.db"}"\n')
    target = tmp_path / "out"
    target.mkdir()
    _register()
    assert CliRunner().invoke(cli, ["--config", str(cfg), "init"]).exit_code == 0
    result = CliRunner().invoke(cli, ["--config", str(cfg), *command, str(target)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"sepdesk: {target}: ") and "Is a directory" in result.stderr
    assert result.stderr.count("\n") == 1 and ".partial" not in result.stderr
    assert not (tmp_path / "out.partial").exists()


@pytest.mark.parametrize("command", [("contracts", "import"), ("hotline", "import")])
def test_a_folder_to_import_is_a_bad_file_exit_1(command: tuple[str, str], tmp_path: Path) -> None:
    """SPEC §3: exit 1 for a bad file, as for a missing one (2 is for usage errors)."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\npath = "{tmp_path / "d.db"}"\n')
    _register()
    result = CliRunner().invoke(cli, ["--config", str(cfg), *command, str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert f"{tmp_path}: " in result.stderr and "Is a directory" in result.stderr


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[calendar]\nextra_closed = ["12-32"]\n', r"\[calendar\] extra_closed: '12-32'"),
        ('[calendar]\ncountry = "XX"\n', r"\[calendar\] country: 'XX' is not a country"),
        ('[calendar]\nsubdivisions = ["BY", "ZZ"]\n', r"\[calendar\] subdivisions: 'ZZ' is not"),
        ("[sla]\nrepeat_after_breach = -5\n", r"\[sla\] repeat_after_breach: must be 0"),
        # Loaded fine, then every breach failed with an OverflowError, retried for ever.
        (
            "[sla]\nrepeat_after_breach = 9999999999\n",
            r"\[sla\] repeat_after_breach: must be 0 \(no reminders\) to 525600 minutes",
        ),
        ("[sla]\nwarn_at = 1\n", r"\[sla\] warn_at: must be greater than 0 and less than 1"),
        ("[sla]\nwarn_at = 0\n", r"\[sla\] warn_at: must be greater than 0 and less than 1"),
        ('[log]\nlevel = "LOUD"\n', r"\[log\] level: 'LOUD' is not one of DEBUG, INFO"),
        # Compared as nothing: no reply would have named an old version.
        (
            '[policy]\ncurrent_version = "latest"\n',
            r"\[policy\] current_version: 'latest' is not a version like 5.1.0",
        ),
        ("[desk]\nreopen_days = -3\n", r"\[desk\] reopen_days: must be 0 or more, not -3"),
        (
            "[desk]\nmax_auto_replies_per_day = -1\n",
            r"\[desk\] max_auto_replies_per_day: must be 0 or more",
        ),
        ("[smtp]\nport = 70000\n", r"\[smtp\] port: must be 1-65535, not 70000"),
        # Loaded fine, then broke the work: every follow-up to a solved ticket quarantined
        # (timedelta overflow), every mail failed unsent, an IMAP poller that never waits.
        (
            "[desk]\nreopen_days = 99999999999999999999\n",
            r"\[desk\] reopen_days: must be at most 36500",
        ),
        ('[database]\npath = ""\n', r"\[database\] path: must not be empty"),
        ('[hotline]\nspool_dir = " "\n', r"\[hotline\] spool_dir: must not be empty"),
        ('[outbox]\ndir = ""\n', r"\[outbox\] dir: must not be empty"),
        ("[outbox]\nmax_attempts = 0\n", r"\[outbox\] max_attempts: must be 1 or more, not 0"),
        ("[imap]\npoll_interval = -1\n", r"\[imap\] poll_interval: must be 1 or more"),
        (
            '[hotline]\ncolumns = { tickte = "x" }\n',
            r"\[hotline\] columns: 'tickte' is not a hotline column",
        ),
    ],
)
def test_bad_values_name_file_section_and_key(tmp_path: Path, toml: str, expected: str) -> None:
    refused(tmp_path / "c.toml", toml, expected)


def refused(p: Path, toml: str, expected: str) -> None:
    """Config file ``p`` with ``toml`` does not load: the error names the file, then
    ``expected`` (a regex)."""
    p.write_text(toml)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(p))}: {expected}"):
        config.load(p)


def test_good_calendar_sla_and_log_values_load(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text(
        '[calendar]\ncountry = "AT"\nsubdivisions = []\nextra_closed = ["02-29", "2026-12-24"]\n'
        '[sla]\nrepeat_after_breach = 0\nwarn_at = 0.9\n[log]\nlevel = "debug"\n'
    )
    s = config.load(p)
    assert (s.calendar.country, s.sla.repeat_after_breach, s.log.level) == ("AT", 0, "debug")


def test_status_checks_the_calendar_too(tmp_path: Path) -> None:
    """The docs recommend `sepdesk status` as the config check: it must refuse what serve's
    SLA timer could not use, in one line naming the file, exit 2."""
    p = tmp_path / "c.toml"
    p.write_text(
        f'[database]\npath = "{tmp_path / "d.db"}"\n[calendar]\nextra_closed = ["12-32"]\n'
    )
    _register()
    result = CliRunner().invoke(cli, ["--config", str(p), "status"])
    assert result.exit_code == 2
    assert result.stderr == f"sepdesk: {p}: [calendar] extra_closed: '12-32' is neither" + (
        " 'MM-DD' nor 'YYYY-MM-DD'\n"
    )


def test_config_comes_from_the_option_then_the_environment_then_the_default_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §3: --config, else $SEPDESK_CONFIG, else config/sepdesk.toml, else built-in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEPDESK_CONFIG", raising=False)
    (tmp_path / "config").mkdir()
    for name in ("default", "env", "option"):
        (tmp_path / f"{name}.toml").write_text(f'[database]\npath = "{name}.db"\n')
    _register()

    def database(*args: str, env: str | None = None) -> str:
        result = CliRunner().invoke(cli, [*args, "init"], env={"SEPDESK_CONFIG": env})
        assert result.exit_code == 0, result.output
        return result.stdout.split(":")[0].removeprefix("database ")

    assert database() == "var/sepdesk.db"  # built-in defaults
    (tmp_path / "default.toml").rename(tmp_path / "config" / "sepdesk.toml")
    assert database() == "default.db"
    assert database(env="env.toml") == "env.db"
    assert database("--config", "option.toml", env="env.toml") == "option.db"
    assert config.load().database.path == "default.db"


@pytest.mark.parametrize("key", ["max_connections", "max_message_bytes"])
def test_smtp_limits_must_be_one_or_more(tmp_path: Path, key: str) -> None:
    """0 switched aiosmtpd's size limit off while the line limit still counted."""
    with pytest.raises(ConfigError, match=rf"\[smtp\] {key}: must be 1 or more, not 0"):
        p = tmp_path / "c.toml"
        p.write_text(f"[smtp]\n{key} = 0\n")
        config.load(p)


def test_a_config_saved_with_a_bom_loads(tmp_path: Path) -> None:
    """Windows editors save UTF-8 with a BOM: it was "not valid TOML ... line 1, column 1",
    a fault the admin cannot see in the file. One leading BOM is dropped; a second is not."""
    p = tmp_path / "c.toml"
    p.write_bytes(b'\xef\xbb\xbf[desk]\nname = "B\xc3\xbcro"\n')
    assert config.load(p).desk.name == "Büro"
    p.write_bytes(b'\xef\xbb\xbf\xef\xbb\xbf[desk]\nname = "x"\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(p)


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        # The subject tag [<tag> T-...]: "[ T-2026-000123]" with an empty one; a bracket
        # made replies' subjects grow a tag each time ("A]") or cut them ("A[B").
        ('tag = ""', r"\[desk\] tag: '': must not be empty"),
        ('tag = "A]"', r"\[desk\] tag: 'A\]': '\]' is not allowed"),
        ('tag = "A[B"', r"\[desk\] tag: 'A\[B': '\[' is not allowed"),
        ('tag = "SEP Support"', r"\[desk\] tag: 'SEP Support': ' ' is not allowed"),
        ('tag = "SEP\\t"', r"\[desk\] tag: 'SEP\\t': '\\t' is not allowed"),
        ('tag = "S\\u200bEP"', r"\[desk\] tag: .*: '\\u200b' is not allowed"),
        (f'tag = "{"X" * 21}"', r"\[desk\] tag: .*: at most 20 characters, not 21"),
        ('support_address = "Support <support@sep.example>"', r"\[desk\] support_address: not"),
        ('support_address = "@sep.example"', r"\[desk\] support_address: not a mail address"),
        ('team_address = "team@sep.example, lead@sep.example"', r"\[desk\] team_address: not"),
        ('escalation_to = ["lead@sep.example", "duty"]', r"\[desk\] escalation_to: .*'duty'"),
        ('escalation_to = ["@sep.example"]', r"\[desk\] escalation_to: not a mail address"),
        ('aliases = ["help@"]', r"\[desk\] aliases: not a mail address: 'help@'"),
        ('staff = ["anna@sep.example", "sep.example"]', r"\[desk\] staff: .*'sep.example'"),
        ('staff = ["@localhost"]', r"\[desk\] staff: not a mail address or @domain"),
        ('staff = ["@sep..example"]', r"\[desk\] staff: not a mail address or @domain"),
    ],
)
def test_bad_desk_tag_and_addresses_name_the_key(tmp_path: Path, toml: str, expected: str) -> None:
    """Typed only as str or list, these loaded and went wrong at the first mail: an
    address no reply could go to or no sender could equal, a tag that broke subjects."""
    refused(tmp_path / "c.toml", f'[desk]\nauthserv_id = "mx.sep.example"\n{toml}\n', expected)


def test_good_desk_tag_and_addresses_load(tmp_path: Path) -> None:
    """The domain rule is the contracts import's (mailbox.is_domain_entry)."""
    from sepdesk.contracts import _contact_ok

    p = tmp_path / "c.toml"
    p.write_text(
        '[desk]\ntag = "SEP-Süd"\nsupport_address = "support@sep.example"\n'
        'team_address = ""\nescalation_to = ["Lead@sep.example"]\n'
        'staff = ["anna@sep.example", "@sep.example"]\nauthserv_id = "mx.sep.example"\n'
    )
    s = config.load(p)
    assert (s.desk.tag, s.desk.staff) == ("SEP-Süd", ["anna@sep.example", "@sep.example"])
    for entry in ("@sep.example", "@localhost", "@sep..example", "@a b.de"):
        staff = f'[desk]\nstaff = ["{entry}"]\nrequire_auth = false\n'
        p.write_text(staff)
        try:
            config.load(p)
            taken = True
        except ConfigError:
            taken = False
        assert taken == _contact_ok(entry), entry


def test_a_ca_file_that_cannot_be_used_is_a_config_error(tmp_path: Path) -> None:
    """[imap]/[relay] ca_file (a private CA) is loaded at start: a missing file, or one
    without a certificate, is one line naming the key (exit 2), not a failure at every
    connection later."""
    p = tmp_path / "c.toml"
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for toml, expected in (
        (f'[relay]\nca_file = "{tmp_path}/nope.pem"\n', r"\[relay\] ca_file: .*No such file"),
        (f'[imap]\nca_file = "{junk}"\n', r"\[imap\] ca_file: .*no CA certificate in it"),
        (
            f'[imap]\naccounts = [{{ user = "b", ca_file = "{tmp_path}" }}]\n',
            r"\[imap\] accounts\[1\]\.ca_file: .*Is a directory",
        ),
    ):
        refused(p, toml, expected)
    p.write_text(f'[relay]\nca_file = "{tmp_path}/nope.pem"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "sepdesk", "--config", str(p), "status"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "[relay] ca_file:" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("where", ["root", "group", "command"])
def test_config_is_taken_before_the_group_after_it_and_after_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """SPEC §3: every command takes --config; before a group's subcommand it was refused."""
    monkeypatch.chdir(tmp_path)  # no default database here: only the config's is found
    monkeypatch.delenv("SEPDESK_CONFIG", raising=False)
    p = tmp_path / "c.toml"
    p.write_text(f'[database]\npath = "{tmp_path / "d.db"}"\n')
    _register()
    opt = ["--config", str(p)]
    args = {
        "root": [*opt, "tickets", "list"],
        "group": ["tickets", *opt, "list"],
        "command": ["tickets", "list", *opt],
    }[where]
    assert CliRunner().invoke(cli, ["--config", str(p), "init"]).exit_code == 0
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ticket_number")


_IMAP = {"enabled": True, "host": "127.0.0.1", "user": "desk@x.example", "tls": "none"}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # Read again on every pass: one mail became 938 duplicates in 25 s (review).
        ({"processed_folder": "INBOX"}, r"\[imap\] processed_folder: 'INBOX' is a folder that"),
        ({"extra_folders": ["Quarantine"]}, r"\[imap\] quarantine_folder: 'Quarantine' is a"),
        # The same mailbox twice: every mail moved into Processed twice.
        ({"accounts": [{"user": "desk@x.example"}]}, r"accounts\[1\]: folder 'INBOX' of"),
        (
            {"accounts": [{"user": "desk@x.example", "folder": "P", "processed_folder": "INBOX"}]},
            r"accounts\[1\] processed_folder: 'INBOX' is a folder that is read",
        ),
    ],
)
def test_imap_folders_read_twice_or_moved_into_a_read_one_are_refused(
    extra: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        config.from_mapping({"imap": {**_IMAP, **extra}}, "c.toml")
    # Another user's INBOX on the same server is another mailbox.
    config.from_mapping({"imap": {**_IMAP, "accounts": [{"user": "partner@x.example"}]}}, "c")
