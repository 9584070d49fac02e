"""The billing re-sync beat schedule (billing.schedules)."""

from django.db import migrations

from billing.schedules import periodic_tasks_install, periodic_tasks_remove


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(periodic_tasks_install, periodic_tasks_remove)]
