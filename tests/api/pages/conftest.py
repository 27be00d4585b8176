"""The real app served by uvicorn on loopback, a world with passwords, and one Chromium.

Chromium is the system's (/usr/bin/chromium): Playwright never downloads a browser here.
Screenshots go to $ACCORD_SCREENSHOTS (default ./var/screenshots); the run prints the folder.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from states import Role, Side
from tests.helpers import World, make_world
from workflow import commands
from workflow.commands.sign_in import set_passwords
from workflow.models import User

PASSWORD = "correct horse battery"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"]
LAPTOP: ViewportSize = {"width": 1280, "height": 900}
TABLET: ViewportSize = {"width": 820, "height": 1180}
SCREENSHOTS = Path(os.environ.get("ACCORD_SCREENSHOTS", "var/screenshots")).resolve()
_taken: list[Path] = []


@dataclass
class Site:
    """The served app: its address, the world behind it, and everyone's email."""

    base: str
    world: World

    def email(self, side: Side, role: Role) -> str:
        return self.world.who(side, role).email


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn in a thread on a free loopback port; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    with httpx2.Client(base_url=base, timeout=5) as probe:
        for _ in range(250):  # at most about 5 s
            try:
                if probe.get("/healthz").status_code == 200:
                    break
            except httpx2.TransportError:
                threading.Event().wait(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def world(session: Session) -> World:
    """The example's parties, every one of them with the password PASSWORD."""
    world = make_world(session)
    emails = [a.email for a in world.parties.actors.values()]
    set_passwords(session, actor=None, emails=emails, password=PASSWORD, now=world.now)
    return world


@pytest.fixture
def site(world: World, engine: Engine) -> Iterator[Site]:
    # The world's clock, not the wall's: due dates and throttling follow the story.
    with serve(create_app(engine, clock=lambda: world.now)) as base:
        yield Site(base, world)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def open_context(browser: Browser, site: Site, **options: Any) -> BrowserContext:
    """A fresh browser profile (its own cookies) on the site, at laptop width."""
    context = browser.new_context(base_url=site.base, viewport=LAPTOP, **options)
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = open_context(browser, site)
    yield context.new_page()
    context.close()


# ---- HTTP-level page tests: a TestClient per person, signed in through the sign-in form ----

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
Client = Callable[[str], TestClient]


@pytest.fixture
def signed_in(world: World, engine: Engine) -> Iterator[Client]:
    """A new browser-like client signed in as the given email (its own cookies)."""
    app = create_app(engine, clock=lambda: world.now)
    with ExitStack() as stack:

        def make(email: str) -> TestClient:
            client = stack.enter_context(TestClient(app, base_url="http://127.0.0.1"))
            token = CSRF_FIELD.search(client.get("/signin").text)
            assert token is not None
            answer = client.post(
                "/signin",
                data={"email": email, "password": PASSWORD, "csrf_token": token[1]},
                follow_redirects=False,
            )
            assert answer.status_code == 303, answer.text
            return client

        yield make


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def screenshot(page: Page, name: str, request: pytest.FixtureRequest) -> Path:
    """Save the page at laptop and tablet widths; names carry the database."""
    database = re.sub(r"\W+", "-", request.node.callspec.params.get("database_url", "db"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    first = SCREENSHOTS / f"{name}-{database}-laptop.png"
    page.set_viewport_size(LAPTOP)
    page.screenshot(path=first, full_page=True)
    page.set_viewport_size(TABLET)
    page.screenshot(path=SCREENSHOTS / f"{name}-{database}-tablet.png", full_page=True)
    page.set_viewport_size(LAPTOP)
    _taken.append(first)
    return first


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _taken:
        terminalreporter.write_line(f"page screenshots ({2 * len(_taken)}) in {SCREENSHOTS}")


def outsider_of_another_organisation(world: World) -> User:
    """Olive Outsider, of an organisation that is no party to the example's agreements, who
    signs in with PASSWORD: every page of those agreements must be a 404 to her."""
    elsewhere = commands.create_organization(
        world.session, actor=None, name="Elsewhere Agency", now=world.tick()
    )
    assert elsewhere.id is not None
    outsider = commands.create_user(
        world.session,
        actor=None,
        email="olive.outsider@elsewhere.example",
        name="Olive Outsider",
        organization_id=elsewhere.id,
        now=world.tick(),
    )
    set_passwords(
        world.session, actor=None, emails=[outsider.email], password=PASSWORD, now=world.tick()
    )
    return outsider
