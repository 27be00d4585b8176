"""The wheel carries everything the service needs: installed outside the checkout, it loads
the demo, serves pages with their templates and static files, and is at the newest schema."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from tests.notifications.smtp import free_port
from tests.processes import Server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel and unpacked into a folder of its own."""
    out = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "build", "--wheel", "--outdir", str(out / "dist"), str(ROOT)]
    subprocess.run(build, check=True, timeout=600, capture_output=True)
    (wheel,) = (out / "dist").glob("accord-*.whl")
    target = out / "site"
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target"]
    subprocess.run([*install, str(target), str(wheel)], check=True, timeout=300)
    return target


def test_the_wheel_serves_the_demo_outside_the_checkout(
    installed: Path, database_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    where = subprocess.run(
        [sys.executable, "-c", "import api, workflow; print(api.__file__, workflow.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(installed) in where
    assert str(ROOT) not in where
    command = [sys.executable, "-c", "from api.cli import main; main()"]
    command += ["--database-url", database_url, "demo", "--tokens-file", str(tmp_path / "t.txt")]
    demo = subprocess.run(
        command,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr
    server = Server(database_url, free_port(), tmp_path, env={"PYTHONPATH": str(installed)})
    server.start()
    try:
        with httpx2.Client(base_url=server.base, timeout=10) as client:
            assert client.get("/readyz").json() == {"status": "ready"}
            signin = client.get("/signin")
            assert signin.status_code == 200
            assert 'name="csrf_token"' in signin.text
            assert client.get("/static/vendor/htmx.min.js").status_code == 200
            assert client.get("/static/scroll-regions.js").status_code == 200
    finally:
        server.stop()
