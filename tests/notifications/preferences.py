"""Preferences for tests that are about delivery rather than about who chose what."""

from __future__ import annotations

from tests.helpers import World
from workflow.commands.notifications import set_notification_preferences
from workflow.models.notifications import TOPIC_GROUPS


def everyone_immediate(world: World) -> None:
    """Every stakeholder asks for every group immediately: the mail of the first release."""
    for actor in world.parties.actors.values():
        set_notification_preferences(
            world.session,
            actor=actor,
            user_id=actor.user_id,
            choices=dict.fromkeys(TOPIC_GROUPS, "immediate"),
            now=world.tick(),
        )
