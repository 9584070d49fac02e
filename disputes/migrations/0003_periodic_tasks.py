"""Create the disputes beat schedules, so a fresh database has them (disputes.schedules)."""

from django.db import migrations

from disputes.schedules import periodic_tasks_install, periodic_tasks_remove


class Migration(migrations.Migration):
    dependencies = [
        ("disputes", "0002_mirror_evidence_deadlines"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(periodic_tasks_install, periodic_tasks_remove)]
