"""Add the sweep of lost drain wake-ups to the beat schedules (payments.schedules)."""

from django.db import migrations

from payments.schedules import periodic_tasks_install


class Migration(migrations.Migration):
    dependencies = [("payments", "0009_charge_payment_method")]

    operations = [migrations.RunPython(periodic_tasks_install, migrations.RunPython.noop)]
