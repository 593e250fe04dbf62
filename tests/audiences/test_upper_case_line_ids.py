"""A LINE id pasted in upper case is stored and found as LINE writes it (U, C or R and 32
lower-case hex digits), wherever ids come in: the API, bulk, CSV imports, the contact search.
Input that could mean something else is left alone and refused as before."""

import pytest

from audiences.imports import guess_line_id_column
from audiences.models import Contact
from lineapi import normalize_line_id
from tests.audiences.test_csv_import import run

pytestmark = pytest.mark.django_db

USER = "U4af4980629" + "0123456789abcdef012345"
GROUP = "Cdeadbeef" + "0" * 24


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (USER.upper(), USER),
        ("u" + USER[1:].upper(), USER),
        (GROUP.upper(), GROUP),
        (USER, USER),
    ],
)
def test_a_line_id_in_any_case_reads_as_lines_own(typed, stored):
    assert normalize_line_id(typed) == stored


@pytest.mark.parametrize(
    "ambiguous",
    [
        "UABC",  # a prefix of an id, or a name
        USER.upper()[:-1],  # 31 digits
        USER.upper() + "0",  # 33 digits
        "X" + USER[1:].upper(),  # no such kind of id
        "U" + "G" * 32,  # not hex
        " " + USER.upper(),  # the caller decides about spaces
        USER.upper() + "\n",
    ],
)
def test_anything_else_is_left_as_it_was(ambiguous):
    assert normalize_line_id(ambiguous) == ambiguous


@pytest.fixture
def api(marketer, api_client_for):
    return api_client_for(marketer)


def test_put_get_and_delete_over_the_api_take_an_upper_case_id(api):
    created = api.put(
        f"/api/v1/contacts/{USER.upper()}", {"display_name": "Aki"}, content_type="application/json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["line_id"] == USER
    assert Contact.objects.get().line_id == USER
    assert Contact.objects.get().kind == Contact.Kind.USER

    assert api.get(f"/api/v1/contacts/{USER.upper()}").json()["display_name"] == "Aki"
    again = api.put(
        f"/api/v1/contacts/{USER.upper()}",
        {"display_name": "Aki B"},
        content_type="application/json",
    )
    assert again.status_code == 200
    assert Contact.objects.count() == 1
    assert api.delete(f"/api/v1/contacts/{USER.upper()}").status_code == 204
    assert not Contact.objects.exists()


def test_bulk_stores_upper_case_ids_as_lines_and_still_refuses_a_bad_one(api):
    response = api.post(
        "/api/v1/contacts/bulk",
        {
            "contacts": [
                {"line_id": USER.upper(), "display_name": "Aki"},
                {"line_id": GROUP.upper(), "external_id": "crm-1"},
                {"line_id": "U123ABC"},
            ]
        },
        content_type="application/json",
    )
    body = response.json()
    assert response.status_code == 200, body
    assert (body["created"], body["updated"]) == (2, 0)
    assert [r["index"] for r in body["rejected"]] == [2]
    assert set(Contact.objects.values_list("line_id", flat=True)) == {USER, GROUP}


def test_a_csv_import_stores_upper_case_ids_as_lines(tmp_path):
    data = f"line_id,city\n{USER.upper()},Tokyo\n{USER},Osaka\nU12AB,Kyoto\n".encode()
    job = run(tmp_path, data)
    assert (job.created, job.updated, job.rejected) == (1, 1, 1)
    assert Contact.objects.get().line_id == USER
    assert Contact.objects.get().attributes == {"city": "Osaka"}


def test_the_contact_search_finds_an_id_pasted_in_upper_case(marketer_client):
    Contact.objects.create(line_id=USER, kind=Contact.Kind.USER, display_name="Aki")
    page = marketer_client.get("/audiences/contacts/", {"q": USER.upper()}).content.decode()
    assert "Aki" in page


def test_the_import_guesses_a_column_of_upper_case_ids():
    assert guess_line_id_column(["city", "who"], [["Tokyo", USER.upper()]]) == "who"
