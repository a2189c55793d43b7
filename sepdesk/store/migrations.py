"""Forward-only schema migrations (sqlite-utils ``Migrations``); applied by init and serve.

Add a new function at the end to change the schema; never edit one that has
shipped. Instants are UTC text (see sepdesk.instants); lists are JSON text.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("sepdesk")


def known_migrations() -> list[str]:
    """The names of every migration this sepdesk has, in order."""
    return [m.name for m in MIGRATIONS._migrations]  # sqlite-utils lists them only as pending


_SCHEMA_1 = """
CREATE TABLE contracts (
    customer_number TEXT PRIMARY KEY,
    customer_name TEXT NOT NULL,
    level TEXT NOT NULL,
    start TEXT NOT NULL,
    "end" TEXT NOT NULL,
    contacts TEXT NOT NULL DEFAULT '[]',
    license_ids TEXT NOT NULL DEFAULT '[]',
    license_type TEXT NOT NULL,
    sce TEXT NOT NULL DEFAULT '',
    sce_changed_at TEXT,
    phones TEXT NOT NULL DEFAULT '[]',
    updated_at TEXT NOT NULL
);

CREATE TABLE intake (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    source_ref TEXT,
    mail_from TEXT NOT NULL DEFAULT '',
    rcpt_to TEXT NOT NULL DEFAULT '[]',
    raw BLOB NOT NULL,
    size INTEGER NOT NULL,
    digest TEXT NOT NULL,
    received_at TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    reason TEXT,
    steps TEXT NOT NULL DEFAULT '[]',
    message_id TEXT,
    ticket_id INTEGER,
    processed_at TEXT
);
CREATE UNIQUE INDEX intake_source_ref ON intake(source, source_ref) WHERE source_ref IS NOT NULL;
CREATE INDEX intake_pending ON intake(state, id);
CREATE INDEX intake_digest ON intake(digest);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    ticket_number TEXT NOT NULL UNIQUE,
    call_id TEXT UNIQUE,
    status TEXT NOT NULL,
    channel TEXT NOT NULL,
    customer_number TEXT,
    contract_level TEXT,
    contract_state TEXT NOT NULL DEFAULT 'none',
    match_basis TEXT NOT NULL DEFAULT 'none',
    match_reason TEXT NOT NULL DEFAULT '',
    verified_sender INTEGER NOT NULL DEFAULT 0,
    severity INTEGER NOT NULL,
    stated_severity INTEGER,
    severity_reasons TEXT NOT NULL DEFAULT '[]',
    subject TEXT NOT NULL DEFAULT '',
    requester TEXT NOT NULL DEFAULT '',
    requester_name TEXT NOT NULL DEFAULT '',
    reply_to TEXT NOT NULL DEFAULT '',
    received_at TEXT NOT NULL,
    first_response_due TEXT,
    first_response_at TEXT,
    breached INTEGER NOT NULL DEFAULT 0,
    missing_info TEXT NOT NULL DEFAULT '[]',
    language TEXT NOT NULL DEFAULT 'en',
    versions TEXT NOT NULL DEFAULT '[]',
    operating_systems TEXT NOT NULL DEFAULT '[]',
    assigned_to TEXT,
    linked_ticket TEXT,
    delivery_failed INTEGER NOT NULL DEFAULT 0,
    solved_at TEXT,
    closed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX tickets_status ON tickets(status);
CREATE INDEX tickets_customer ON tickets(customer_number);
CREATE INDEX tickets_open_due ON tickets(first_response_due) WHERE first_response_at IS NULL;

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    direction TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT '',
    from_addr TEXT NOT NULL DEFAULT '',
    to_addrs TEXT NOT NULL DEFAULT '[]',
    at TEXT NOT NULL,
    message_id TEXT,
    in_reply_to TEXT,
    subject TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '',
    intake_id INTEGER REFERENCES intake(id),
    outbox_id INTEGER
);
CREATE INDEX messages_ticket ON messages(ticket_id, at);
CREATE INDEX messages_message_id ON messages(message_id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER REFERENCES tickets(id),
    kind TEXT NOT NULL,
    to_addrs TEXT NOT NULL,
    subject TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    in_reply_to TEXT,
    raw BLOB NOT NULL,
    automatic INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_ticket ON outbox(ticket_id);

CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY,
    intake_id INTEGER REFERENCES intake(id),
    source TEXT NOT NULL,
    received_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    released_at TEXT
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER REFERENCES tickets(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_ticket ON events(ticket_id, id);

CREATE TABLE counters (
    name TEXT NOT NULL,
    year INTEGER NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (name, year)
);

CREATE TABLE escalations (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    kind TEXT NOT NULL,
    n INTEGER NOT NULL,
    due_at TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    late INTEGER NOT NULL DEFAULT 0,
    outbox_id INTEGER REFERENCES outbox(id),
    UNIQUE (ticket_id, kind, n)
);

CREATE TABLE hotline_calls (
    call_uid TEXT PRIMARY KEY,
    row_digest TEXT NOT NULL,
    ticket_id INTEGER REFERENCES tickets(id),
    source_file TEXT NOT NULL DEFAULT '',
    imported_at TEXT NOT NULL
);

CREATE TABLE imap_state (
    mailbox TEXT PRIMARY KEY,
    uidvalidity INTEGER,
    last_uid INTEGER NOT NULL DEFAULT 0,
    last_contact_at TEXT,
    last_error TEXT
);

CREATE TABLE auto_replies (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX auto_replies_addr ON auto_replies(address, at);

CREATE TABLE daemon_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@MIGRATIONS()
def m001_initial(db: sqlite_utils.Database) -> None:
    for statement in _SCHEMA_1.split(";"):
        if statement.strip():
            db.execute(statement)


# -- SLA timer: when does each ticket next need the timer? (issue 3) -------------------------
# The warning instant is support time, which SQL cannot compute, so the timer keeps
# tickets.next_escalation_at itself. Code that changes what the clock depends on (due,
# response, status, severity, contract) need not know about it: these triggers set the
# column to the ticket's received_at, a past instant meaning "timer: look at this now", and
# the timer's next pass replaces it with the real next instant. next_due() is then one
# lookup in a small partial index instead of a scan of every open ticket.
# The "look now" trigger; m004 adds a WHEN so an explicit next_escalation_at is kept.
_SLA_UPDATE_TRIGGER = """CREATE TRIGGER tickets_sla_update AFTER UPDATE OF first_response_due,
        first_response_at, status, severity, contract_level, contract_state, received_at
        ON tickets {when}
    BEGIN
        UPDATE tickets SET next_escalation_at = CASE
            WHEN NEW.first_response_due IS NULL OR NEW.first_response_at IS NOT NULL
                 OR NEW.status IN ('solved', 'closed') THEN NULL
            ELSE NEW.received_at END
        WHERE id = NEW.id;
    END"""
_SLA_NEXT_ESCALATION = (
    "ALTER TABLE tickets ADD COLUMN next_escalation_at TEXT",
    "CREATE INDEX tickets_next_escalation ON tickets(next_escalation_at)"
    " WHERE next_escalation_at IS NOT NULL",
    """CREATE TRIGGER tickets_sla_insert AFTER INSERT ON tickets
    WHEN NEW.first_response_due IS NOT NULL AND NEW.first_response_at IS NULL
         AND NEW.status NOT IN ('solved', 'closed')
    BEGIN
        UPDATE tickets SET next_escalation_at = NEW.received_at WHERE id = NEW.id;
    END""",
    _SLA_UPDATE_TRIGGER.format(when=""),
    "UPDATE tickets SET next_escalation_at = received_at WHERE first_response_due IS NOT NULL"
    " AND first_response_at IS NULL AND status NOT IN ('solved', 'closed')",
)


@MIGRATIONS()
def m002_sla_next_escalation(db: sqlite_utils.Database) -> None:
    for statement in _SLA_NEXT_ESCALATION:
        db.execute(statement)


# The outbox keeps a mail's parts; its bytes are composed once, when it is sent, outside
# the pipeline's write transaction (raw stays empty until then, and then holds what went out).
_OUTBOX_PARTS = (
    "ALTER TABLE outbox ADD COLUMN body TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE outbox ADD COLUMN cc TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE outbox ADD COLUMN refs TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE outbox ADD COLUMN reply_to TEXT",
    "ALTER TABLE outbox ADD COLUMN from_name TEXT",
)


@MIGRATIONS()
def m003_outbox_parts(db: sqlite_utils.Database) -> None:
    for statement in _OUTBOX_PARTS:
        db.execute(statement)


# refresh_due sets next_escalation_at itself when it knows the warning instant; the
# trigger then leaves it alone and only says "look now" when nobody set it.
_SLA_TRIGGER_2 = (
    "DROP TRIGGER tickets_sla_update",
    _SLA_UPDATE_TRIGGER.format(when="WHEN NEW.next_escalation_at IS OLD.next_escalation_at"),
)


@MIGRATIONS()
def m004_sla_trigger_respects_explicit_next(db: sqlite_utils.Database) -> None:
    for statement in _SLA_TRIGGER_2:
        db.execute(statement)


# Dedupe looks intake rows up by Message-ID for every mail; without an index SQLite walked
# every done row (through intake_pending), so each mail cost more the longer the desk ran.
# (message_id, state) lets the planner prefer it over intake_pending, which also has state.
@MIGRATIONS()
def m005_intake_message_id_index(db: sqlite_utils.Database) -> None:
    db.execute("CREATE INDEX IF NOT EXISTS intake_message_id ON intake(message_id, state)")


# Like m004 for updates: a row inserted with its next look already worked out (a phone
# ticket written in its final state) keeps it; only a row without one is marked "look now".
_SLA_INSERT_TRIGGER_2 = (
    "DROP TRIGGER tickets_sla_insert",
    """CREATE TRIGGER tickets_sla_insert AFTER INSERT ON tickets
    WHEN NEW.first_response_due IS NOT NULL AND NEW.first_response_at IS NULL
         AND NEW.status NOT IN ('solved', 'closed') AND NEW.next_escalation_at IS NULL
    BEGIN
        UPDATE tickets SET next_escalation_at = NEW.received_at WHERE id = NEW.id;
    END""",
)


@MIGRATIONS()
def m006_sla_insert_trigger_respects_explicit_next(db: sqlite_utils.Database) -> None:
    for statement in _SLA_INSERT_TRIGGER_2:
        db.execute(statement)


# Versions of data that processes cache (the contracts' matching index), kept by triggers:
# every mail asks whether the contracts changed, before the write lock and under it, and
# count(*) with max(updated_at) walked the whole contracts table to answer. Now it is one
# row read by its key. Any write to the table counts, whoever makes it (import, sce, SQL).
_DATA_VERSIONS = (
    "CREATE TABLE data_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    "INSERT INTO data_versions (name, version) VALUES ('contracts', 0)",
    *(
        f"""CREATE TRIGGER contracts_version_{event.lower()} AFTER {event} ON contracts
    BEGIN
        UPDATE data_versions SET version = version + 1 WHERE name = 'contracts';
    END"""
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
)


@MIGRATIONS()
def m007_data_versions(db: sqlite_utils.Database) -> None:
    for statement in _DATA_VERSIONS:
        db.execute(statement)


# A hotline row imported again with other content is rejected naming the fields that
# differ, so the normalised content (the JSON the row digest is taken of) is kept beside
# the digest. Rows imported before have NULL: their fields are not known.
@MIGRATIONS()
def m008_hotline_call_values(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE hotline_calls ADD COLUMN row_values TEXT")


# A message quarantined again after ``quarantine retry`` keeps its one entry (attempts,
# reason and this time updated) instead of a new entry per failure; the index finds a
# message's entry. Entries of older versions have NULL: their created_at is the time.
@MIGRATIONS()
def m009_quarantine_updated_at(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE quarantine ADD COLUMN updated_at TEXT")
    db.execute("CREATE INDEX quarantine_intake ON quarantine(intake_id)")


# Mail that names a ticket or thread (In-Reply-To, References, a ticket number in the
# Subject) is processed in the order received, by one pipeline process (runner.pending_ids).
@MIGRATIONS()
def m010_intake_threaded(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE intake ADD COLUMN threaded INTEGER NOT NULL DEFAULT 0")


@MIGRATIONS()
def m011_ticket_clock_from(db: sqlite_utils.Database) -> None:
    """Where a reopened ticket's response clock starts again (sla.deadlines.reopen_clock)."""
    db.execute("ALTER TABLE tickets ADD COLUMN clock_from TEXT")


@MIGRATIONS()
def m012_intake_threaded_pending(db: sqlite_utils.Database) -> None:
    """Mark the pending rows that name a conversation, which m010 left all 'not threaded':
    mail waiting in intake across an upgrade (stored by the old code before its 250) was
    processed by whichever process came first, and an engineer's #solve ran before the
    customer's earlier reply, which then reopened the ticket (found by the review)."""
    from sepdesk.pipeline.conversation import names_a_thread  # pure; here: no import cycle

    rows = db.execute("SELECT id, raw FROM intake WHERE state = 'pending' AND NOT threaded")
    threaded = [(row_id,) for row_id, raw in rows.fetchall() if names_a_thread(bytes(raw))]
    db.conn.executemany("UPDATE intake SET threaded = 1 WHERE id = ?", threaded)


@MIGRATIONS()
def m013_messages_in_reply_to(db: sqlite_utils.Database) -> None:
    """A mail processed after a reply to it finds that reply's ticket by it (the dedupe
    step's query, conversation.referred_tickets): one index lookup per mail."""
    db.execute("CREATE INDEX IF NOT EXISTS messages_in_reply_to ON messages(in_reply_to)")


# A contract is a period of a customer, keyed by (customer_number, start): a renewal
# imported in advance overwrote the running contract, one row per customer (review
# finding). The customer's own fields (name, contacts, licences, licence type, SCE choice)
# stay on every period row, kept alike by the import and `contracts sce`; the columns
# and their order are those of m001. SQLite cannot change a primary key in place: the
# table is copied, and the version triggers of m007, dropped with the old table, are made
# again.
_CONTRACT_PERIODS = (
    """CREATE TABLE contracts_periods (
    customer_number TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    level TEXT NOT NULL,
    start TEXT NOT NULL,
    "end" TEXT NOT NULL,
    contacts TEXT NOT NULL DEFAULT '[]',
    license_ids TEXT NOT NULL DEFAULT '[]',
    license_type TEXT NOT NULL,
    sce TEXT NOT NULL DEFAULT '',
    sce_changed_at TEXT,
    phones TEXT NOT NULL DEFAULT '[]',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (customer_number, start)
)""",
    'INSERT INTO contracts_periods SELECT customer_number, customer_name, level, start, "end",'
    " contacts, license_ids, license_type, sce, sce_changed_at, phones, updated_at"
    " FROM contracts ORDER BY rowid",
    "DROP TABLE contracts",
    "ALTER TABLE contracts_periods RENAME TO contracts",
    *_DATA_VERSIONS[2:],
)


@MIGRATIONS()
def m014_contract_periods(db: sqlite_utils.Database) -> None:
    for statement in _CONTRACT_PERIODS:
        db.execute(statement)


@MIGRATIONS()
def m015_outbox_dismissals(db: sqlite_utils.Database) -> None:
    """A failed mail an admin has seen to (answered the customer by hand, say) and
    dismissed: ``status`` counts it no longer. A table of its own, not a column of
    ``outbox``: the mail keeps its state (SPEC §3: queued, sent, failed, bounced)."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS outbox_dismissals ("
        " outbox_id INTEGER PRIMARY KEY REFERENCES outbox(id), at TEXT NOT NULL)"
    )


@MIGRATIONS()
def m016_running_attempts(db: sqlite_utils.Database) -> None:
    """The pipeline's attempts begun and not yet finished, with the process and batch size
    that began them (runner._settle_ended): a row left here by a process that is gone
    ended that process (killed, out of memory, crashed), which no except branch sees.
    A table of its own, empty whenever no batch is in hand, not columns of ``intake``."""
    db.execute(
        "CREATE TABLE running_attempts (intake_id INTEGER PRIMARY KEY, pid INTEGER NOT NULL,"
        " batch INTEGER NOT NULL, began_at TEXT NOT NULL)"
    )
