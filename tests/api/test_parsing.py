"""How the middleware names what is wrong with a body: the field, or the JSON itself."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError, model_validator

from handlers.api import _refusal_of


class Window(BaseModel):
    starts: int
    ends: int = 0

    @model_validator(mode="after")
    def ordered(self) -> Window:
        if self.ends and self.ends < self.starts:
            raise ValueError("ends before it starts")
        return self


def _refusal(raw: str) -> tuple[str, dict[str, object]]:
    with pytest.raises(ValidationError) as caught:
        Window.model_validate_json(raw, strict=True)
    refused = _refusal_of(caught.value, "body")
    return refused.code, refused.params


@pytest.mark.parametrize(
    ("raw", "code", "params"),
    [
        ("{", "api.error.bad_json", {}),
        ("[1]", "api.error.bad_json", {}),
        ('"text"', "api.error.bad_json", {}),
        ('{"starts": "1"}', "api.error.bad_field", {"name": "starts"}),
        ("{}", "api.error.bad_field", {"name": "starts"}),
        # A rule across fields is still about the body's fields, not malformed JSON.
        ('{"starts": 5, "ends": 2}', "api.error.bad_field", {"name": "body"}),
    ],
)
def test_a_body_refusal_names_the_field_or_the_json(raw, code, params):
    assert _refusal(raw) == (code, params)
