"""``simlab serve --state URL [--config CONFIG] [--host 127.0.0.1] [--port 8000]``: the book over HTTP.

The service is a sibling of the CLI (both top layer), so this command does not import it:
it writes its options into the environment (``SIMLAB_SERVICE_*``) and hands uvicorn the
factory's import string ``simlab.service.app:create_app``, the same way any ASGI server
would start it. Tokens come from ``SIMLAB_READ_TOKEN`` and ``SIMLAB_WRITE_TOKEN``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from simlab.errors import ConfigError

APP_FACTORY = "simlab.service.app:create_app"


def add_parser(sub) -> None:
    """Register the ``serve`` command."""
    cmd = sub.add_parser("serve", help="serve a book over HTTP: state, targets, dry runs, attribution, alerts")
    cmd.add_argument("--state", required=True, help="memory://NAME, json:PATH, sqlite:///PATH or postgresql://...")
    cmd.add_argument("--config", type=Path, default=None,
                     help="the book's experiment YAML (needed for dry runs, attribution and pipeline runs)")
    cmd.add_argument("--scenario", default=None, help="the scenario the book runs (default: the config's first)")
    cmd.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1; any other needs both tokens set)")
    cmd.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Start uvicorn on the service; returns when the server stops (Ctrl-C)."""
    missing = [name for name in ("fastapi", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"simlab serve needs {' and '.join(missing)}: pip install 'simlab[service]'")
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port {args.port}: expected a port between 1 and 65535")
    import uvicorn

    os.environ.update({"SIMLAB_SERVICE_STATE": args.state, "SIMLAB_SERVICE_HOST": args.host,
                       "SIMLAB_SERVICE_CONFIG": "" if args.config is None else str(args.config.resolve()),
                       "SIMLAB_SERVICE_SCENARIO": args.scenario or ""})
    uvicorn.run(APP_FACTORY, factory=True, host=args.host, port=args.port, log_level="info")
    return 0
