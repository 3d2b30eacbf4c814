"""Command lines built from option dataclasses, shared by every script.

A script declares a dataclass of options; ``parse_options`` turns its fields into flags
(``out_dir`` -> ``--out-dir``; booleans get ``--flag/--no-flag``; a nested dataclass field
``model`` contributes ``--model.dim`` and so on), prints the resolved options and returns the
filled dataclass. ``save_options`` writes them beside the outputs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from pathlib import Path

__all__ = ["parse_options", "save_options", "options_dict", "run_cli"]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_fields(parser: argparse.ArgumentParser, cls, prefix: str = "") -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        dest = prefix + f.name
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(typ):
            _add_fields(parser, typ, prefix=dest + ".")
            continue
        help_text = f.metadata.get("help", "")
        if typ is bool:
            parser.add_argument(
                _flag(dest), dest=dest, action=argparse.BooleanOptionalAction, default=default, help=help_text
            )
            continue
        origin = typing.get_origin(typ)
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if origin in (typing.Union, types.UnionType) and len(args) == 1:  # X | None
            typ, origin, args = args[0], typing.get_origin(args[0]), typing.get_args(args[0])
        if origin in (tuple, list):
            parser.add_argument(_flag(dest), dest=dest, type=args[0], nargs="+", default=default, help=help_text)
        else:
            parser.add_argument(_flag(dest), dest=dest, type=typ, default=default, help=help_text)


def _build(cls, values: dict, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        dest = prefix + f.name
        if dataclasses.is_dataclass(hints[f.name]):
            kwargs[f.name] = _build(hints[f.name], values, prefix=dest + ".")
        else:
            value = values[dest]
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


def options_dict(opts) -> dict:
    return dataclasses.asdict(opts)


def parse_options(cls, argv=None, description: str | None = None):
    """Parses the command line into an instance of the dataclass ``cls`` and prints it."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_fields(parser, cls)
    ns = parser.parse_args(argv)
    try:
        opts = _build(cls, vars(ns))
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    print(json.dumps(options_dict(opts), indent=2, default=str), file=sys.stderr)
    return opts


def save_options(opts, path: str | Path) -> None:
    """Writes the resolved options as JSON (``path`` may be a folder: options.json inside)."""
    path = Path(path)
    if path.suffix != ".json":
        path = path / "options.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(options_dict(opts), indent=2, default=str) + "\n")


def run_cli(main, *args) -> None:
    """Runs ``main(*args)``; known user errors end with one clear line and exit status 2."""
    try:
        main(*args)
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
