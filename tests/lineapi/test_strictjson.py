import pytest

from lineapi import strictjson


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_64_levels_parse_and_65_are_refused() -> None:
    assert strictjson.loads(_nested(64)) is not None
    with pytest.raises(ValueError, match="nested deeper than 64 levels"):
        strictjson.loads(_nested(65))


def test_brackets_inside_strings_do_not_count() -> None:
    text = '{"a": "' + "[" * 100 + '\\"[[["}'
    assert strictjson.loads(text) == {"a": "[" * 100 + '"[[['}


def test_keep_cuts_each_too_deep_value_and_storable_names_it() -> None:
    data = strictjson.loads('{"a": ' + _nested(70) + ', "b": [1, ' + _nested(66) + "]}", keep=True)
    clean, notes = strictjson.storable(data)
    depth, value = 0, clean["a"]
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    assert (depth, value) == (63, "[removed: nested deeper than 64 levels]")
    assert clean["b"][0] == 1
    assert len(notes) == 2 and all("nested deeper than 64 levels" in n for n in notes)


def test_keep_keeps_non_finite_numbers_as_text() -> None:
    clean, notes = strictjson.storable(strictjson.loads('{"x": [NaN, 1e999, 1.5]}', keep=True))
    assert clean == {"x": ["NaN", "1e999", 1.5]}
    assert notes == [
        "x[0]: NaN is not a storable number, kept as text",
        "x[1]: 1e999 is not a storable number, kept as text",
    ]


def test_an_unclosed_deep_body_is_refused_even_with_keep() -> None:
    with pytest.raises(ValueError):
        strictjson.loads("[" * 200_000, keep=True)
