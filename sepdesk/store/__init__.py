"""SQLite storage: connections, migrations, write transactions and counters."""

from sepdesk.store.db import connect, insert_row, migrate, open_db, schema_version, write_tx

__all__ = ["connect", "insert_row", "migrate", "open_db", "schema_version", "write_tx"]
