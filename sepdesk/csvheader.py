"""How a CSV header cell names a column: one rule for the contracts and hotline imports.

Spreadsheet programs and phone-system exports capitalise column names
("Customer_Number") and pad them ("call_uid, started_at" as SPEC writes it); an
admin cannot tell such a header from ours, so neither may the importers.
"""

from __future__ import annotations


def column_key(cell: str) -> str:
    """A header cell (or a configured column name) as columns are compared:
    without surrounding blanks, in lower case."""
    return cell.strip().lower()
