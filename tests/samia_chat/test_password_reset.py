"""Setting a password by email, also for accounts imported without one."""

import re

import pytest
from django.core import mail
from django.test import Client

from tests.factories import user_create

pytestmark = pytest.mark.django_db


def test_an_imported_account_without_a_password_sets_one_by_email():
    person = user_create(username="hana", email="Hana.Saleh@example.com")  # unusable password
    browser = Client()

    sent = browser.post("/password-reset/", {"email": "hana.saleh@example.com"})

    assert sent.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["Hana.Saleh@example.com"]
    link = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    form = browser.get(link, follow=True)
    new = {"new_password1": "a-fresh-long-password-7", "new_password2": "a-fresh-long-password-7"}
    done = browser.post(form.redirect_chain[-1][0], new)
    assert done.status_code == 302 and done["Location"] == "/password-reset/done/"
    person.refresh_from_db()
    assert person.check_password("a-fresh-long-password-7")


def test_inactive_accounts_and_unknown_addresses_get_no_mail_and_no_hint():
    user_create(username="gone", email="gone@example.com", is_active=False)
    browser = Client()

    for email in ("gone@example.com", "nobody@example.com"):
        assert browser.post("/password-reset/", {"email": email}).status_code == 302

    assert mail.outbox == []
