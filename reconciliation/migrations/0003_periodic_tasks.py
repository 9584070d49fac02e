"""Create the reconciliation beat schedules, so a fresh database has them (reconciliation.schedules)."""

from django.db import migrations

from reconciliation.schedules import periodic_tasks_install, periodic_tasks_remove


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0002_payout_balance_transaction_discrepancy"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(periodic_tasks_install, periodic_tasks_remove)]
