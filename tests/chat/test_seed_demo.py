"""manage.py seed_demo: the demo people and one active reading, safely repeatable."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from chat.models import ChatSession, Membership
from samia_chat.models import User

DEMO_ROLES = {
    "client1": "client",
    "client2": "client",
    "reader1": "reader",
    "reader2": "reader",
    "monitor1": "monitor",
    "admin1": "admin",
    "superadmin1": "super_admin",
}


def test_seed_demo_creates_the_demo_people_and_one_reading(db, settings):
    settings.DEBUG = True

    call_command("seed_demo", "--password", "demo-pass-123", stdout=StringIO())

    assert dict(User.objects.values_list("username", "role")) == DEMO_ROLES
    assert User.objects.get(username="reader1").check_password("demo-pass-123")
    session = ChatSession.objects.get()
    assert (session.kind, session.status) == ("reading", "active")
    assert set(Membership.objects.values_list("user__username", flat=True)) == {
        "client1",
        "reader1",
    }


def test_seed_demo_run_twice_changes_nothing(db, settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    users = list(User.objects.order_by("id").values_list("id", "username", "password"))

    call_command("seed_demo")

    assert list(User.objects.order_by("id").values_list("id", "username", "password")) == users
    assert User.objects.count() == 7
    assert ChatSession.objects.count() == 1
    assert "client1" in capsys.readouterr().out


def test_seed_demo_refuses_when_debug_is_off(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo")

    assert not User.objects.exists()


def test_seed_demo_runs_with_force_when_debug_is_off(db, settings):
    settings.DEBUG = False

    call_command("seed_demo", "--force", stdout=StringIO())

    assert User.objects.count() == 7
    assert ChatSession.objects.count() == 1
