"""What the service serves and who may call it, read from the environment.

``simlab serve`` writes its options into the environment and starts uvicorn on the factory
``simlab.service.app:create_app``, so the same app runs under any ASGI server::

    SIMLAB_SERVICE_STATE=sqlite:///book.db SIMLAB_SERVICE_CONFIG=quickstart.yaml \\
        uvicorn --factory simlab.service.app:create_app

``SIMLAB_READ_TOKEN`` may call the ``GET`` routes, ``SIMLAB_WRITE_TOKEN`` every route. With
neither set the service is open, which it allows only on a loopback host
(``SIMLAB_SERVICE_HOST``, default ``127.0.0.1``).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from simlab.errors import ConfigError

ENV_STATE = "SIMLAB_SERVICE_STATE"
ENV_CONFIG = "SIMLAB_SERVICE_CONFIG"
ENV_SCENARIO = "SIMLAB_SERVICE_SCENARIO"
ENV_HOST = "SIMLAB_SERVICE_HOST"
ENV_READ_TOKEN = "SIMLAB_READ_TOKEN"
ENV_WRITE_TOKEN = "SIMLAB_WRITE_TOKEN"


@dataclass(frozen=True)
class ServiceSettings:
    """The book the service serves and the tokens it accepts.

    Attributes
    ----------
    state : store URL of the book (memory://, json:, sqlite:///, postgresql://).
    config : experiment YAML that runs the book; None serves the stored state only
        (targets and state; a dry run, attribution and a pipeline run answer 409).
    scenario : the config's scenario the book runs (None: its first).
    host : the address the server listens on (decides whether tokens are required).
    read_token, write_token : bearer tokens (None: not set).
    """

    state: str
    config: Path | None = None
    scenario: str | None = None
    host: str = "127.0.0.1"
    read_token: str | None = None
    write_token: str | None = None

    @classmethod
    def from_env(cls, environ=None) -> ServiceSettings:
        """Settings from ``environ`` (default ``os.environ``); the state URL is required."""
        env = os.environ if environ is None else environ
        state = env.get(ENV_STATE)
        if not state:
            raise ConfigError(f"{ENV_STATE} is not set: name the book's store "
                              "(simlab serve --state URL sets it)")
        config = env.get(ENV_CONFIG) or None
        return cls(state=state, config=None if config is None else Path(config),
                   scenario=env.get(ENV_SCENARIO) or None, host=env.get(ENV_HOST) or "127.0.0.1",
                   read_token=env.get(ENV_READ_TOKEN) or None, write_token=env.get(ENV_WRITE_TOKEN) or None)

    @property
    def auth_required(self) -> bool:
        """True when any token is set: every route then wants one."""
        return self.read_token is not None or self.write_token is not None

    def check_exposure(self) -> None:
        """Refuse a non-loopback host unless both tokens are set (a ConfigError naming what is missing)."""
        if is_loopback(self.host):
            return
        missing = [name for name, value in ((ENV_READ_TOKEN, self.read_token), (ENV_WRITE_TOKEN, self.write_token))
                   if value is None]
        if missing:
            raise ConfigError(f"--host {self.host} is reachable from other machines; set {' and '.join(missing)} "
                              "in the environment (or serve on 127.0.0.1)")
        if self.read_token == self.write_token:
            raise ConfigError(f"{ENV_READ_TOKEN} and {ENV_WRITE_TOKEN} are the same: give the write token its own "
                              "value")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
