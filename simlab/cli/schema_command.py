"""``simlab schema``: the JSON Schema of an experiment, for editor completion and checks.

Point a YAML editor at it (``# yaml-language-server: $schema=simlab.schema.json``) to get
the keys, their defaults and their limits as you type. Component entries (``strategy``,
``costs``, ``pipeline`` items) are open mappings here: their keys depend on ``type`` and are
checked when the experiment loads (``simlab list steps`` names them).
"""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    """Register ``simlab schema``."""
    cmd = sub.add_parser("schema", help="print the JSON Schema of an experiment")
    cmd.add_argument("--out", type=Path, default=None, help="write it to this file instead of printing it")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Print (or write) the schema."""
    from simlab.config.schema import Experiment

    schema = Experiment.model_json_schema()
    schema["title"] = "simlab experiment"
    text = json.dumps(schema, indent=2)
    if args.out is None:
        print(text)
    else:
        args.out.write_text(text + "\n")
        print(f"wrote {args.out}")
    return 0
