"""Validation errors say what to enter, not how the parser failed."""

from __future__ import annotations

import pytest

from workflow.drafting import parse_content
from workflow.errors import InvalidInput
from workflow.example import example_content, load_example
from workflow.field_errors import plain


def test_the_draft_s_fields_are_named_with_what_to_enter() -> None:
    content = example_content(load_example()).model_dump(mode="json")
    content["metrics"][0]["warning"] = "abc"
    content["metrics"][1]["direction"] = "up"
    content["metrics"][2]["key"] = "Bad Key"
    content["terms"]["annual_cost"] = "12.345"
    with pytest.raises(InvalidInput) as refused:
        parse_content(content["terms"], content["metrics"])
    assert {e["field"]: e["message"] for e in refused.value.errors} == {
        "metrics.0.warning": "enter a number, such as 99.5",
        "metrics.1.direction": "choose higher is better or lower is better",
        "metrics.2.key": "lower case letters, digits, '.', '_' or '-', such as ticket-response",
        "terms.annual_cost": "at most 2 decimal places",
    }


@pytest.mark.parametrize(
    ("error", "said"),
    [
        ({"type": "missing"}, "required"),
        ({"type": "string_too_long", "ctx": {"max_length": 300}}, "at most 300 characters"),
        ({"type": "greater_than_equal", "ctx": {"ge": 0}}, "must be at least 0"),
        ({"type": "less_than_equal", "ctx": {"le": 100}}, "must be at most 100"),
        ({"type": "too_long", "ctx": {"max_length": 50}}, "at most 50 at once"),
        (
            {"type": "value_error", "msg": "Value error, warning is past the target"},
            "warning is past the target",
        ),
        ({"type": "something_new", "msg": "as pydantic says"}, "as pydantic says"),
    ],
)
def test_each_kind_of_error_in_plain_words(error: dict[str, object], said: str) -> None:
    assert plain(error) == said
