from datetime import timedelta

import pytest
from django.utils import timezone

from audiences import backfill as backfill_module
from audiences.backfill import (
    UNVERIFIED_MESSAGE,
    BackfillActiveError,
    backfill_start,
    followers_backfill_run,
)
from audiences.models import Contact, FollowerBackfill
from connections.models import Connection
from connections.services import connection_create
from tests.connections.helpers import follower_id

FOLLOWERS = 45


@pytest.fixture
def small_pages(monkeypatch) -> None:
    """Pages of 20 ids, so a 45-follower account takes three pages like a large one would."""
    monkeypatch.setattr(backfill_module, "PAGE_SIZE", 20)


@pytest.fixture
def followers_emulator(start_emulator):
    return start_emulator(followers=FOLLOWERS)


@pytest.fixture
def oa(db, followers_emulator, admin_user) -> Connection:
    return connection_create(
        actor=admin_user,
        name="Followers OA",
        channel_access_token=followers_emulator.token,
        channel_secret=followers_emulator.secret,
        api_base_url=followers_emulator.base_url,
    )


def _run(connection: Connection, admin_user) -> FollowerBackfill:
    job = FollowerBackfill.objects.create(connection=connection, created_by=admin_user)
    return followers_backfill_run(backfill=job)


def test_backfill_pages_through_every_follower_and_fetches_new_profiles(
    oa, admin_user, small_pages
) -> None:
    job = _run(oa, admin_user)
    assert job.status == FollowerBackfill.Status.COMPLETED
    assert (job.pages, job.followers_seen, job.created_count, job.updated_count) == (
        3,
        FOLLOWERS,
        FOLLOWERS,
        0,
    )
    assert (job.profiles_fetched, job.profile_errors) == (FOLLOWERS, 0)
    contacts = Contact.objects.filter(source=Contact.Source.BACKFILL, connection=oa)
    assert contacts.count() == FOLLOWERS
    assert set(contacts.values_list("follow_status", flat=True)) == {"following"}
    last = contacts.get(line_id=follower_id(FOLLOWERS - 1))
    assert (last.display_name, last.kind) == (f"Follower {FOLLOWERS}", Contact.Kind.USER)


def test_backfill_refreshes_known_contacts_without_refetching_them(
    oa, admin_user, small_pages
) -> None:
    Contact.objects.create(
        line_id=follower_id(0),
        follow_status=Contact.FollowStatus.UNFOLLOWED,
        display_name="Known",
        external_id="crm-1",
        source=Contact.Source.IMPORT,
    )
    job = _run(oa, admin_user)
    assert (job.created_count, job.updated_count) == (FOLLOWERS - 1, 1)
    assert job.profiles_fetched == FOLLOWERS - 1
    known = Contact.objects.get(line_id=follower_id(0))
    assert known.follow_status == Contact.FollowStatus.FOLLOWING
    assert (known.display_name, known.external_id, known.source) == ("Known", "crm-1", "import")
    assert known.connection == oa


def test_running_it_again_creates_no_duplicates(oa, admin_user, small_pages) -> None:
    _run(oa, admin_user)
    again = _run(oa, admin_user)
    assert (again.created_count, again.updated_count) == (0, FOLLOWERS)
    assert Contact.objects.count() == FOLLOWERS


def test_an_unverified_account_gets_a_clear_explanation(connection, emulator, admin_user) -> None:
    emulator.configure(unverified=True)
    job = _run(connection, admin_user)
    assert job.status == FollowerBackfill.Status.FAILED
    assert job.error == UNVERIFIED_MESSAGE
    assert "verified or premium" in job.error
    assert not Contact.objects.exists()


def test_an_unverified_account_started_that_way_is_explained_on_the_page(
    start_emulator, admin_user, admin_client, eager_celery, django_capture_on_commit_callbacks
) -> None:
    unverified = start_emulator(unverified=True)
    connection = connection_create(
        actor=admin_user,
        name="Unverified OA",
        channel_access_token=unverified.token,
        channel_secret=unverified.secret,
        api_base_url=unverified.base_url,
    )
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/connections/{connection.pk}/backfill/")
    page = admin_client.get(f"/connections/{connection.pk}/").content.decode()
    assert "only verified or premium LINE Official Accounts" in page


def test_a_revoked_token_fails_the_backfill_with_lines_reason(
    connection, emulator, admin_user
) -> None:
    emulator.configure(token="rotated-elsewhere")
    job = _run(connection, admin_user)
    assert job.status == FollowerBackfill.Status.FAILED
    assert "LINE rejected the channel access token" in job.error


def test_the_button_runs_a_backfill_and_the_panel_shows_progress(
    oa, admin_client, eager_celery, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/connections/{oa.pk}/backfill/")
    assert response.status_code == 302
    job = FollowerBackfill.objects.get()
    assert job.status == FollowerBackfill.Status.COMPLETED
    partial = admin_client.get(
        f"/connections/{oa.pk}/backfill/progress/", headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in partial
    assert f"{FOLLOWERS} followers read" in partial
    assert f"{FOLLOWERS} new contacts" in partial


def test_a_running_backfill_polls_and_a_second_one_is_refused(oa, admin_user, admin_client):
    job = backfill_start(connection=oa, actor=admin_user)
    partial = admin_client.get(
        f"/connections/{oa.pk}/backfill/progress/", headers={"HX-Request": "true"}
    ).content.decode()
    assert 'hx-trigger="every 2s"' in partial
    with pytest.raises(BackfillActiveError):
        backfill_start(connection=oa, actor=admin_user)
    assert FollowerBackfill.objects.get() == job


def test_a_backfill_whose_worker_died_does_not_block_a_new_one(oa, admin_user) -> None:
    FollowerBackfill.objects.create(
        connection=oa,
        status=FollowerBackfill.Status.RUNNING,
        progress_at=timezone.now() - timedelta(hours=1),
    )
    backfill_start(connection=oa, actor=admin_user)
    statuses = sorted(FollowerBackfill.objects.values_list("status", flat=True))
    assert statuses == ["failed", "pending"]


def test_a_claimed_backfill_is_not_run_twice(oa, admin_user) -> None:
    job = FollowerBackfill.objects.create(
        connection=oa, status=FollowerBackfill.Status.RUNNING, progress_at=timezone.now()
    )
    assert followers_backfill_run(backfill=job).followers_seen == 0
    assert not Contact.objects.exists()


def test_a_run_the_sweep_gave_up_stops_and_keeps_the_sweeps_status(
    oa, admin_user, small_pages, monkeypatch
) -> None:
    """The backfill's lease: once the sweep has failed a silent run, that run's next progress
    write finds the lease lost, and it neither writes pages nor turns itself completed."""
    store, stored = backfill_module._store_page, []

    def store_then_swept(**kwargs) -> None:
        store(**kwargs)
        stored.append(1)
        if len(stored) == 1:  # as if this worker stalled past the lease and was swept
            backfill_module.BACKFILL_LEASE.sweep(
                {"status": FollowerBackfill.Status.FAILED, "error": "Interrupted"}, seconds=0
            )

    monkeypatch.setattr(backfill_module, "_store_page", store_then_swept)
    job = _run(oa, admin_user)

    assert (job.status, job.error, job.pages) == (FollowerBackfill.Status.FAILED, "Interrupted", 1)
    assert len(stored) == 1  # the second page's write found the lease lost
