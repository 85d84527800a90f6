"""Upserts settle races in the database (ON CONFLICT), not with check-then-act."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from inventory.models import Identity
from inventory.services import entities
from tests.ui_factories import OKTA, T0


@pytest.mark.django_db(transaction=True)
def test_two_writers_upserting_the_same_identity_at_once_both_succeed_with_one_row():
    barrier, errors = threading.Barrier(4), []

    def writer(offset: int) -> None:
        try:
            barrier.wait(timeout=10)
            for n in range(20):
                entities.upsert_identity(
                    issuer=OKTA, subject=f"00u-race-{n}", at=T0 + timedelta(minutes=offset)
                )
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Identity.objects.filter(subject__startswith="00u-race-").count() == 20
    one = Identity.objects.get(subject="00u-race-0")
    assert (one.first_seen, one.last_seen) == (T0, T0 + timedelta(minutes=3))
