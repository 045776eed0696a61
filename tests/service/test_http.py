"""The service over real HTTP on loopback (uvicorn in a thread), and ``simlab serve``'s refusals."""

from __future__ import annotations

import socket
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the service extra: pip install 'simlab[service]'")
uvicorn = pytest.importorskip("uvicorn", reason="the service extra: pip install 'simlab[service]'")
httpx = pytest.importorskip("httpx", reason="the service extra: pip install 'simlab[service]'")

from simlab.cli import main
from simlab.service.app import create_app
from tests.service.conftest import CONFIG, READ, WRITE, bearer, make_book, settings_for


@pytest.fixture
def served(quickstart):
    """A server on a free loopback port, on a book at 2022-11-01; its base URL and the book's URL."""
    url = make_book(quickstart, days=("2022-11-01",))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(settings_for(url)), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # waits for startup; a bound, not a race
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", url
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def test_over_http_a_dry_run_then_an_execute(served):
    base, _ = served
    with httpx.Client(base_url=base, timeout=60) as http:
        assert http.get("/health").status_code == 401
        health = http.get("/health", headers=bearer(READ)).json()
        assert health["as_of"] == "2022-11-01" and health["version"] == 1
        assert http.post("/pipeline/run", headers=bearer(READ), json={"execute": True}).status_code == 403
        dry = http.get("/portfolio/rebalance-trades", params={"as_of": "2022-11-02"}, headers=bearer(READ)).json()
        assert dry["committed"] is False and len(dry["filled"]) == 5
        run = http.post("/pipeline/run", headers=bearer(WRITE), json={"as_of": "2022-11-02", "execute": True})
        assert run.status_code == 200 and run.json()["committed"] and run.json()["version"] == 2
        assert run.json()["filled"] == dry["filled"]  # the dry run said what the execute did
        state = http.get("/portfolio/state", headers=bearer(READ)).json()
        assert state["version"] == 2 and len(state["positions"]) == 5
        bad = http.get("/portfolio/attribution", params={"window": "-1"}, headers=bearer(READ))
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/json"


def test_serve_refuses_an_open_public_host_and_a_config_typo(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SIMLAB_READ_TOKEN", raising=False)
    monkeypatch.delenv("SIMLAB_WRITE_TOKEN", raising=False)
    for var in ("STATE", "CONFIG", "SCENARIO", "HOST"):  # serve writes its options here
        monkeypatch.setenv(f"SIMLAB_SERVICE_{var}", "")
    state = f"sqlite:///{tmp_path / 'book.db'}"
    assert main(["serve", "--state", state, "--host", "0.0.0.0", "--port", "1"]) == 1
    assert "set SIMLAB_READ_TOKEN and SIMLAB_WRITE_TOKEN" in capsys.readouterr().err
    typo = CONFIG.with_name("quickstrat.yaml")
    assert main(["serve", "--state", state, "--config", str(typo), "--port", "1"]) == 1
    assert "quickstrat.yaml" in capsys.readouterr().err
    assert main(["serve", "--state", "ftp://nowhere", "--port", "1"]) == 1
    assert "expected memory://NAME" in capsys.readouterr().err


def test_serve_without_the_service_extra_says_what_to_install(capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    assert main(["serve", "--state", "memory://x"]) == 1
    assert "pip install 'simlab[service]'" in capsys.readouterr().err


def test_two_writers_at_once_commit_once(served):
    from concurrent.futures import ThreadPoolExecutor

    base, book = served
    body = {"as_of": "2022-11-02", "execute": True}

    def post(_):
        with httpx.Client(base_url=base, timeout=60) as http:
            return http.post("/pipeline/run", headers=bearer(WRITE), json=body)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(post, range(2)))
    codes = sorted(a.status_code for a in answers)
    assert codes[0] == 200 and codes[1] in (409, 422), [a.json() for a in answers]  # stale write or already there
    from simlab.production.stores import open_store

    assert open_store(book).load().version == 2
