"""Start-up refusals, checked in fresh interpreters the way a deployment would start."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.checks import LIVE_KEY_IN_DEBUG, MIXED_MODES, check_stripe_keys

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x" * 50,
    "DJANGO_ALLOWED_HOSTS": "shop.example",
    "SITE_URL": "https://shop.example",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/payments",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "STRIPE_SECRET_KEY": "sk_live_" + "a" * 24,
    "STRIPE_PUBLISHABLE_KEY": "pk_live_" + "b" * 24,
    "STRIPE_WEBHOOK_SECRETS": "whsec_" + "c" * 24,
}


def start(settings_module: str, env: dict[str, str], then: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DJANGO_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {then}"],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": settings_module},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_starts_with_every_variable_set():
    assert start("config.settings.production", PRODUCTION_ENV).returncode == 0


@pytest.mark.parametrize(
    ("toggle", "expected"), [({}, "True"), ({"DATABASE_SERVER_SIDE_BINDING": "false"}, "False")]
)
def test_production_binds_parameters_on_the_server_unless_told_not_to(
    toggle: dict[str, str], expected: str
) -> None:
    # Prepared statements are what the webhook inbox's figures rest on; a PgBouncer in
    # transaction mode without prepared statements needs the switch.
    code = "from django.db import connection as c; print(c.settings_dict['OPTIONS']['server_side_binding'])"
    result = start("config.settings.production", {**PRODUCTION_ENV, **toggle}, then=code)
    assert result.stdout.strip() == expected, result.stderr[-2000:]


@pytest.mark.parametrize(
    "missing",
    [
        "STRIPE_SECRET_KEY",
        "STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRETS",
        "DJANGO_SECRET_KEY",
        "DATABASE_URL",
    ],
)
def test_production_stops_naming_the_missing_variable(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}

    result = start("config.settings.production", env)

    assert result.returncode != 0
    assert missing in result.stderr
    assert "sk_live_" not in result.stderr


def test_production_refuses_a_live_key_in_debug():
    result = start("config.settings.production", {**PRODUCTION_ENV, "DJANGO_DEBUG": "true"})

    assert result.returncode != 0
    assert LIVE_KEY_IN_DEBUG in result.stderr
    assert PRODUCTION_ENV["STRIPE_SECRET_KEY"] not in result.stderr


def test_local_refuses_a_live_key_because_debug_is_on():
    result = start(
        "config.settings.local",
        {"STRIPE_SECRET_KEY": "sk_live_" + "a" * 24, "STRIPE_PUBLISHABLE_KEY": "pk_live_x"},
    )

    assert result.returncode != 0
    assert LIVE_KEY_IN_DEBUG in result.stderr


def test_production_refuses_a_test_key_mixed_with_a_live_one():
    result = start(
        "config.settings.production", {**PRODUCTION_ENV, "STRIPE_PUBLISHABLE_KEY": "pk_test_" + "b" * 24}
    )

    assert result.returncode != 0
    assert MIXED_MODES in result.stderr


@pytest.mark.parametrize(
    ("secret", "publishable", "debug", "error"),
    [
        ("sk_live_a", "pk_live_b", True, LIVE_KEY_IN_DEBUG),
        ("rk_live_a", "pk_live_b", True, LIVE_KEY_IN_DEBUG),
        ("sk_test_a", "pk_live_b", False, MIXED_MODES),
        ("sk_live_a", "pk_test_b", False, MIXED_MODES),
    ],
)
def test_refusals(secret, publishable, debug, error):
    with pytest.raises(ImproperlyConfigured, match=error):
        check_stripe_keys(secret_key=secret, publishable_key=publishable, debug=debug)


@pytest.mark.parametrize(
    ("secret", "publishable", "debug"),
    [
        ("sk_test_a", "pk_test_b", True),
        ("sk_live_a", "pk_live_b", False),
        ("sk_test_emulator", "pk_test_emulator", True),
    ],
)
def test_allowed_combinations(secret, publishable, debug):
    check_stripe_keys(secret_key=secret, publishable_key=publishable, debug=debug)


SQLITE_WRITER = """
import django
django.setup()
from django.db import connection, transaction
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS t (n integer)")
for _ in range(300):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")  # read, then write: the pattern that deadlocks
        cursor.execute("INSERT INTO t VALUES (%s)", [cursor.fetchone()[0]])
"""


def test_the_embedded_sqlite_lets_the_web_server_and_worker_write_at_once(tmp_path: Path) -> None:
    # given two processes (web server and worker) on the embedded default's SQLite file
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DJANGO_", "DATABASE_"))}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", SQLITE_WRITER],
            cwd=ROOT,
            env={**clean, **env, "DJANGO_SETTINGS_MODULE": "config.settings.local"},
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    # then both finish every transaction: none fails with "database is locked"
    errors = [writer.communicate(timeout=120)[1] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], errors
