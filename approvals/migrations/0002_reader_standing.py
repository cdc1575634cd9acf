"""Readers whose application is open or rejected are not approved (User.reader_approved)."""

from django.db import migrations


def standing_copy(apps, schema_editor):
    ReaderApplication = apps.get_model("approvals", "ReaderApplication")
    User = apps.get_model("samia_chat", "User")
    waiting = ReaderApplication.objects.exclude(status="approved").values("user_id")
    User.objects.filter(pk__in=waiting).update(reader_approved=False)


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0001_initial"),
        ("samia_chat", "0008_reader_approved"),
    ]

    operations = [migrations.RunPython(standing_copy, migrations.RunPython.noop)]
