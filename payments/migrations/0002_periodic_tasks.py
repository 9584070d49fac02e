"""Create the payments beat schedules, so a fresh database has them (payments.schedules)."""

from django.db import migrations

from payments.schedules import periodic_tasks_install, periodic_tasks_remove


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(periodic_tasks_install, periodic_tasks_remove)]
