"""The routes through FastAPI's TestClient: answers checked against the store and numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="the service extra: pip install 'simlab[service]'")

from fastapi.testclient import TestClient

from simlab.errors import ConfigError
from simlab.production.pipeline import run_pipeline
from simlab.production.stores import open_store
from simlab.service.app import create_app
from simlab.service.settings import ServiceSettings
from tests.service.conftest import READ, WRITE, bearer, make_book, settings_for

GET_ROUTES = ["/health", "/portfolio/state", "/portfolio/target", "/portfolio/rebalance-trades",
              "/portfolio/attribution", "/alerts"]


@pytest.mark.parametrize("route", GET_ROUTES)
def test_every_read_route_wants_a_token(client, route):
    assert client.get(route).status_code == 401
    bad = client.get(route, headers=bearer("nope"))
    assert bad.status_code == 401 and bad.json()["error"] == "Unauthorized"
    assert bad.headers["www-authenticate"] == "Bearer"
    assert client.get(route, headers=bearer(READ)).status_code == 200
    assert client.get(route, headers=bearer(WRITE)).status_code == 200


def test_the_write_route_wants_the_write_token(client, book_url):
    before = open_store(book_url).load().version
    assert client.post("/pipeline/run").status_code == 401
    refused = client.post("/pipeline/run", headers=bearer(READ), json={"execute": True})
    assert refused.status_code == 403 and "SIMLAB_WRITE_TOKEN" in refused.json()["detail"]
    dry = client.post("/pipeline/run", headers=bearer(WRITE))
    assert dry.status_code == 200 and dry.json()["committed"] is False
    assert open_store(book_url).load().version == before  # neither call stored anything


def test_state_and_target_are_the_stored_book(client, book_url):
    stored = open_store(book_url).load()
    state = client.get("/portfolio/state", headers=bearer(READ)).json()
    assert state["as_of"] == stored.as_of == "2022-11-02" and state["version"] == stored.version
    assert state["nav"] == stored.nav and state["cash"] == stored.cash
    held = {p["asset"]: p["shares"] for p in state["positions"]}
    assert held == {a: h for a, h in zip(stored.assets, stored.holdings) if h != 0} and len(held) == 5
    assert state["nav_history"] is None
    history = client.get("/portfolio/state?history=true", headers=bearer(READ)).json()["nav_history"]
    assert [p["nav"] for p in history] == stored.nav_values
    target = client.get("/portfolio/target", headers=bearer(READ)).json()
    assert target["targets"] == dict(zip(stored.assets, stored.last_targets))
    assert target["invested"] == pytest.approx(1.0)
    assert client.get("/alerts", headers=bearer(READ)).json() == {"alerts": [], "source": "state"}


def test_rebalance_trades_is_the_pipelines_dry_run(client, book_url, quickstart):
    cfg, md = quickstart
    store = open_store(book_url)
    answer = client.get("/portfolio/rebalance-trades?as_of=2022-12-01", headers=bearer(READ)).json()
    direct = run_pipeline(cfg, md, store, "2022-12-01")
    assert answer["status"] == direct.status == "pending" and answer["committed"] is False
    assert answer["orders"] == direct.orders.to_dict(orient="records") and len(answer["orders"]) > 0
    assert answer["targets"] == pytest.approx(direct.targets)
    assert store.load().version == 2  # a dry run stores nothing
    latest = client.get("/portfolio/rebalance-trades", headers=bearer(READ)).json()
    assert latest["as_of"] == str(md.dates[-1].date())


def test_attribution_adds_up_to_the_books_volatility(client, book_url, quickstart):
    _, md = quickstart
    stored = open_store(book_url).load()
    att = client.get("/portfolio/attribution?window=60", headers=bearer(READ)).json()
    close = md.close.loc[pd.Timestamp(stored.as_of), stored.assets].to_numpy(float)
    w = pd.Series(np.asarray(stored.holdings) * close / stored.nav, index=stored.assets)
    w = w[w != 0]
    assert att["weights"] == pytest.approx(w.to_dict())
    rets = md.returns().loc[:pd.Timestamp(stored.as_of)].iloc[-60:][list(w.index)]
    vol = float(np.sqrt(w.to_numpy() @ np.cov(rets.to_numpy().T, ddof=1) @ w.to_numpy()))
    rows = {r["asset"]: r for r in att["risk_by_asset"]}
    assert rows["total"]["volatility"] == pytest.approx(vol, rel=1e-10)
    assert sum(r["volatility"] for a, r in rows.items() if a != "total") == pytest.approx(vol, rel=1e-10)
    assert sum(r["percent"] for r in att["risk_by_sector"]) == pytest.approx(1.0)
    assert att["window"] == 60
    assert att["market"] is None and any(n.startswith("market:") for n in att["notes"])  # two closes: too few


def test_bad_input_is_a_json_4xx(client):
    def get(url):
        return client.get(url, headers=bearer(READ))

    cases = {"/portfolio/rebalance-trades?as_of=garbage": 422, "/portfolio/rebalance-trades?as_of=2022-11-05": 422,
             "/portfolio/rebalance-trades?as_of=2022-11-01": 422, "/portfolio/attribution?window=3": 422,
             "/portfolio/attribution?window=x": 422, "/portfolio/state?histroy=true": 422,
             "/portfolio/rebalance-trades?as_of=2263-01-01": 422, "/nowhere": 404}
    for url, status in cases.items():
        response = get(url)
        assert response.status_code == status, url
        assert set(response.json()) == {"error", "detail"}, url
    assert "unknown query parameter (allowed: history)" in get("/portfolio/state?histroy=1").json()["detail"][0]["msg"]
    assert "not a trading day" in get("/portfolio/rebalance-trades?as_of=2022-11-05").json()["detail"]
    assert "already at the close" in get("/portfolio/rebalance-trades?as_of=2022-11-01").json()["detail"]
    post = {"headers": bearer(WRITE)}
    for body in ('{"execute": "maybe"}', '{"as_of": "2022-13-01"}', '{"surprise": 1}', "{not json",
                 '{"approval_value": -5}', "[]"):
        response = client.post("/pipeline/run", content=body, headers={**post["headers"],
                                                                       "content-type": "application/json"})
        assert response.status_code == 422, body
        assert response.json()["error"] == "ValidationError", body


def test_an_empty_store_is_404_and_no_config_is_409(book_url):
    with TestClient(create_app(settings_for("memory://service-test-empty"))) as empty:
        assert empty.get("/health", headers=bearer(READ)).json()["book"] is None
        missing = empty.get("/portfolio/state", headers=bearer(READ))
        assert missing.status_code == 404 and "no book yet" in missing.json()["detail"]
    with TestClient(create_app(settings_for(book_url, config=None))) as bare:
        assert bare.get("/portfolio/target", headers=bearer(READ)).status_code == 200
        refused = bare.get("/portfolio/rebalance-trades", headers=bearer(READ))
        assert refused.status_code == 409 and "--config" in refused.json()["detail"]


def test_execute_commits_with_the_write_token(quickstart):
    url = make_book(quickstart, days=("2022-11-01",))
    with TestClient(create_app(settings_for(url))) as c:
        done = c.post("/pipeline/run", headers=bearer(WRITE), json={"as_of": "2022-11-02", "execute": True})
        assert done.status_code == 200 and done.json()["committed"] and done.json()["version"] == 2
        assert len(done.json()["filled"]) == 5
        again = c.post("/pipeline/run", headers=bearer(WRITE), json={"as_of": "2022-11-02", "execute": True})
        assert again.status_code == 422 and "already at the close" in again.json()["detail"]
    assert open_store(url).load().as_of == "2022-11-02"


def test_without_tokens_only_loopback_is_served(book_url):
    with TestClient(create_app(settings_for(book_url, read_token=None, write_token=None))) as open_local:
        assert open_local.get("/health").status_code == 200
    for host in ("0.0.0.0", "10.1.2.3", "example.org"):
        with pytest.raises(ConfigError, match="SIMLAB_READ_TOKEN and SIMLAB_WRITE_TOKEN"):
            create_app(ServiceSettings(state=book_url, host=host))
    with pytest.raises(ConfigError, match="the same"):
        create_app(ServiceSettings(state=book_url, host="0.0.0.0", read_token="t", write_token="t"))
    create_app(ServiceSettings(state=book_url, host="::1"))
    with pytest.raises(ConfigError, match="SIMLAB_SERVICE_STATE"):
        ServiceSettings.from_env({})


def test_the_openapi_schema_is_published(client):
    schema = client.get("/openapi.json").json()
    assert {"/health", "/portfolio/state", "/portfolio/target", "/portfolio/rebalance-trades",
            "/portfolio/attribution", "/alerts", "/pipeline/run"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_alerts_are_those_the_monitors_stored(client, book_url, quickstart):
    from simlab.analysis.monitors import MonitorSettings
    from simlab.production.monitoring import monitor_book

    cfg, md = quickstart
    fired = monitor_book(cfg, md, open_store(book_url), "2022-11-02", [],
                         MonitorSettings(drawdown_levels=(1e-6,))).alerts
    assert fired  # the book is below its peak: the tiny threshold fires
    served = client.get("/alerts", headers=bearer(READ)).json()
    assert served["alerts"] == [a.to_dict() for a in fired] and served["source"] == "state"
