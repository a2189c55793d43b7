"""The context passed everywhere instead of globals: settings plus this thread's database handle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlite_utils

from sepdesk.config import Settings
from sepdesk.store import open_db

if TYPE_CHECKING:
    from sepdesk.sla.calendar import SupportCalendar


@dataclass
class Desk:
    settings: Settings
    db: sqlite_utils.Database
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True, any_schema: bool = False) -> Desk:
        path = settings.database.path
        desk = cls(settings, open_db(path, migrate_schema=migrate, any_schema=any_schema))
        if migrate:  # made or migrated here: its SLA next looks follow these settings
            from sepdesk.sla.timer import record_warn_at

            record_warn_at(desk.db, settings.sla.warn_at)
        return desk

    def reopen(self) -> Desk:
        """A second handle on the same database, for another thread."""
        return Desk(self.settings, open_db(self.settings.database.path, migrate_schema=False))

    @property
    def calendar(self) -> SupportCalendar:
        if "calendar" not in self._cache:
            from sepdesk.sla.calendar import SupportCalendar

            self._cache["calendar"] = SupportCalendar.from_settings(self.settings)
        return self._cache["calendar"]

    @property
    def tz(self) -> str:
        return self.settings.desk.timezone

    def close(self) -> None:
        self.db.close()
