"""Dates read the same on every page: 2026-11-21 17:24, not Django's "Nov. 21, 2026, 5:24 p.m."."""

import datetime as dt

from kit.services import api_token_create

AT = dt.datetime(2026, 11, 21, 17, 24, tzinfo=dt.UTC)


def test_users_page_shows_last_login_as_year_month_day_hour_minute(admin_client, marketer):
    marketer.last_login = AT
    marketer.save(update_fields=["last_login"])
    html = admin_client.get("/settings/users/").content.decode()
    assert "2026-11-21 17:24" in html
    assert "p.m." not in html and "Nov." not in html


def test_api_tokens_page_shows_last_used_in_the_same_format(marketer_client, marketer):
    token, _ = api_token_create(user=marketer, name="CRM sync")
    type(token).objects.filter(pk=token.pk).update(last_used_at=AT)
    html = marketer_client.get("/accounts/tokens/").content.decode()
    assert "2026-11-21 17:24" in html
    assert "p.m." not in html
