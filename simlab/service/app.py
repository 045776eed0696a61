"""The HTTP service over one book: FastAPI routes, bearer-token auth, JSON errors.

Read routes (``GET``) take ``SIMLAB_READ_TOKEN`` or ``SIMLAB_WRITE_TOKEN``; the write route
(``POST /pipeline/run``) only the write token. No token is 401, a read token on the write
route 403. Bad input is a 4xx with a JSON body ``{"error": TYPE, "detail": ...}``: a store
without a book 404, an answer that needs the config the service lacks 409, a stale write
409, a date that is not a trading day 422. The OpenAPI schema is at ``/openapi.json``.

>>> app = create_app(ServiceSettings(state="sqlite:///book.db", config=Path("quickstart.yaml")))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import secrets
from importlib.metadata import version
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from simlab.errors import ConfigError, DataError, SimlabError
from simlab.production.pipeline import Approval
from simlab.production.state import StateError
from simlab.service.book import Book, NoBookError, NotConfiguredError
from simlab.service.settings import ServiceSettings

READ, WRITE = "read", "write"
BEARER = HTTPBearer(auto_error=False, description="SIMLAB_READ_TOKEN (GET routes) or SIMLAB_WRITE_TOKEN (all)")


class ErrorBody(BaseModel):
    """Every error: the kind and what went wrong (a message, or FastAPI's list for bad input)."""

    error: str
    detail: Any


class Health(BaseModel):
    status: str
    state: str
    book: str | None
    scenario: str | None
    as_of: str | None
    version: int | None
    config: str | None


class Position(BaseModel):
    asset: str
    shares: float
    cost_basis: float


class NavPoint(BaseModel):
    date: str
    nav: float


class StateView(BaseModel):
    book: dict[str, Any]
    version: int
    start: str
    as_of: str
    nav: float
    cash: float
    peak_nav: float
    drawdown: float
    time_weighted_return: float
    last_rebalance: str | None
    positions: list[Position]
    pending: list[dict[str, Any]]
    flows: list[dict[str, Any]]
    nav_history: list[NavPoint] | None


class TargetView(BaseModel):
    as_of: str
    last_rebalance: str | None
    targets: dict[str, float | None]
    invested: float


class DecisionView(BaseModel):
    status: str
    as_of: str
    scenario: str
    book: dict[str, Any]
    nav: float
    cash: float
    targets: dict[str, float | None]
    checks: dict[str, Any]
    diagnostics: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    filled: list[dict[str, Any]]
    committed: bool
    version: int
    notes: list[str]


class AttributionView(BaseModel):
    as_of: str
    window: int
    weights: dict[str, float]
    risk_by_asset: list[dict[str, Any]]
    risk_by_sector: list[dict[str, Any]]
    market: dict[str, float | int | None] | None
    notes: list[str]


class AlertsView(BaseModel):
    alerts: list[dict[str, Any]]
    source: str


class RunRequest(BaseModel):
    """``POST /pipeline/run``: a dry run unless ``execute``."""

    model_config = ConfigDict(extra="forbid")

    as_of: datetime.date | None = Field(None, description="close to decide at (default: the data's last day)")
    execute: bool = Field(False, description="commit the new state (a paper book fills its orders)")
    approve: bool = Field(False, description="approve orders the approval rule holds")
    approval_turnover: float | None = Field(None, gt=0, le=1e9, description="one-way turnover needing approval")
    approval_value: float | None = Field(None, gt=0, le=1e18, description="order value needing approval")


ERRORS = {400: {"model": ErrorBody, "description": "a body that cannot be read"},
          401: {"model": ErrorBody, "description": "no or unknown bearer token"},
          403: {"model": ErrorBody, "description": "a read token on the write route"},
          404: {"model": ErrorBody, "description": "the store holds no book yet"},
          409: {"model": ErrorBody, "description": "needs the config, or another writer committed first"},
          422: {"model": ErrorBody, "description": "bad input: a malformed value or a date that is not a trading day"}}


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The service; ``settings`` default to :meth:`ServiceSettings.from_env` (``simlab serve`` sets them).

    Raises a ConfigError when the host is not loopback and the tokens are missing, and the
    config's or store's errors when they do not load.
    """
    settings = ServiceSettings.from_env() if settings is None else settings
    settings.check_exposure()
    book = Book(settings)
    app = FastAPI(title="simlab book service", version=version("simlab"),
                  description=f"The book at {settings.state}: state, targets, dry runs, attribution, alerts.")
    _add_error_handlers(app)
    read, write = Depends(_auth(settings, READ)), Depends(_auth(settings, WRITE))

    @app.get("/health", response_model=Health, responses=ERRORS,
             dependencies=[read, _only_query()])
    def health() -> dict:
        """The store answers; what book it holds and at which close."""
        return book.health()

    @app.get("/portfolio/state", response_model=StateView, responses=ERRORS,
             dependencies=[read, _only_query("history")])
    def portfolio_state(history: Annotated[bool, Query(description="include the NAV at every close")] = False
                        ) -> dict:
        """Money, drawdown, positions, waiting orders and cash flows of the book."""
        return book.state_view(history)

    @app.get("/portfolio/target", response_model=TargetView, responses=ERRORS,
             dependencies=[read, _only_query()])
    def portfolio_target() -> dict:
        """Target weights of the last rebalance."""
        return book.target_view()

    @app.get("/portfolio/rebalance-trades", response_model=DecisionView, responses=ERRORS,
             dependencies=[read, _only_query("as_of")])
    def rebalance_trades(as_of: Annotated[datetime.date | None, Query(description="default: the data's last day")]
                         = None) -> dict:
        """A dry run of the pipeline: the orders it would send at the close of ``as_of``; nothing stored."""
        return book.decide(as_of)

    @app.get("/portfolio/attribution", response_model=AttributionView, responses=ERRORS,
             dependencies=[read, _only_query("window")])
    def portfolio_attribution(window: Annotated[int, Query(ge=20, le=5000, description="days of returns for risk")]
                              = 252) -> dict:
        """Risk of the holdings by asset and sector; the book's alpha and beta on the benchmark."""
        return book.attribution_view(window)

    @app.get("/alerts", response_model=AlertsView, responses=ERRORS,
             dependencies=[read, _only_query()])
    def alerts() -> dict:
        """Alerts kept with the book."""
        return book.alerts_view()

    @app.post("/pipeline/run", response_model=DecisionView, responses=ERRORS,
              dependencies=[write, _only_query()])
    def pipeline_run(request: RunRequest | None = None) -> dict:
        """Run the pipeline at ``as_of``: a dry run unless ``execute`` (write token only)."""
        request = RunRequest() if request is None else request
        return book.decide(request.as_of, execute=request.execute, approve=request.approve,
                           approval=Approval(request.approval_turnover, request.approval_value))

    return app


def _only_query(*names: str):
    """A dependency that refuses query parameters other than ``names`` (a typo is a 422, never ignored)."""
    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(names))
        if unknown:
            allowed = ", ".join(names) or "none"
            raise RequestValidationError([{"loc": ("query", name), "msg": f"unknown query parameter (allowed: {allowed})",
                                           "type": "extra_forbidden"} for name in unknown])

    return Depends(check)


def _auth(settings: ServiceSettings, scope: str):
    """A dependency that checks the bearer token for ``scope`` (open when no token is set)."""
    def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if not settings.auth_required:
            return
        if credentials is None:
            raise HTTPException(401, "a bearer token is required (Authorization: Bearer TOKEN)",
                                headers={"WWW-Authenticate": "Bearer"})
        token = credentials.credentials
        if _same(token, settings.write_token):
            return
        if _same(token, settings.read_token):
            if scope == READ:
                return
            raise HTTPException(403, "the read token may not call this route; it needs SIMLAB_WRITE_TOKEN")
        raise HTTPException(401, "unknown bearer token", headers={"WWW-Authenticate": "Bearer"})

    return check


def _same(token: str, expected: str | None) -> bool:
    return expected is not None and secrets.compare_digest(token.encode(), expected.encode())


def _status_of(err: SimlabError) -> int:
    if isinstance(err, NoBookError):
        return 404
    if isinstance(err, (NotConfiguredError, StateError)):
        return 409
    if isinstance(err, (DataError, ConfigError)):
        return 422
    return 409


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SimlabError)
    async def simlab_error(request: Request, err: SimlabError) -> JSONResponse:
        return JSONResponse({"error": type(err).__name__, "detail": str(err)}, status_code=_status_of(err))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        kind = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed"}.get(
            err.status_code, "HTTPError")
        return JSONResponse({"error": kind, "detail": err.detail}, status_code=err.status_code,
                            headers=getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, err: RequestValidationError) -> JSONResponse:
        detail = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in err.errors()]
        return JSONResponse({"error": "ValidationError", "detail": detail}, status_code=422)
