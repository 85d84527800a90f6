"""Who may change a role is decided by the service, so every path (page, command, shell) obeys
it, not only the view that used to check it."""

import pytest

from governance.access.models import AdminAction
from governance.access.roles import ADMIN, user_role
from governance.access.services import RoleChangeRefused, set_user_role

pytestmark = pytest.mark.django_db


def test_the_service_refuses_an_admins_change_of_their_own_role_and_records_nothing(admin_user):
    with pytest.raises(RoleChangeRefused, match="your own role"):
        set_user_role(actor=admin_user, user=admin_user, role=None)
    assert user_role(admin_user) == ADMIN and not AdminAction.objects.exists()


def test_the_service_refuses_an_unknown_role_naming_the_accepted_ones(admin_user, viewer):
    with pytest.raises(RoleChangeRefused, match="'Root' is not one of Viewer, Auditor, Admin"):
        set_user_role(actor=admin_user, user=viewer, role="Root")
    assert not AdminAction.objects.exists()


def test_an_admin_still_changes_another_users_role_through_the_service(admin_user, viewer):
    set_user_role(actor=admin_user, user=viewer, role="Auditor")
    assert AdminAction.objects.get(action="user.role_changed").after == {"roles": ["Auditor"]}
