"""The one lease-and-sweep (kit.leases): one claimant wins, a renewing worker keeps its
row, a silent one loses it to the sweep, and a lost lease cannot be renewed."""

import datetime

import pytest
from django.utils import timezone

from audiences.models import ImportJob
from kit.leases import Lease

pytestmark = pytest.mark.django_db

LEASE = Lease(ImportJob, held=ImportJob.Status.RUNNING, stamp="heartbeat_at", seconds=60.0)


def _job(**fields) -> ImportJob:
    return ImportJob.objects.create(original_name="c.csv", header=["line_id"], **fields)


def test_only_one_claim_wins():
    job = _job(status=ImportJob.Status.QUEUED)
    free = {"pk": job.pk, "status": ImportJob.Status.QUEUED}

    assert LEASE.claim(free) == 1
    assert LEASE.claim(free) == 0
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING
    assert timezone.now() - job.heartbeat_at < datetime.timedelta(seconds=5)


def test_the_sweep_takes_only_rows_past_the_lease_and_reports_each():
    old = timezone.now() - datetime.timedelta(seconds=61)
    silent = _job(status=ImportJob.Status.RUNNING, heartbeat_at=old)
    alive = _job(status=ImportJob.Status.RUNNING, heartbeat_at=timezone.now())
    done = _job(status=ImportJob.Status.COMPLETED, heartbeat_at=old)
    seen = []

    released = LEASE.sweep({"status": ImportJob.Status.QUEUED}, on_release=seen.append)

    assert [row.pk for row in released] == [silent.pk] == [row.pk for row in seen]
    statuses = dict(ImportJob.objects.values_list("pk", "status"))
    assert statuses == {silent.pk: "queued", alive.pk: "running", done.pk: "completed"}
    # A worker that lost its row cannot renew it; the one still holding its row can.
    assert LEASE.renew(silent.pk) is False
    assert LEASE.renew(alive.pk, rows_read=7) is True
    assert ImportJob.objects.get(pk=alive.pk).rows_read == 7


def test_a_row_renewed_after_the_sweep_read_it_stays_with_its_worker():
    old = timezone.now() - datetime.timedelta(seconds=61)
    job = _job(status=ImportJob.Status.RUNNING, heartbeat_at=old)
    stale = list(LEASE.expired())
    assert [row.pk for row in stale] == [job.pk]

    LEASE.renew(job.pk)  # the worker's heartbeat lands between the read and the release

    assert LEASE.release(stale[0], {"status": ImportJob.Status.QUEUED}) is False
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.RUNNING


def test_a_token_narrows_the_renewal_to_one_claim():
    job = _job(status=ImportJob.Status.RUNNING, heartbeat_at=timezone.now(), rows_read=3)
    assert LEASE.renew(job.pk, token={"rows_read": 4}) is False
    assert LEASE.renew(job.pk, token={"rows_read": 3}) is True
