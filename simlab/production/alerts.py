"""Where alerts go: the console, a JSON-lines file, Python ``logging``, an HTTP webhook.

A sink delivers a list of :class:`~simlab.analysis.monitors.Alert` or raises. :func:`deliver`
hands every alert to every sink and returns, per sink, the alerts it failed to take: the
monitor keeps those in the book's state and hands them to that sink again on its next run
before the new ones, so an alert is never lost to a sink that is down (it may arrive late, in
its original order). Delivery is at least once: a run stopped between a delivery and the
commit of the state hands the same alerts again on the next run.

Sinks are named by a short spec (``simlab monitor --sink``): ``console``, ``jsonl:PATH``,
``logging`` (logger ``simlab.alerts``, INFO/WARNING/CRITICAL mapped to the same levels) and
``webhook:URL`` (one POST of a JSON array per delivery; any 2xx status is success).
"""

from __future__ import annotations

import json
import logging
import sys
import urllib.request
from pathlib import Path
from typing import ClassVar

from simlab.analysis.monitors import Alert
from simlab.errors import ConfigError

LOGGER = "simlab.alerts"


class Sink:
    """One destination of alerts; ``name`` identifies it in the undelivered store."""

    name: str

    def send(self, alerts: list[Alert]) -> None:
        """Deliver ``alerts`` (all of them, or raise)."""
        raise NotImplementedError


class ConsoleSink(Sink):
    """One line per alert on standard output."""

    def __init__(self, stream=None):
        self.name = "console"
        self.stream = stream

    def send(self, alerts):
        stream = self.stream or sys.stdout
        for a in alerts:
            print(f"{a.time} {a.level:<8} {a.kind:<12} {a.message}", file=stream)


class JsonLinesSink(Sink):
    """One JSON object a line, appended to ``path`` (flushed and fsynced per delivery)."""

    def __init__(self, path):
        self.path = Path(path).expanduser()
        self.name = f"jsonl:{self.path}"

    def send(self, alerts):
        import os

        text = "".join(json.dumps(a.to_dict(), sort_keys=True, default=str) + "\n" for a in alerts)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


class LoggingSink(Sink):
    """Python logging, logger ``simlab.alerts``; the alert's fields go in ``extra["alert"]``."""

    LEVELS: ClassVar[dict] = {"INFO": logging.INFO, "WARNING": logging.WARNING, "CRITICAL": logging.CRITICAL}

    def __init__(self, logger: str = LOGGER):
        self.name = "logging"
        self.logger = logging.getLogger(logger)

    def send(self, alerts):
        for a in alerts:
            self.logger.log(self.LEVELS[a.level], "%s %s: %s", a.kind, a.time, a.message, extra={"alert": a.to_dict()})


class WebhookSink(Sink):
    """POST a JSON array of alerts to ``url``; a non-2xx status or no answer is a failure."""

    def __init__(self, url: str, timeout: float = 10.0):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"webhook {url!r}: expected an http:// or https:// URL")
        self.url = url
        self.name = f"webhook:{url}"
        self.timeout = timeout

    def send(self, alerts):
        body = json.dumps([a.to_dict() for a in alerts], default=str).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            if not 200 <= response.status < 300:
                raise OSError(f"webhook {self.url} answered {response.status}")


def parse_sink(spec: str) -> Sink:
    """The sink named by ``spec``: console, logging, jsonl:PATH or webhook:URL."""
    if spec == "console":
        return ConsoleSink()
    if spec == "logging":
        return LoggingSink()
    if spec.startswith("jsonl:"):
        return JsonLinesSink(spec[len("jsonl:"):])
    if spec.startswith("webhook:"):
        return WebhookSink(spec[len("webhook:"):])
    raise ConfigError(f"alert sink {spec!r}: expected console, logging, jsonl:PATH or webhook:URL")


def deliver(alerts: list[Alert], sinks: list[Sink], undelivered: dict) -> tuple[dict, list[str]]:
    """Hand each sink the alerts it still owes (``undelivered[sink.name]``) and then ``alerts``.

    Returns the new ``undelivered`` mapping (sink name -> alert dicts; only sinks that failed)
    and one line per failure. A sink that fails keeps everything it was handed.
    """
    kept, errors = {}, []
    for sink in sinks:
        owed = [Alert.from_dict(d) for d in undelivered.get(sink.name, [])]
        seen = {a.key for a in owed}
        batch = owed + [a for a in alerts if a.key not in seen]
        if not batch:
            continue
        try:
            sink.send(batch)
        except Exception as err:  # noqa: BLE001 (whatever a sink raises, its alerts are kept)
            kept[sink.name] = [a.to_dict() for a in batch]
            errors.append(f"alert sink {sink.name} failed ({err}); {len(batch)} alert(s) kept for the next run")
    for name, owed in undelivered.items():  # a sink not configured this run keeps what it is owed
        if name not in {s.name for s in sinks}:
            kept[name] = owed
    return kept, errors
