"""Each user's own time zone (from the browser on first login, changeable on the profile page),
the curated zone list, and scheduled times shown as entered with UTC second."""

import datetime as dt
import json
import re

import pytest
from django.test import Client

from campaigns.models import Campaign
from connections.models import Connection
from kit.models import UserProfile
from kit.timezones import COMMON, format_in_zone, zone_choices
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW = "/campaigns/new/"


def login(client: Client, user, browser_zone: str | None) -> None:
    if browser_zone is not None:
        client.cookies["tz"] = browser_zone
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def zone_of(user) -> str:
    return UserProfile.objects.filter(user=user).values_list("time_zone", flat=True).first() or ""


def selected_zone(html: str) -> str:
    select = html[html.index('name="schedule_timezone"') :]
    return re.search(r'<option value="([^"]+)" selected>', select).group(1)


@pytest.fixture
def connection() -> Connection:
    return Connection.objects.create(
        name="Main OA",
        channel_access_token="t",
        channel_secret="s",
        api_base_url="http://127.0.0.1:9",
        status=Connection.Status.ACTIVE,
    )


def test_first_login_takes_the_browsers_zone_and_later_logins_keep_it(marketer):
    login(Client(), marketer, "Asia/Bangkok")
    assert zone_of(marketer) == "Asia/Bangkok"
    login(Client(), marketer, "Europe/Paris")  # travelling: the chosen zone stays
    assert zone_of(marketer) == "Asia/Bangkok"


def test_a_browsers_alias_is_stored_as_the_listed_zone(marketer):
    login(Client(), marketer, "Asia/Calcutta")  # what older Chrome reports for India
    assert zone_of(marketer) == "Asia/Kolkata"


@pytest.mark.parametrize("browser_zone", [None, "Mars/Olympus", "Factory"])
def test_without_a_known_browser_zone_pages_use_time_zone(marketer, settings, browser_zone):
    settings.TIME_ZONE = "Asia/Taipei"
    client = Client()
    login(client, marketer, browser_zone)
    assert zone_of(marketer) == ""
    assert selected_zone(client.get(NEW).content.decode()) == "Asia/Taipei"


def test_the_users_zone_starts_the_schedule_and_wins_over_the_browser(marketer, connection):
    client = Client()
    login(client, marketer, "Asia/Jakarta")
    client.cookies["tz"] = "Europe/Paris"
    assert selected_zone(client.get(NEW).content.decode()) == "Asia/Jakarta"


def test_the_profile_page_changes_the_zone_and_refuses_unlisted_ones(marketer_client, marketer):
    page = marketer_client.get("/accounts/profile/").content.decode()
    assert "Not chosen yet" in page
    response = marketer_client.post("/accounts/profile/", {"time_zone": "Asia/Taipei"})
    assert response.status_code == 302 and zone_of(marketer) == "Asia/Taipei"
    menu = marketer_client.get("/").content.decode()
    assert 'href="/accounts/profile/">Time zone: Asia/Taipei<' in menu
    for bad in ("Factory", "localtime", "Japan", "Etc/GMT+9", "Nowhere/Town"):
        response = marketer_client.post("/accounts/profile/", {"time_zone": bad})
        assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert zone_of(marketer) == "Asia/Taipei"


def test_the_zone_list_puts_the_common_five_first_and_has_no_aliases(marketer_client, connection):
    groups = dict(zone_choices())
    assert [name for name, _ in groups["Common"]] == list(COMMON)
    others = [name for name, _ in groups["Other time zones"]]
    assert others == sorted(others) and not set(others) & set(COMMON)
    for alias in ("Factory", "localtime", "posixrules", "Japan", "US/Pacific", "Etc/GMT+9", "GMT"):
        assert alias not in others
    for zone in ("Asia/Kolkata", "Europe/Amsterdam", "America/New_York", "Australia/Sydney"):
        assert zone in others
    assert 300 < len(others) < 500
    html = marketer_client.get(NEW).content.decode()
    common = html[html.index('<optgroup label="Common">') :]
    common = common[: common.index("</optgroup>")]
    assert re.findall(r'<option value="([^"]+)"', common) == list(COMMON)
    assert 'value="Factory"' not in html and 'value="localtime"' not in html


def test_a_scheduled_time_shows_in_its_own_zone_with_utc_second(marketer_client, connection):
    marketer_client.post("/accounts/profile/", {"time_zone": "Europe/Paris"})
    body = {
        "name": "Tokyo evening",
        "connection": connection.pk,
        "audience_type": "all_following",
        "message_source": "inline",
        "messages_json": json.dumps([{"type": "text", "text": "Evening!"}]),
        "send_mode": "schedule",
        "scheduled_at": "2099-04-01T20:40",
        "schedule_timezone": "Asia/Tokyo",
    }
    assert marketer_client.post(NEW, body).status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.scheduled_at == dt.datetime(2099, 4, 1, 11, 40, tzinfo=dt.UTC)
    shown = "2099-04-01 20:40 Asia/Tokyo (11:40 UTC)"
    for url in (
        f"/campaigns/{campaign.pk}/review/",
        f"/campaigns/{campaign.pk}/",
        "/campaigns/",
    ):
        assert shown in marketer_client.get(url).content.decode(), url


def test_the_utc_date_is_given_when_it_differs_and_utc_alone_once():
    morning = dt.datetime(2099, 4, 1, 23, 30, tzinfo=dt.UTC)
    assert (
        format_in_zone(morning, "Asia/Tokyo")
        == "2099-04-02 08:30 Asia/Tokyo (2099-04-01 23:30 UTC)"
    )
    assert format_in_zone(morning, "UTC") == "2099-04-01 23:30 UTC"


def test_a_campaign_saved_with_an_alias_zone_keeps_it_when_edited(marketer_client, connection):
    from campaigns.services import campaign_create

    campaign = campaign_create(
        user=None,
        name="Old",
        connection=connection,
        audience_type=Campaign.Audience.ALL_FOLLOWING,
        messages=[{"type": "text", "text": "Hi"}],
        scheduled_at=dt.datetime(2099, 4, 1, 11, 40, tzinfo=dt.UTC),
        schedule_timezone="Japan",
    )
    page = marketer_client.get(f"/campaigns/{campaign.pk}/edit/").content.decode()
    assert selected_zone(page) == "Japan"
    assert (
        "2099-04-01 20:40 Japan (11:40 UTC)"
        in marketer_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    )
