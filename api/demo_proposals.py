"""The demo's proposal waiting for the other side: the provider proposes to excuse the first
period's deliberate proper-payments miss, charging it to the customer; the customer's Program
Manager finds it on My tasks (issue 10: "the demo shows at least one proposal waiting")."""

from __future__ import annotations

from states import Role, Side
from workflow import commands
from workflow.example import LifecycleDriver
from workflow.models import Agreement

METRIC = "proper-payments"  # missed on purpose in the demo's first month (demo_history.MISSES)


def propose_excusal(driver: LifecycleDriver, agreement: Agreement, period: str) -> int:
    """The provider's Program Manager proposes the excusal; returns the open proposal's id."""
    assert agreement.id is not None
    proposal = commands.excuse_miss(
        driver.session,
        actor=driver.who(Side.PROVIDER, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        metric=METRIC,
        window=period,
        party="customer",
        reason=(
            "The customer's vendor master file arrived nine days late, so payments queued "
            "behind it could not be validated in time."
        ),
        now=driver.tick(),
    )
    assert proposal.id is not None
    return proposal.id
