"""A small paper book (quickstart, top 5) for the service's tests, and a client on it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from simlab.config.loader import load_config
from simlab.lab.run import load_market
from simlab.production.pipeline import run_pipeline, select_scenario
from simlab.production.stores import open_store
from simlab.service.settings import ServiceSettings

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "experiments" / "quickstart.yaml"
SCENARIO = "top_n=5"
READ, WRITE = "read-token-7f3a", "write-token-91c2"



@pytest.fixture(scope="session")
def quickstart():
    """The book's config (one scenario) and market data."""
    cfg = select_scenario(load_config(CONFIG), SCENARIO)
    return cfg, load_market(cfg)


def make_book(quickstart, days=("2022-11-01", "2022-11-02")) -> str:
    """A fresh in-memory book run and committed at each of ``days``; its URL."""
    cfg, md = quickstart
    url = f"memory://service-test-{uuid.uuid4().hex}"
    store = open_store(url)
    for day in days:
        run_pipeline(cfg, md, store, day, execute=True)
    return url


def settings_for(url: str, config: Path | None = CONFIG, **tokens) -> ServiceSettings:
    tokens = {"read_token": READ, "write_token": WRITE, **tokens}
    return ServiceSettings(state=url, config=config, scenario=SCENARIO, **tokens)


@pytest.fixture(scope="session")
def book_url(quickstart) -> str:
    """A book holding five names after two closes (read-only: tests that write make their own)."""
    return make_book(quickstart)


@pytest.fixture(scope="session")
def client(book_url):
    pytest.importorskip("fastapi", reason="the service extra: pip install 'simlab[service]'")
    from fastapi.testclient import TestClient

    from simlab.service.app import create_app

    with TestClient(create_app(settings_for(book_url))) as c:
        yield c


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
