"""The shared job engine (governance/platform/jobs.py): every job kind gets the same guarantees,
and the sweeper covers every registered kind. Crawls are its first user, so the engine is
exercised here through its own functions on the Crawl model."""

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.platform import jobs
from inventory.models import Crawl

pytestmark = pytest.mark.django_db


def _silent(job):
    Crawl.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))


def test_the_sweeper_covers_every_registered_kind_not_only_crawls(monkeypatch):
    sent = []
    # Only a second kind is registered, as a new app would in its AppConfig.ready(). It reuses
    # the crawl table (a test-only model would need a migration); what matters is that the
    # sweeper finds it through the registry and resends through that kind's own task.
    monkeypatch.setattr(
        jobs, "KINDS", {"tests.Second": jobs.JobKind(model=Crawl, enqueue=sent.append)}
    )
    silent, _ = jobs.open_job(Crawl, kind="registry", target="https://r.example")
    jobs.claim(Crawl, silent.pk)
    _silent(silent)
    old = timezone.now() - timedelta(hours=1)
    lost = Crawl.objects.create(
        kind="cimd", target="https://c.example/doc.json", queued_at=old, enqueued_at=old
    )

    assert jobs.sweep_jobs() == {"tests.Second": {"resent": 1, "requeued": 1, "failed": 0}}
    assert sorted(sent) == sorted([silent.pk, lost.pk])


def test_the_crawl_kind_is_registered_with_a_runner_per_crawl_kind():
    assert set(jobs.kind_of(Crawl).runners) >= set(Crawl.Kind.values)
    assert "inventory.Crawl" in jobs.KINDS


def test_a_job_runs_through_the_runner_its_kind_picks_and_only_once(monkeypatch):
    ran = []
    kind = jobs.kind_of(Crawl)
    monkeypatch.setattr(kind, "runners", {"registry": lambda job, progress: ran.append(job.pk)})
    job, created = jobs.open_job(Crawl, kind="registry", target="https://r.example")
    again, created_again = jobs.open_job(Crawl, kind="registry", target="https://r.example")
    assert created and not created_again and again.pk == job.pk
    assert jobs.execute(Crawl, job.pk) == "done"
    assert jobs.execute(Crawl, job.pk) == "not-claimed"
    assert ran == [job.pk]


def test_a_model_nobody_registered_is_named_when_it_is_used_as_a_job_kind(monkeypatch):
    monkeypatch.delitem(jobs.KINDS, "inventory.Crawl")
    with pytest.raises(LookupError, match="inventory.Crawl is not a registered job kind"):
        jobs.kind_of(Crawl)


def test_an_inline_run_closes_the_progress_display_it_opened(monkeypatch):
    closed = []

    class Shown(jobs.Progress):
        def close(self):
            closed.append(self.job.pk)

    monkeypatch.setattr(jobs.kind_of(Crawl), "runners", {"registry": lambda job, p: p.record(3)})
    job, _ = jobs.open_job(Crawl, kind="registry", target="https://r.example")
    assert jobs.run_inline(Crawl, job.pk, progress_class=Shown) == "done"
    assert closed == [job.pk] and Crawl.objects.get(pk=job.pk).records == 3
