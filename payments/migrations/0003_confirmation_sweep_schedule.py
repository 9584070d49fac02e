"""Add the confirmation-email sweep to the beat schedules (payments.schedules)."""

from django.db import migrations

from payments.schedules import periodic_tasks_install


class Migration(migrations.Migration):
    dependencies = [("payments", "0002_periodic_tasks")]

    operations = [migrations.RunPython(periodic_tasks_install, migrations.RunPython.noop)]
