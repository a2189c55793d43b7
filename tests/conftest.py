"""Shared fixtures: settings on a temp directory, a Desk on a real SQLite file, the sample corpus."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from sepdesk.config import Settings, from_mapping
from sepdesk.contracts import import_csv, read_csv
from sepdesk.desk import Desk
from sepdesk.instants import to_db
from tests.servers.dovecot import DovecotMissing, DovecotServer, dovecot_server

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
if not SAMPLES.is_dir():  # CI clones main with shared/ beside it; a checkout may differ
    SAMPLES = Path("/work/shared/samples")
MAILS = sorted((SAMPLES / "mails").glob("*.eml"))
LABELS: dict[str, dict[str, Any]] = json.loads((SAMPLES / "labels.json").read_text("utf-8"))
CONTRACTS = SAMPLES / "contracts.csv"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def insert_contracts_before_m014(db: sqlite_utils.Database, path: Path, at: datetime) -> None:
    """The contracts of ``path`` as a desk stored them before m014: one row per customer
    (the code's own import needs the schema it was written for)."""
    for r in read_csv(path):
        db.execute(
            'INSERT INTO contracts (customer_number, customer_name, level, start, "end",'
            " contacts, license_ids, license_type, sce, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                r.customer_number,
                r.customer_name,
                r.level,
                r.start.isoformat(),
                r.end.isoformat(),
                json.dumps(list(r.contacts)),
                json.dumps(list(r.license_ids)),
                r.license_type,
                r.sce,
                to_db(at),
            ],
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(tmp: Path, **sections: dict[str, Any]) -> Settings:
    base: dict[str, dict[str, Any]] = {
        "database": {"path": str(tmp / "var" / "sepdesk.db")},
        "outbox": {"dir": str(tmp / "var" / "outbox")},
        "hotline": {"spool_dir": str(tmp / "var" / "hotline")},
        "smtp": {"port": free_port()},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return from_mapping(base, "test")


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    return lambda **sections: make_settings(tmp_path, **sections)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk.open(make_settings(tmp_path))
    yield d
    d.close()


@pytest.fixture
def sample_desk(desk: Desk) -> Desk:
    """A desk with the sample contracts imported."""
    import_csv(desk.db, CONTRACTS, T0)
    return desk


def bench_understanding() -> Any:
    """bench/understanding.py as a module: tests use its own evaluation functions."""
    return bench_module("understanding")


def bench_module(name: str) -> Any:
    """bench/NAME.py as a module (the benches are scripts, not a package)."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def assert_understanding_targets(scores: Any) -> None:
    """The targets of the understanding issue, for any labelled corpus."""
    assert scores.customer_accuracy >= 0.98, scores.misses
    assert scores.severity_accuracy >= 0.85, scores.misses
    assert scores.critical_recall == 1.0, scores.misses
    assert scores.f1()[2] >= 0.9, scores.misses
    assert scores.language_accuracy == 1.0, scores.misses


def write_toml(path: Path, settings_sections: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for section, values in settings_sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in values.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """One Dovecot for the module; a missing binary fails (the test command installs it)."""
    try:
        yield from dovecot_server(tmp_path_factory)
    except DovecotMissing as exc:
        pytest.fail(str(exc))


def run_bench(script: str, *args: str, timeout: float) -> str:
    """bench/``script`` run as a reader of the README would run it; its output, after
    checking it exited 0 (the tests of bench scripts keep them working, not timed)."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, str(root / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
