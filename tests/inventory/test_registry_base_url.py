"""One base-URL rule for the registry form, the API and `crawl_registry`.

`https://r.example/v0.1` is stored as `https://r.example`, so it is the same registry: adding or
renaming to it beside the existing one is the caller's error (a 4xx naming base_url), never a 500
from the database's unique constraint.
"""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.urls import reverse

from governance.access.models import AdminAction
from inventory.models import Registry
from inventory.services import registry as registry_service

pytestmark = pytest.mark.django_db

TAKEN = "base_url is already used by another registry."
NOT_HTTP = "base_url must be an http(s) URL."


@pytest.fixture
def corp():
    return Registry.objects.create(name="corp", base_url="https://r.corp.example")


@pytest.fixture
def other():
    return Registry.objects.create(name="other", base_url="https://r.other.example")


def _form(name, base_url, minutes="60"):
    return {
        "name": name,
        "base_url": base_url,
        "kind": "private",
        "enabled": "on",
        "crawl_interval_minutes": minutes,
    }


# --- API ----------------------------------------------------------------------------------------


def test_api_adding_the_v0_1_variant_of_an_existing_registry_is_a_400_on_base_url(
    admin_client_, corp
):
    response = admin_client_.post(
        "/api/v1/registries/",
        {
            "name": "corp again",
            "base_url": "https://r.corp.example/v0.1/",
            "crawl_interval_minutes": 60,
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"base_url": [TAKEN]}
    assert Registry.objects.count() == 1


def test_api_patching_a_registry_to_another_registrys_url_is_a_400_on_base_url(
    admin_client_, corp, other
):
    response = admin_client_.patch(
        f"/api/v1/registries/{other.pk}/",
        {"base_url": "https://r.corp.example/v0.1/servers"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"base_url": [TAKEN]}
    other.refresh_from_db()
    assert other.base_url == "https://r.other.example"


def test_api_patching_a_registry_to_a_variant_of_its_own_url_is_fine(admin_client_, corp):
    response = admin_client_.patch(
        f"/api/v1/registries/{corp.pk}/",
        {"base_url": "https://r.corp.example/v0.1"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["base_url"] == "https://r.corp.example"


# --- UI form ------------------------------------------------------------------------------------


def test_form_adding_the_v0_1_variant_of_an_existing_registry_names_base_url(admin_client_, corp):
    response = admin_client_.post(
        reverse("inventory:registry_create"), _form("corp again", "https://r.corp.example/v0.1")
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {"base_url": [TAKEN]}
    assert Registry.objects.count() == 1


def test_form_editing_a_registry_to_another_registrys_url_names_base_url(
    admin_client_, corp, other
):
    response = admin_client_.post(
        reverse("inventory:registry_update", args=[other.pk]),
        _form("other", "https://r.corp.example/v0/"),
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {"base_url": [TAKEN]}
    other.refresh_from_db()
    assert other.base_url == "https://r.other.example"


def test_form_editing_a_registry_to_a_variant_of_its_own_url_is_fine(admin_client_, corp):
    response = admin_client_.post(
        reverse("inventory:registry_update", args=[corp.pk]),
        _form("corp", "https://r.corp.example/v0.1/", minutes="30"),
    )
    assert response.status_code == 302
    corp.refresh_from_db()
    assert (corp.base_url, corp.crawl_interval_minutes) == ("https://r.corp.example", 30)


# --- the same registry saved by someone else between the check and the save --------------------


@pytest.fixture
def rival(monkeypatch):
    """Another admin saves a registry after this request's checks passed and before its save:
    the form or serializer saw no duplicate, the save meets the unique constraint."""

    def add_rival(name, base_url):
        for save in ("create_registry", "update_registry"):
            real = getattr(registry_service, save)

            def checked_then_taken(*args, real=real, **kwargs):
                Registry.objects.create(name=name, base_url=base_url)
                return real(*args, **kwargs)

            monkeypatch.setattr(registry_service, save, checked_then_taken)

    return add_rival


def _recorded(action):
    return AdminAction.objects.filter(action=action).count()


def test_api_adding_a_registry_another_admin_just_added_is_a_400_on_base_url(admin_client_, rival):
    rival("corp", "https://r.corp.example")  # the same name and URL: the same registry
    response = admin_client_.post(
        "/api/v1/registries/",
        {"name": "corp", "base_url": "https://r.corp.example/v0.1", "crawl_interval_minutes": 60},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"base_url": [TAKEN]}
    assert Registry.objects.count() == 1 and _recorded("registry.created") == 0


def test_api_patching_to_a_url_another_admin_just_took_is_a_400_on_base_url(
    admin_client_, other, rival
):
    rival("corp", "https://r.corp.example")
    response = admin_client_.patch(
        f"/api/v1/registries/{other.pk}/",
        {"base_url": "https://r.corp.example/v0/servers"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"base_url": [TAKEN]}
    other.refresh_from_db()
    assert other.base_url == "https://r.other.example" and _recorded("registry.updated") == 0


def test_api_a_name_another_admin_just_took_is_a_400_on_name(admin_client_, rival):
    rival("corp", "https://r.elsewhere.example")
    response = admin_client_.post(
        "/api/v1/registries/",
        {"name": "corp", "base_url": "https://r.corp.example", "crawl_interval_minutes": 60},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert Registry.objects.get().base_url == "https://r.elsewhere.example"


def test_form_adding_a_registry_another_admin_just_added_names_base_url(admin_client_, rival):
    rival("corp (theirs)", "https://r.corp.example")
    response = admin_client_.post(
        reverse("inventory:registry_create"), _form("corp", "https://r.corp.example/")
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {"base_url": [TAKEN]}
    assert list(Registry.objects.values_list("name", flat=True)) == ["corp (theirs)"]
    assert _recorded("registry.created") == 0


def test_form_editing_to_a_url_another_admin_just_took_names_base_url(admin_client_, other, rival):
    rival("corp", "https://r.corp.example")
    response = admin_client_.post(
        reverse("inventory:registry_update", args=[other.pk]),
        _form("other", "https://r.corp.example/v0.1"),
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {"base_url": [TAKEN]}
    other.refresh_from_db()
    assert other.base_url == "https://r.other.example" and _recorded("registry.updated") == 0


def test_any_other_integrity_error_on_save_is_not_turned_into_a_validation_error(corp, admin_user):
    with pytest.raises(IntegrityError):  # the positive-interval check, not a unique violation
        registry_service.update_registry(corp, actor=admin_user, crawl_interval_minutes=-1)


# --- one message everywhere ---------------------------------------------------------------------


def test_the_form_the_api_and_the_command_refuse_a_non_http_url_with_the_same_message(
    admin_client_,
):
    url = "ftp://r.example"
    form = admin_client_.post(reverse("inventory:registry_create"), _form("x", url))
    api = admin_client_.post(
        "/api/v1/registries/", {"name": "x", "base_url": url}, content_type="application/json"
    )
    with pytest.raises(CommandError) as command:
        call_command("crawl_registry", url, stdout=io.StringIO())
    assert form.context["form"].errors["base_url"] == [NOT_HTTP]
    assert api.json()["base_url"] == [NOT_HTTP]
    assert str(command.value) == NOT_HTTP
    assert not Registry.objects.exists()


def test_the_command_refuses_a_url_without_a_host_before_adding_a_registry():
    with pytest.raises(CommandError, match=r"base_url must be an http\(s\) URL"):
        call_command("crawl_registry", "https:///v0.1", stdout=io.StringIO())
    assert not Registry.objects.exists()


def test_the_command_refuses_an_unparsable_url_with_the_same_message_not_a_traceback():
    with pytest.raises(CommandError, match=r"base_url must be an http\(s\) URL"):
        call_command("crawl_registry", "https://[::1/v0.1", stdout=io.StringIO())
    assert not Registry.objects.exists()
