"""One scheduler: a second beat started by mistake stands by and sends nothing, and takes over
when the first one dies."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from core.beat import BeatLock

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/9")
SENT = "Sending due task beat-test"


@pytest.mark.django_db
def test_only_one_lock_holder_and_the_lock_passes_on_when_it_goes() -> None:
    first, second = BeatLock(), BeatLock()
    try:
        assert first.held() is True
        assert second.held() is False
        assert first.held() is True  # asking again keeps it
        first.release()  # the first beat's process ends: PostgreSQL frees its lock
        # ... once its backend has exited, a moment after the connection closed (a standby beat
        # asks again every STANDBY_RETRY seconds).
        deadline = time.monotonic() + 10
        while not second.held() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.held() is True
        assert first.held() is False
    finally:
        first.release()
        second.release()


class Beat:
    def __init__(self, tmp_path: Path, name: str) -> None:
        database = settings.DATABASES["default"]
        self.log = tmp_path / f"beat-{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
            "CELERY_BROKER_URL": REDIS_URL,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "info", "--max-interval", "1"],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def wait_for(condition: Callable[[], bool], what: str, beats: list[Beat], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    logs = "\n".join(f"--- {beat.log.name}\n{beat.text()[-2000:]}" for beat in beats)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


@pytest.fixture
def beats(tmp_path: Path) -> Iterator[Callable[[str], Beat]]:
    started: list[Beat] = []

    def start(name: str) -> Beat:
        beat = Beat(tmp_path, name)
        started.append(beat)
        return beat

    yield start
    for beat in started:
        beat.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
@pytest.mark.slow
def test_a_second_beat_stands_by_and_takes_over_when_the_first_dies(beats: Callable[[str], Beat]) -> None:
    # given: a job due every second, on a queue of its own
    queue = f"beat-test-{uuid.uuid4().hex[:8]}"
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="beat-test", task="payments.requeue_stale_stripe_events", interval=every_second, queue=queue
    )
    try:
        # when: two beats are started
        first = beats("first")
        wait_for(
            lambda: "holds the scheduler lock" in first.text(), "the first beat to take the lock", [first]
        )
        second = beats("second")
        wait_for(lambda: "standing by" in second.text(), "the second beat to stand by", [first, second])
        wait_for(lambda: first.text().count(SENT) >= 3, "the first beat to send the job", [first, second])
        # then: only the first one sent it
        assert SENT not in second.text()

        # when: the first beat dies, the second takes over
        first.process.kill()
        wait_for(
            lambda: "holds the scheduler lock" in second.text(), "the second beat to take over", [second]
        )
        wait_for(lambda: SENT in second.text(), "the second beat to send the job", [second])
    finally:
        redis.Redis.from_url(REDIS_URL).delete(queue)
