"""`accord demo`: load the example SLA, its people and agreements in every working state."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from api import demo as demo_data
from api.cli.common import now, open_engine
from workflow.settings import get_settings


def demo(
    ctx: typer.Context,
    tokens_file: Annotated[
        Path, typer.Option(help="Where to write `email token name (role)` lines.")
    ] = demo_data.DEFAULT_TOKENS_FILE,
    if_empty: Annotated[
        bool,
        typer.Option("--if-empty", help="Do nothing if the database has organisations."),
    ] = False,
    show_password: Annotated[
        bool,
        typer.Option(
            "--show-password",
            help="Print the demo users' password (kept beside --tokens-file) and load nothing.",
        ),
    ] = False,
) -> None:
    """Load the example SLA with its people, tokens and agreements in every working state.

    Creates both organisations and their 18 stakeholders, an administrator, an API token per
    user (written to --tokens-file), and agreements in draft, joint_review, gap_analysis,
    approval, and active with version 2 in draft.
    """
    if show_password:
        password = demo_data.read_password(tokens_file)
        if password is None:
            raise typer.BadParameter(
                f"no demo password in {tokens_file.parent}: run `accord demo` first",
                param_hint="--show-password",
            )
        typer.echo(password)
        return
    with (
        open_engine(ctx, upgrade_sqlite=True) as engine,
        Session(engine, expire_on_commit=False) as session,
    ):
        if if_empty and demo_data.has_organisations(session):
            typer.echo("the database already has organisations; demo not loaded")
            return
        # Fail on an unwritable tokens file before anything is created.
        tokens_file.parent.mkdir(parents=True, exist_ok=True)
        result = demo_data.load_demo(session, now=now())
    demo_data.write_tokens(tokens_file, result.users)
    demo_data.write_password(tokens_file, result.password)
    _print_summary(result, tokens_file)


def _print_summary(result: demo_data.DemoResult, tokens_file: Path) -> None:
    console = Console()
    table = Table(title="Demo agreements")
    table.add_column("id", justify="right")
    table.add_column("key")
    table.add_column("title")
    table.add_column("versions")
    for a in result.agreements:
        versions = ", ".join(f"v{number} {state}" for number, state in a.versions)
        table.add_row(str(a.id), a.key, a.title, versions)
    console.print(table)
    console.print(
        f"{len(result.users)} users; their API tokens are in {tokens_file} "
        f"(administrator: {demo_data.ADMIN_EMAIL})",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"Sign in at {get_settings().base_url.rstrip('/')}/signin as any of them "
        f"(e.g. {result.users[1].email}) with the password: {result.password}",
        highlight=False,
        soft_wrap=True,
    )
    if result.period is not None and result.agreements:
        first = result.agreements[0]
        console.print(
            f"{first.key} has eight weeks of measurements; its reporting period {result.period} "
            "was submitted and waits for the customer Functional Lead's review: "
            f"{get_settings().base_url.rstrip('/')}/slas/{first.id}/periods/{result.period}",
            highlight=False,
            soft_wrap=True,
        )
    if result.proposal_id is not None:
        base = get_settings().base_url.rstrip("/")
        console.print(
            "The provider proposes to excuse a miss of that period; it waits for the customer "
            f"Program Manager: {base}/proposals/{result.proposal_id}",
            highlight=False,
            soft_wrap=True,
        )
    if result.service_review is not None and result.agreements:
        first = result.agreements[0]
        console.print(
            f"{first.key}'s service review of {result.service_review} was held; its minutes "
            "opened two action items: "
            f"{get_settings().base_url.rstrip('/')}/slas/{first.id}/service-reviews",
            highlight=False,
            soft_wrap=True,
        )
