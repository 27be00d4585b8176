"""The recipients spec of an outbox row: what it may name, and a clear refusal otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from notifications.recipient_spec import RecipientSpecError, Spec, parse_spec
from states import Role, Side


def test_a_spec_names_users_roles_and_all_stakeholders() -> None:
    spec = parse_spec(
        {
            "user_ids": [3, 5],
            "roles": [{"side": "customer", "role": "program_manager"}],
            "stakeholders": "all",
            "reason": "escalation",
            "delegate": False,
        }
    )
    assert spec == Spec(
        user_ids=(3, 5),
        roles=((Side.CUSTOMER, Role.PROGRAM_MANAGER),),
        stakeholders=True,
        reason="escalation",
        delegate=False,
        immediate=False,
    )
    assert spec.needs_agreement
    assert not parse_spec({"user_ids": [3]}).needs_agreement


@pytest.mark.parametrize(
    "spec",
    [
        {"user_ids": "3"},
        {"user_ids": [True]},
        {"roles": [{"side": "customer"}]},
        {"roles": [{"side": "buyer", "role": "program_manager"}]},
        {"stakeholders": "some"},
        {"everyone": True},
        {"reason": "curiosity", "user_ids": [1]},
        {"user_ids": [1], "immediate": "yes"},
    ],
)
def test_a_bad_spec_is_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(RecipientSpecError):
        parse_spec(spec)
