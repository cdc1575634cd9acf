"""The Django admin follows the role: staff can do their tasks there, nobody else gets in."""

import pytest
from django.core.management import call_command

from samia_chat.models import AccessEvent, Role, User

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("persona", "sessions", "messages", "users", "user_change"),
    [
        ("client_user", 302, 302, 302, 302),
        ("reader_user", 302, 302, 302, 302),
        ("monitor", 200, 200, 200, 403),
        ("admin", 200, 200, 200, 403),
        ("super_admin", 200, 200, 200, 200),
    ],
)
def test_admin_pages_by_role(request, client, persona, sessions, messages, users, user_change):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    assert client.get("/admin/chat/chatsession/").status_code == sessions
    assert client.get("/admin/chat/message/").status_code == messages
    assert client.get("/admin/samia_chat/user/").status_code == users
    assert client.get(f"/admin/samia_chat/user/{user.pk}/change/").status_code in (
        user_change,
        # a viewer gets the read-only form at the same address
        200 if user_change == 403 else user_change,
    )


def test_only_super_admins_may_change_users(monitor, admin, super_admin):
    assert not monitor.has_perm("samia_chat.change_user")
    assert not admin.has_perm("samia_chat.change_user")
    assert super_admin.has_perm("samia_chat.change_user")
    assert admin.has_perm("chat.change_chatsession")
    assert not monitor.has_perm("chat.change_chatsession")


def test_sessions_cannot_be_added_in_the_admin(client, super_admin):
    client.force_login(super_admin)
    assert client.get("/admin/chat/chatsession/add/").status_code == 403


def test_a_deactivated_staff_member_has_no_permissions(admin):
    admin.is_active = False
    admin.save()
    assert not admin.has_perm("chat.view_chatsession")
    assert not admin.has_module_perms("chat")


def test_createsuperuser_makes_a_super_admin():
    call_command("createsuperuser", username="root", email="r@example.com", interactive=False)
    user = User.objects.get(username="root")
    assert user.role == Role.SUPER_ADMIN
    assert user.is_staff


def test_reusing_a_refresh_token_is_recorded(client_user):
    from samia_chat.tokens import token_pair_issue, token_pair_refresh

    pair = token_pair_issue(user=client_user)
    token_pair_refresh(refresh=pair["refresh"])
    with pytest.raises(Exception, match="already used"):
        token_pair_refresh(refresh=pair["refresh"])
    assert AccessEvent.objects.filter(
        action=AccessEvent.Action.TOKEN_REUSED, actor=client_user
    ).exists()
