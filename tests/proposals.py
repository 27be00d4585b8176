"""Deciding proposals in tests: the other side accepts (domain.md, "Joint accountability")."""

from __future__ import annotations

from datetime import datetime

from states import Role, Side
from workflow import commands
from workflow.example import LifecycleDriver
from workflow.models import Proposal


def accept(world: LifecycleDriver, proposal: Proposal, now: datetime | None = None) -> Proposal:
    """The other side's Program Manager accepts `proposal`."""
    assert proposal.id is not None
    return commands.decide_proposal(
        world.session,
        actor=world.who(Side(proposal.counterpart_side), Role.PROGRAM_MANAGER),
        proposal_id=proposal.id,
        outcome="accepted",
        now=now or world.tick(),
    )
