"""SQLite storage: connections, migrations, write transactions and counters."""

from sepdesk.store.db import (
    connect,
    holds_address,
    insert_row,
    insert_rows,
    migrate,
    open_db,
    pending_migrations,
    schema_version,
    write_tx,
)

__all__ = [
    "connect",
    "holds_address",
    "insert_row",
    "insert_rows",
    "migrate",
    "open_db",
    "pending_migrations",
    "schema_version",
    "write_tx",
]
