"""Issue 11, defect 8: the period page's header said "Due <the reporting day>" to everyone, so
the customer's Functional Lead, reviewing the results, read the provider's deadline (10 Dec)
as theirs while their own review was due earlier (8 Dec). The header now shows each reader's
own open task with its due date, and names the reporting day as the provider's."""

from __future__ import annotations

import re
from datetime import date

from states import Role
from tests.api.pages.conftest import Client
from tests.api.pages.test_reports_pages import PERIOD, _path, _reporting
from tests.helpers import C, P, World
from workflow import commands
from workflow.models import Agreement


def _header(client_page: str) -> str:
    """The paragraph under the period's title, whitespace folded."""
    found = re.search(r"</hgroup>\s*<p>(.*?)</p>", client_page, re.S)
    assert found is not None
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found[1])).strip()


def _submitted(world: World) -> Agreement:
    agreement = _reporting(world)
    assert agreement.id is not None
    commands.fire_period_event(
        world.session,
        actor=world.who(P, Role.PROGRAM_MANAGER),
        agreement_id=agreement.id,
        period=PERIOD,
        event="submit",
        now=world.tick(),
    )
    return agreement


def test_the_customer_reviewer_sees_their_own_due_date_not_the_providers(
    world: World, signed_in: Client
) -> None:
    agreement = _submitted(world)
    (review,) = world.open_tasks(agreement, "review_results")
    assert (review.side, review.role) == (C.value, Role.FUNCTIONAL_LEAD.value)
    assert review.due_on == date(2026, 12, 8)  # five business days after the submission
    reviewer = signed_in(world.who(C, Role.FUNCTIONAL_LEAD).email).get(_path(agreement)).text
    header = _header(reviewer)
    assert header.startswith("Your task (review results): Due Tue 8 Dec 2026 ·"), header
    assert "The provider's results were due Thu 10 Dec 2026" in header
    assert f'id="my-task-{review.id}"' in reviewer
    # The provider, whose submission is done, holds nothing here: only the reporting day.
    provider_pm = signed_in(world.who(P, Role.PROGRAM_MANAGER).email)
    provider = _header(provider_pm.get(_path(agreement)).text)
    assert provider.startswith("The provider's results were due Thu 10 Dec 2026"), provider
    assert "Your task" not in provider


def test_before_the_submission_the_provider_sees_their_task_and_an_overdue_one_says_so(
    world: World, signed_in: Client
) -> None:
    agreement = _reporting(world)
    (submit,) = world.open_tasks(agreement, "submit_results")
    client = signed_in(world.who(P, Role.PROGRAM_MANAGER).email)
    header = _header(client.get(_path(agreement)).text)
    assert header.startswith("Your task (submit results): Due "), header
    assert "The provider's results are due Thu 10 Dec 2026" in header
    world.now = world.now.replace(day=15)  # the site reads the world's clock; sessions expire
    late = signed_in(world.who(P, Role.PROGRAM_MANAGER).email).get(_path(agreement)).text
    assert re.search(rf'id="my-task-{submit.id}">[^<]*<span class="due overdue">', late)
    assert "Overdue: was due" in _header(late)
