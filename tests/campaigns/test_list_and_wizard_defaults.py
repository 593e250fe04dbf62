"""Small things a marketer meets first: the list's search box says what it searches, and a new
campaign starts on the connection when there is only one to choose."""

import re

import pytest

from campaigns.models import Campaign
from connections.models import Connection


def _connection(name: str, status: str = Connection.Status.ACTIVE) -> Connection:
    return Connection.objects.create(
        name=name, channel_access_token="t", channel_secret="s", status=status
    )


def _selected_connection(html: str) -> list[str]:
    select = html.split('id="id_connection"', 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option value="(\d*)"[^>]*selected', select)


def test_campaign_search_box_has_a_visible_label_and_a_placeholder(marketer_client, db):
    html = marketer_client.get("/campaigns/").content.decode()
    label = re.search(r'<label([^>]*)for="id_search"[^>]*>Search by name</label>', html)
    assert label and "visually-hidden" not in label.group(1)
    box = re.search(r'<input[^>]*id="id_search"[^>]*>', html).group(0)
    assert 'placeholder="Campaign name"' in box


def test_the_only_active_connection_is_preselected_in_a_new_campaign(marketer_client, db):
    only = _connection("Main OA")
    _connection("Old OA", status=Connection.Status.INVALID)
    html = marketer_client.get("/campaigns/new/").content.decode()
    assert _selected_connection(html) == [str(only.pk)]


@pytest.mark.parametrize("active", [0, 2])
def test_nothing_is_preselected_unless_exactly_one_connection_is_active(
    marketer_client, db, active
):
    for n in range(active):
        _connection(f"OA {n}")
    _connection("Unverified OA", status=Connection.Status.UNVERIFIED)
    html = marketer_client.get("/campaigns/new/").content.decode()
    assert _selected_connection(html) == [""]


def test_editing_keeps_the_campaigns_own_connection(marketer_client, db):
    _connection("Main OA")
    other = _connection("Second OA", status=Connection.Status.INVALID)
    campaign = Campaign.objects.create(name="Draft", connection=other, messages=[])
    html = marketer_client.get(f"/campaigns/{campaign.pk}/edit/").content.decode()
    assert _selected_connection(html) == [str(other.pk)]
