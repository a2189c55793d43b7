"""The contracts CSV (SPEC §3): strict columns and fields, all rows or none, upsert rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from sepdesk.contracts import COLUMNS, import_csv, list_contracts
from sepdesk.desk import Desk
from sepdesk.errors import InputError
from tests.conftest import T0

HEADER = ",".join(COLUMNS)
GOOD = "100001,Alpha GmbH,business,2026-01-01,2026-12-31,it@alpha.example,L-1,full,"


def write(tmp_path: Path, *lines: str, name: str = "c.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def refused(desk: Desk, path: Path) -> str:
    """The one-line error of an import that must write nothing."""
    with pytest.raises(InputError) as err:
        import_csv(desk.db, path, T0)
    assert list_contracts(desk.db) == []
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_a_good_file_goes_in(desk: Desk, tmp_path: Path) -> None:
    assert import_csv(desk.db, write(tmp_path, HEADER, GOOD), T0) == 1
    assert [c["customer_number"] for c in list_contracts(desk.db)] == ["100001"]


def test_a_row_with_an_extra_field_is_refused_by_line_and_field(desk: Desk, tmp_path: Path) -> None:
    path = write(
        tmp_path, HEADER, GOOD, "100002,Beta AG,demo,2026-02-01,,@beta.example,,DEMO,,oops"
    )
    message = refused(desk, path)
    assert "line 3, field 10" in message and "'oops'" in message


def test_a_row_with_a_field_too_few_is_refused(desk: Desk, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, "100002,Beta AG,demo,2026-02-01,,@beta.example,,DEMO")
    assert "line 2, field sce: missing" in refused(desk, path)


def test_an_unknown_column_is_named(desk: Desk, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ",region", GOOD + ",north")
    assert "line 1: unknown column 'region'" in refused(desk, path)


def test_a_column_given_twice_is_refused(desk: Desk, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ",sce", GOOD + ",")
    assert "line 1: column sce given twice" in refused(desk, path)


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_semicolon_separated_file_gets_a_hint(
    desk: Desk, tmp_path: Path, sep: str, name: str
) -> None:
    path = write(tmp_path, HEADER.replace(",", sep), GOOD.replace(",", sep))
    message = refused(desk, path)
    assert f"line 1: the columns are separated by {name}" in message
    assert "comma-separated" in message


def test_an_empty_file_is_refused(desk: Desk, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "empty file" in refused(desk, path)
