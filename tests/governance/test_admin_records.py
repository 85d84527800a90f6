"""Every change to users, groups, sources and registries is an admin action, by every path
(console, Django admin, management commands), with before/after as JSON and no secrets in it."""

import datetime as dt
import decimal
import json
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.forms import MultiWidget
from django.test import RequestFactory
from django.urls import reverse

from governance.access.admin import RecordedAdminMixin
from governance.access.models import AdminAction
from governance.access.records import record_admin_action
from governance.access.roles import ADMIN, VIEWER

PASSWORD = "correct-horse-battery"


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("sue-super", "sue@example.com", PASSWORD)


@pytest.fixture
def django_admin(client, superuser):
    client.force_login(superuser)
    return client


def _no_secrets(*snapshots):
    text = json.dumps(snapshots)
    assert "pbkdf2" not in text and "argon2" not in text and PASSWORD not in text, text


def _form_data(form) -> dict:
    """What a browser would POST for this unchanged admin form."""
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(field.widget, MultiWidget):
            for i, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{i}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, (list, tuple)):
            data[name] = [getattr(v, "pk", v) for v in value]
        else:
            data[name] = "" if value is None else value
    return data


def test_every_model_in_the_django_admin_is_recorded_and_a_change_through_it_writes_json(
    django_admin, superuser
):
    """Walk the admin: each ModelAdmin records; each one that allows changes records a change."""
    Group.objects.get_or_create(name="walkers")
    User.objects.create_user("walk-target", password=PASSWORD)
    request = RequestFactory().get("/admin/")
    request.user = superuser
    changeable = []
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, RecordedAdminMixin), (
            f"{model.__name__}'s admin records nothing"
        )
        if model_admin.has_change_permission(request):
            changeable.append(model)
    assert {User, Group} <= set(changeable)
    for model in changeable:
        model_admin = admin.site._registry[model]
        rows = model_admin.get_queryset(request)
        if model is User:  # not the superuser walking the admin (another model's pk may match)
            rows = rows.exclude(pk=superuser.pk)
        obj = rows.first()
        assert obj is not None, f"make a {model.__name__} for this test"
        form = model_admin.get_form(request, obj, change=True)(instance=obj)
        url = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk]
        )
        before_count = AdminAction.objects.count()
        response = django_admin.post(url, _form_data(form))
        assert response.status_code == 302, (model, response.content[:2000])
        assert AdminAction.objects.count() == before_count + 1, model
        action = AdminAction.objects.first()
        assert action.object_type == model._meta.label_lower and action.object_id == str(obj.pk)
        assert action.actor == superuser and action.ip_address == "127.0.0.1"
        assert isinstance(action.before, dict) and isinstance(action.after, dict)
        _no_secrets(action.before, action.after)


def test_changing_a_users_groups_and_superuser_flag_in_the_django_admin_is_recorded(
    django_admin, superuser
):
    viewer_group, _ = Group.objects.get_or_create(name=VIEWER)
    admin_group, _ = Group.objects.get_or_create(name=ADMIN)
    target = User.objects.create_user("tim-target", password=PASSWORD)
    target.groups.add(viewer_group)
    request = RequestFactory().get("/admin/")
    request.user = superuser
    form = admin.site._registry[User].get_form(request, target, change=True)(instance=target)
    data = _form_data(form) | {"is_superuser": "on", "is_staff": "on", "groups": [admin_group.pk]}

    response = django_admin.post(f"/admin/auth/user/{target.pk}/change/", data)

    assert response.status_code == 302
    target.refresh_from_db()
    assert target.is_superuser and list(target.groups.all()) == [admin_group]
    action = AdminAction.objects.get(action="user.updated", object_id=str(target.pk))
    assert action.before["groups"] == [VIEWER] and action.after["groups"] == [ADMIN]
    assert action.before["is_superuser"] is False and action.after["is_superuser"] is True
    assert action.after["password"] == "[hidden]"
    _no_secrets(action.before, action.after)


def test_setting_a_password_in_the_django_admin_is_recorded_without_the_hash(
    django_admin, superuser
):
    target = User.objects.create_user("pat-target", password=PASSWORD)
    response = django_admin.post(
        f"/admin/auth/user/{target.pk}/password/",
        {
            "password1": "a-new-long-passphrase-42",
            "password2": "a-new-long-passphrase-42",
            "usable_password": "true",
            "set_usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    action = AdminAction.objects.get(action="user.password_changed")
    assert action.object_id == str(target.pk) and action.actor == superuser
    assert action.before["password"] == "[hidden]"
    assert action.after["password"] == "[hidden, changed]"
    assert "a-new-long-passphrase-42" not in json.dumps([action.before, action.after])
    _no_secrets(action.before, action.after)


def test_adding_and_bulk_deleting_users_in_the_django_admin_are_recorded(django_admin, superuser):
    response = django_admin.post(
        "/admin/auth/user/add/",
        {
            "username": "new-nina",
            "password1": "a-new-long-passphrase-42",
            "password2": "a-new-long-passphrase-42",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    nina = User.objects.get(username="new-nina")
    added = AdminAction.objects.get(action="user.created")
    assert added.before is None and added.after["username"] == "new-nina"
    _no_secrets(added.after)

    response = django_admin.post(
        "/admin/auth/user/",
        {"action": "delete_selected", "_selected_action": [nina.pk], "post": "yes"},
    )
    assert response.status_code == 302
    deleted = AdminAction.objects.get(action="user.deleted")
    assert deleted.object_id == str(nina.pk) and deleted.object_repr == "new-nina"
    assert deleted.before["username"] == "new-nina" and deleted.after is None


def test_renaming_a_group_in_the_django_admin_is_recorded(django_admin):
    group = Group.objects.create(name="old-name")
    response = django_admin.post(f"/admin/auth/group/{group.pk}/change/", {"name": "new-name"})
    assert response.status_code == 302
    action = AdminAction.objects.get(action="group.updated")
    assert action.before["name"] == "old-name" and action.after["name"] == "new-name"


@pytest.mark.django_db
def test_before_and_after_are_stored_as_json_and_secrets_are_masked():
    action = record_admin_action(
        actor=None,
        action="thing.updated",
        before={
            "when": dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC),
            "amount": decimal.Decimal("1.50"),
            "tags": {"b", "a"},
            "client_secret": "s3",
            "token_prefix": "mcpg_abc",
            "nested": {"password": "p"},
        },
        after={"when": dt.date(2026, 1, 3), "client_secret": "s4", "nested": {"password": "p"}},
    )
    action.refresh_from_db()
    assert action.before == {
        "when": "2026-01-02T03:04:00Z",
        "amount": "1.50",
        "tags": ["a", "b"],
        "client_secret": "[hidden]",
        "token_prefix": "mcpg_abc",
        "nested": {"password": "[hidden]"},
    }
    assert action.after == {
        "when": "2026-01-03",
        "client_secret": "[hidden, changed]",
        "nested": {"password": "[hidden]"},
    }


@pytest.mark.django_db
def test_the_admin_action_list_and_detail_show_before_and_after_as_pretty_json(admin_client_):
    action = record_admin_action(
        actor=None,
        action="user.role_changed",
        before={"roles": ["Viewer"], "b": 1},
        after={"roles": []},
    )
    page = admin_client_.get("/governance/actions/").content.decode()
    assert "&#x27;roles&#x27;" not in page and "'roles'" not in page  # no Python dict repr
    assert "{\n  &quot;b&quot;: 1,\n  &quot;roles&quot;: [\n    &quot;Viewer&quot;\n  ]\n}" in page
    detail = admin_client_.get(f"/governance/actions/{action.pk}/")
    assert detail.status_code == 200
    assert "&quot;roles&quot;: []" in detail.content.decode()
    assert admin_client_.get("/governance/actions/999999/").status_code == 404


def test_the_django_admins_own_page_for_an_admin_action_shows_pretty_json(django_admin):
    action = record_admin_action(actor=None, action="x.updated", before={"roles": ["Viewer"]})
    page = django_admin.get(f"/admin/governance/adminaction/{action.pk}/change/")
    assert page.status_code == 200
    assert "{\n  &quot;roles&quot;: [\n    &quot;Viewer&quot;\n  ]\n}" in page.content.decode()


@pytest.mark.django_db
def test_createsuperuser_and_changepassword_commands_are_recorded_without_the_password(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-new-long-passphrase-42")
    call_command(
        "createsuperuser",
        "--noinput",
        "--username",
        "cli-carl",
        "--email",
        "carl@example.com",
        stdout=StringIO(),
    )
    created = AdminAction.objects.get(action="user.created")
    assert created.object_repr == "cli-carl" and created.after["is_superuser"] is True
    assert "manage.py createsuperuser" in created.actor_repr
    _no_secrets(created.after)

    monkeypatch.setattr("getpass.getpass", lambda prompt="": "another-long-passphrase-7")
    call_command("changepassword", "cli-carl", stdout=StringIO())
    changed = AdminAction.objects.get(action="user.password_changed")
    assert changed.object_repr == "cli-carl" and "manage.py changepassword" in changed.actor_repr
    assert changed.after == {"password": "[hidden, changed]"}
    assert User.objects.get(username="cli-carl").check_password("another-long-passphrase-7")


@pytest.mark.django_db
def test_create_source_command_is_recorded_as_done_from_the_command_line():
    call_command("create_source", "edge-gw", stdout=StringIO(), stderr=StringIO())
    action = AdminAction.objects.get(action="eventsource.created")
    assert action.object_repr == "edge-gw" and "manage.py create_source" in action.actor_repr
    _no_secrets(action.after)
    assert set(action.after) >= {"name", "kind", "token_prefix"}
