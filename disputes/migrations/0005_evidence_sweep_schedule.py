"""Add the evidence sweep to the disputes beat schedules (disputes.schedules)."""

from django.db import migrations

from disputes.schedules import periodic_tasks_install


class Migration(migrations.Migration):
    dependencies = [("disputes", "0004_inquiry_refund")]

    operations = [migrations.RunPython(periodic_tasks_install, migrations.RunPython.noop)]
