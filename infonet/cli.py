"""Command lines built from option dataclasses, shared by every script.

A script declares a dataclass of options; ``parse_options`` turns its fields into flags
(``out_dir`` -> ``--out-dir``; booleans get ``--flag/--no-flag``; a nested dataclass field
``model`` contributes ``--model.dim`` and so on), prints the resolved options and returns the
filled dataclass. ``save_options`` writes them beside the outputs. The ``check_*`` helpers
refuse a bad option or output folder at the top of a script's ``main``, before any work, and
``run_cli`` turns the refusal into one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import types
import typing
from pathlib import Path

__all__ = [
    "MAX_TRACKS",
    "check_choice",
    "check_num_tracks",
    "check_number",
    "check_out_dir",
    "options_dict",
    "parse_options",
    "preload_infonet",
    "run_cli",
    "save_options",
]


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
    """Runs ``main(*args)``; user errors and faults of the machine end with one clear line.

    Exit status 2 for bad input (ValueError and its kin), 1 for a fault of the system (a full
    disk, a read-only folder, no memory), 130 for Ctrl-C. Anything else is a bug and keeps
    its traceback.
    """
    try:
        main(*args)
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as err:  # ENOSPC, EROFS, EIO ...: "No space left on device: 'runs/x/result.npz'"
        where = f": {err.filename}" if err.filename else ""
        print(f"error: {_one_line(err.strerror or err)}{where}", file=sys.stderr)
        raise SystemExit(1) from None
    except MemoryError as err:
        print(f"error: out of memory ({_one_line(err) or 'no detail'}); ask for less work", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


def _one_line(err) -> str:
    return " ".join(str(err).split())


# ----------------------------------------------------------------------------- option checks
# Scripts call these at the top of ``main``, so that a bad option is refused before any work.

MAX_TRACKS = 10_000  # all N(N-1)/2 pairs get an MI estimate and the N x N matrix stays in memory


def check_number(flag: str, value, *, low=None, high=None, low_open: bool = False, why: str = "") -> None:
    """Refuses NaN or infinity, a value under ``low`` (or equal to it, with ``low_open``) or over ``high``."""
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if math.isfinite(value) and not too_low and not too_high:
        return
    bounds = [f"{'>' if low_open else '>='} {low}"] if low is not None else []
    bounds += [f"<= {high}"] if high is not None else []
    reason = f" ({why})" if why else ""
    raise ValueError(f"{flag} must be {' and '.join(bounds) or 'finite'}{reason}; got {value}")


def check_choice(flag: str, value: str, choices, *, what: str = "value") -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r} for {flag}; choose from {', '.join(choices)}")


def check_num_tracks(flag: str, value: int) -> None:
    """At least 2 tracks and at most MAX_TRACKS, saying what a larger number would cost."""
    check_number(flag, value, low=2)
    if value > MAX_TRACKS:
        pairs, gigabytes = value * (value - 1) / 2, value**2 * 8 / 1e9
        raise ValueError(
            f"{flag} {value} is more than {MAX_TRACKS}: every pair of tracks gets an MI estimate and the "
            f"N x N matrix stays in memory ({pairs:.1e} pairs and {gigabytes:.3g} GB for {value})"
        )


def preload_infonet(weights: str = "", device: str = "auto") -> None:
    """Loads InfoNet's weights now, so that a missing or damaged file, or a missing device, is
    refused before any work; the estimator later gets the same (cached) model."""
    import torch

    from .checkpoint import load_pretrained, resolve_device

    try:
        where = resolve_device(device)
    except RuntimeError as err:
        raise ValueError(f"--device {device!r} is not a device: {_one_line(err)}") from None
    if where.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device is available here; use --device cpu or auto")
    load_pretrained(weights or None, device=where)


def check_out_dir(out: str | Path, *, overwrite: bool, flag: str = "--out") -> Path:
    """An output folder that may be written: not a file, writable, empty unless ``overwrite``.

    Nothing is created here; a missing folder is fine when its nearest existing parent is a
    writable folder.

    Raises:
        ValueError: naming the folder and the problem (a non-empty one names --overwrite).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{flag} {out} is a file, not a folder; give a folder for the outputs")
    existing = next(p for p in (out, *out.parents) if p.exists())  # "." or "/" at the latest
    if not existing.is_dir():
        raise ValueError(f"{flag} {out} cannot be created: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {out} is not writable: no permission to write in {existing}")
    if out.is_dir() and not overwrite:
        held = sorted(p.name for p in out.iterdir())
        if held:
            shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
            raise ValueError(
                f"{flag} {out} already holds {shown}; pass --overwrite to replace this script's outputs "
                "there (other files stay), or choose another folder"
            )
    return out
