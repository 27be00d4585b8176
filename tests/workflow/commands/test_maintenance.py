"""Audit checkpoints are taken only when some chain moved."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from tests.helpers import World, make_world
from workflow import commands


def test_a_checkpoint_is_skipped_when_no_chain_moved(session: Session) -> None:
    world: World = make_world(session)
    assert commands.checkpoint_audit(session, now=world.now) is None  # no agreement chain yet
    agreement = world.create()
    first = commands.checkpoint_audit(session, now=world.tick())
    assert first is not None
    assert f"agreement:{agreement.id}" in first.body
    assert commands.checkpoint_audit(session, now=world.now + timedelta(hours=1)) is None
    world.to_gap_analysis(agreement)
    assert commands.checkpoint_audit(session, now=world.tick()) is not None
