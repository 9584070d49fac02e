"""One scheduler, however many beats are started.

`SingleBeatScheduler` is django-celery-beat's database scheduler that sends only while it holds a
PostgreSQL advisory lock, taken on a connection of its own and kept for the life of the process.
A second beat started by mistake finds the lock taken and stands by, trying again every
`STANDBY_RETRY` seconds; when the first one dies, PostgreSQL frees its lock with its connection and
the second takes over from the `last_run_at` times the first saved. The jobs are idempotent as
well (claims and unique rows), so even a moment of overlap sends nothing twice.

On SQLite (the embedded default: one process runs the worker and its embedded beat) there is no
second beat to keep out, and the scheduler always sends."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import psycopg
from django.db import connection
from django_celery_beat.schedulers import DatabaseScheduler
from psycopg.conninfo import make_conninfo

logger = logging.getLogger(__name__)

# pg_try_advisory_lock key: any constant shared by every beat of one database ("beat" in ASCII).
LOCK_KEY = 0x62656174
STANDBY_RETRY = 5.0


def _dsn() -> str:
    settings = connection.settings_dict
    parts = {
        "dbname": settings["NAME"],
        "user": settings.get("USER"),
        "password": settings.get("PASSWORD"),
        "host": settings.get("HOST"),
        "port": settings.get("PORT"),
    }
    return make_conninfo(**{key: str(value) for key, value in parts.items() if value})


class BeatLock:
    """The advisory lock on a dedicated connection. `held()` answers whether this process may
    send now, reconnecting (and so re-trying the lock) after the connection was lost."""

    def __init__(self) -> None:
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False

    def held(self) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._held = False
                self._conn = psycopg.connect(_dsn(), autocommit=True)
            if self._held:
                self._conn.execute("SELECT 1")  # still connected, so still ours
            else:
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()
                self._held = bool(row and row[0])
                if self._held:
                    logger.info("beat holds the scheduler lock: sending scheduled tasks")
                else:
                    logger.info("beat standing by: another beat holds the scheduler lock")
        except psycopg.Error as error:
            logger.warning(
                "beat lost the scheduler lock's connection (%s): standing by", type(error).__name__
            )
            self.release()
        return self._held

    def release(self) -> None:
        self._held = False
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


class SingleBeatScheduler(DatabaseScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lock = BeatLock() if connection.vendor == "postgresql" else None
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self.lock is not None and not self.lock.held():
            return STANDBY_RETRY
        return float(super().tick(*args, **kwargs))

    def close(self) -> None:
        super().close()
        if self.lock is not None:
            self.lock.release()
