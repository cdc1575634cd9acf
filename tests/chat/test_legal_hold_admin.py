"""Legal holds in the staff console: admins place and lift them, every change is audited,
and nothing deletes one."""

import pytest
from django.test import Client

from chat.models import LegalHold
from samia_chat.models import AccessEvent

pytestmark = pytest.mark.django_db
HOLDS = "/admin/chat/legalhold/"


def _staff(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def test_an_admin_places_a_hold_on_a_person_and_lifts_it(admin, client_user):
    browser = _staff(admin)

    placed = browser.post(
        f"{HOLDS}add/", {"user": client_user.pk, "reason": "Chargeback dispute 2026-118"}
    )

    assert placed.status_code == 302, placed.content[:500]
    hold = LegalHold.objects.get()
    assert (hold.user, hold.placed_by, hold.lifted_at) == (client_user, admin, None)
    lifted = browser.post(HOLDS, {"action": "lift", "_selected_action": [hold.pk]})
    assert lifted.status_code == 302
    hold.refresh_from_db()
    assert hold.lifted_by == admin and hold.lifted_at is not None
    details = list(AccessEvent.objects.filter(action="legal_hold").values_list("detail", flat=True))
    assert [d.get("placed") or d.get("lifted") for d in details] == [True, True]


def test_a_hold_names_a_person_or_a_session_not_both_nor_neither(admin, client_user, reading):
    browser = _staff(admin)

    neither = browser.post(f"{HOLDS}add/", {"reason": "?"})
    both = browser.post(
        f"{HOLDS}add/", {"user": client_user.pk, "session": reading.pk, "reason": "?"}
    )

    assert neither.status_code == both.status_code == 200  # the form again, with an error
    assert not LegalHold.objects.exists()


def test_monitors_cannot_place_holds_and_nobody_deletes_them(monitor, super_admin, client_user):
    hold = LegalHold.objects.create(user=client_user, reason="Court order")

    assert (
        _staff(monitor).post(f"{HOLDS}add/", {"user": client_user.pk, "reason": "x"}).status_code
        == 403
    )
    assert _staff(super_admin).post(f"{HOLDS}{hold.pk}/delete/", {"post": "yes"}).status_code == 403
    assert LegalHold.objects.count() == 1
