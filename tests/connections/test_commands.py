import pytest
from django.core.management import CommandError, call_command
from django.test import Client


def test_createapitoken_prints_a_token_that_acts_with_the_users_role(
    analyst, capsys, emulator
) -> None:
    call_command("createapitoken", analyst.username, "--name", "CRM sync")
    raw = capsys.readouterr().out.strip()
    assert raw.startswith("lc_")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/connections").status_code == 200
    denied = client.post(
        "/api/v1/connections",
        {"name": "x", "channel_access_token": "t", "channel_secret": "s"},
        content_type="application/json",
    )
    assert denied.status_code == 403
    assert analyst.api_tokens.get().name == "CRM sync"


def test_createapitoken_refuses_an_unknown_user(db) -> None:
    with pytest.raises(CommandError, match="No active user named 'ghost'"):
        call_command("createapitoken", "ghost")
