"""A connection save that fails keeps what was typed; the secret inputs, never sent back to the
browser, are asked for again in so many words."""

from connections.models import Connection

RETYPE_BOTH = "Enter the channel secret and access token again"


def test_a_refused_token_keeps_the_other_fields_and_asks_for_the_secrets_again(
    admin_client, emulator
):
    response = admin_client.post(
        "/connections/add/",
        {
            "name": "Main OA",
            "channel_access_token": "wrong-token-1234",
            "channel_secret": "the-secret-5678",
            "api_base_url": emulator.base_url,
            "push_rate_limit": "150",
            "multicast_rate_limit": "20",
        },
    )
    page = response.content.decode()
    assert "LINE rejected the channel access token" in page
    assert 'value="Main OA"' in page
    assert f'value="{emulator.base_url}"' in page
    assert 'value="150"' in page and 'value="20"' in page
    assert RETYPE_BOTH in page
    assert "wrong-token-1234" not in page and "the-secret-5678" not in page
    assert not Connection.objects.exists()


def test_a_form_error_also_asks_for_the_secrets_again(admin_client, db):
    page = admin_client.post(
        "/connections/add/",
        {"name": "", "channel_access_token": "tok", "channel_secret": "sec"},
    ).content.decode()
    assert RETYPE_BOTH in page


def test_nothing_to_retype_before_a_save_or_when_nothing_was_typed(admin_client, db):
    assert RETYPE_BOTH not in admin_client.get("/connections/add/").content.decode()
    page = admin_client.post("/connections/add/", {"name": "x"}).content.decode()
    assert "Enter the channel" not in page


def test_editing_asks_again_for_just_the_token_that_was_typed(admin_client, connection):
    page = admin_client.post(
        f"/connections/{connection.pk}/edit/",
        {
            "name": "Renamed",
            "channel_access_token": "wrong-token-1234",
            "api_base_url": connection.api_base_url,
        },
    ).content.decode()
    assert "LINE rejected the channel access token" in page
    assert 'value="Renamed"' in page
    assert "Enter the channel access token again" in page
    assert "wrong-token-1234" not in page
    connection.refresh_from_db()
    assert connection.name == "Main OA"
