"""SQLite storage: connections, migrations, write transactions and counters."""

from sepdesk.store.db import (
    connect,
    insert_row,
    insert_rows,
    migrate,
    open_db,
    schema_version,
    write_tx,
)

__all__ = [
    "connect",
    "insert_row",
    "insert_rows",
    "migrate",
    "open_db",
    "schema_version",
    "write_tx",
]
