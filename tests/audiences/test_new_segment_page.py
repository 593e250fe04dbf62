def test_the_new_segment_page_starts_with_one_empty_condition_and_no_errors(marketer_client):
    html = marketer_client.get("/audiences/segments/new/").content.decode()
    assert "This field is required" not in html
    assert 'aria-label="Field"' in html or ">Field<" in html
