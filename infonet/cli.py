"""Command lines built from option dataclasses, shared by every script.

A script declares a dataclass of options; ``parse_options`` turns its fields into flags
(``out_dir`` -> ``--out-dir``; booleans get ``--flag/--no-flag``; a nested dataclass field
``model`` contributes ``--model.dim`` and so on, or plain ``--dim`` when its field says
``metadata={"flatten": True}``) and returns the filled dataclass; ``--threads`` and ``--verbose``
(which prints the resolved options) come with every script.
The dataclasses check their own values (``__post_init__``); a check's message that starts with
the field's name is shown with the flag instead. ``save_options`` writes them beside the outputs.
The ``check_*`` helpers refuse a bad output folder at the top of a script's ``main``, before any
work; ``locked_out_dir`` holds the output folder while a script writes there; and ``run_cli``
turns a refusal, a fault of the machine, Ctrl-C or SIGTERM into one line.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import re
import secrets
import signal
import sys
import types
import typing
from pathlib import Path

__all__ = [
    "Terminated",
    "check_choice",
    "check_number",
    "check_out_dir",
    "load_estimator",
    "locked_out_dir",
    "options_dict",
    "parse_options",
    "preload_infonet",
    "run_cli",
    "save_options",
]

LOCK_NAME = ".lock"  # held by a script while it writes into its output folder
MAX_THREADS_PER_CORE = 4  # --threads beyond this many a core only costs (99999 ran out of threads, then memory)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _nested_prefix(f: dataclasses.Field, dest: str) -> str:
    return "" if f.metadata.get("flatten") else dest + "."


def _number_or_text(text: str) -> float | str:
    """``float | str`` options (a threshold or "auto"): a number when it reads as one."""
    try:
        return float(text)
    except ValueError:
        return text


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's "(default: X)" after each option's help, unless the help says its default itself or
    there is none to show (an empty string)."""

    def _get_help_string(self, action):
        if "default" in (action.help or "") or action.default in ("", None):
            return action.help
        return super()._get_help_string(action)


def _add_fields(parser: argparse.ArgumentParser, cls, prefix: str = "") -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        dest = prefix + f.name
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(typ):
            _add_fields(parser, typ, prefix=prefix + _nested_prefix(f, f.name))
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
        elif origin in (typing.Union, types.UnionType) and set(args) == {float, str}:
            typ, origin = _number_or_text, None
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
            kwargs[f.name] = _build(hints[f.name], values, prefix=prefix + _nested_prefix(f, f.name))
        else:
            value = values[dest]
            if hints[f.name] is int and "seed" in f.name.split("_") and value < 0:
                raise ValueError(f"{_flag(dest)} must be >= 0 (a random seed), got {value}")
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    try:
        return cls(**kwargs)
    except ValueError as err:  # the dataclass's own check: name the flag, not the field
        name, _, rest = str(err).partition(" ")
        if name in kwargs and not dataclasses.is_dataclass(hints[name]):
            raise ValueError(f"{_flag(prefix + name)} {rest}") from None
        raise


def options_dict(opts) -> dict:
    return dataclasses.asdict(opts)


def parse_options(cls, argv=None, description: str | None = None):
    """Parses the command line into an instance of the dataclass ``cls``.

    Every script also gets ``--threads N`` (torch's, OpenCV's and the BLAS's threads, set here by
    :func:`infonet.threads.configure`; 0, the default, suits the machine) and ``--verbose`` (print
    the resolved options as JSON; :func:`save_options` saves them beside the outputs either way),
    unless ``cls`` has fields of those names.
    """
    parser = argparse.ArgumentParser(description=description, formatter_class=_HelpWithDefaults)
    _add_fields(parser, cls)
    own = {f.name for f in dataclasses.fields(cls)}
    if "threads" not in own:
        parser.add_argument(
            "--threads", type=int, default=0, help="threads of torch, OpenCV and the BLAS (0: the cores that are free)"
        )
    if "verbose" not in own:
        parser.add_argument("--verbose", action="store_true", help="print the resolved options (always saved as JSON)")
    ns = parser.parse_args(argv)  # a malformed command line: argparse's usage and error
    # a well-formed one with a bad value: one line naming it (the usage of every option would bury it)
    refuse = lambda why: parser.exit(2, f"{parser.prog}: error: {why} (see --help)\n")  # noqa: E731
    try:
        opts = _build(cls, vars(ns))
    except (TypeError, ValueError) as err:
        refuse(err)
    if "threads" not in own:
        most = MAX_THREADS_PER_CORE * (os.cpu_count() or 1)
        if not 0 <= ns.threads <= most:
            refuse(f"--threads must be in [0, {most}] (0: the cores that are free), got {ns.threads}")
        from .threads import configure

        threads = configure(ns.threads)
    if "verbose" not in own and ns.verbose:
        shown = options_dict(opts) | ({"threads": threads} if "threads" not in own else {})
        print(json.dumps(shown, indent=2, default=str), file=sys.stderr)
    return opts


def save_options(opts, path: str | Path) -> None:
    """Writes the resolved options as JSON (``path`` may be a folder: options.json inside)."""
    path = Path(path)
    if path.suffix != ".json":
        path = path / "options.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(6)}.tmp{path.suffix}")  # a LEFTOVER if killed
    try:  # whole or not at all: a kill while writing leaves the previous file
        tmp.write_text(json.dumps(options_dict(opts), indent=2, default=str) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class Terminated(BaseException):
    """SIGTERM arrived while a script ran (``run_cli``): unwinds like Ctrl-C, so that files being
    written are discarded (``datasets.replacing``) and locks released."""


def _raise_terminated(signum, frame):
    raise Terminated(f"signal {signum}")


def run_cli(main, *args) -> None:
    """Runs ``main(*args)``; user errors and faults of the machine end with one clear line.

    Exit status 2 for bad input (ValueError and its kin), 1 for a fault of the system (a full
    disk, a read-only folder, no memory), 130 for Ctrl-C and 143 for SIGTERM (both unwind, so a
    file being written is discarded and the finished ones stay). Anything else is a bug and
    keeps its traceback.
    """
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
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
        print(
            "interrupted; the files written so far are complete, the one being written was discarded", file=sys.stderr
        )
        raise SystemExit(130) from None
    except Terminated:
        print(
            "terminated (SIGTERM); the files written so far are complete, the one being written was discarded",
            file=sys.stderr,
        )
        raise SystemExit(143) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _one_line(err) -> str:
    return " ".join(str(err).split())


# ----------------------------------------------------------------------------- option checks
# Scripts call these at the top of ``main``, so that a bad option or folder is refused before any work.


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


def comma_list(text: str, flag: str, *, type=str, choices=None, minimum=None) -> list:
    """The comma-separated values of an option ("a, b,c" -> ["a", "b", "c"]), each converted by
    ``type``; refuses a value that does not convert, is not among ``choices`` or is under ``minimum``."""
    values = []
    for item in (v.strip() for v in text.split(",")):
        if not item:
            continue
        try:
            value = type(item.lower() if type is str else item)
        except ValueError:
            what = {int: "whole numbers", float: "numbers"}.get(type, "values")
            raise ValueError(f"--{flag} takes comma-separated {what}; got {item!r}") from None
        if choices is not None:
            check_choice(f"--{flag}", value, choices)
        if minimum is not None:
            check_number(f"--{flag}", value, low=minimum)
        values.append(value)
    return values


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


def check_out_dir(
    out: str | Path, *, overwrite: bool, flag: str = "--out", inputs=(), outputs: tuple[str, ...] = ()
) -> Path:
    """An output folder that may be written: not a file, writable, empty unless ``overwrite``,
    and neither inside an input folder nor about to replace an input file.

    Nothing is created here; a missing folder is fine when its nearest existing parent is a
    writable folder.

    Args:
        inputs: the script's input files and folders. outputs: the names it writes into ``out``.
    Raises:
        ValueError: naming the folder and the problem (a non-empty one names --overwrite).
    """
    out = Path(out)
    where = out.resolve()
    for p in (Path(p).resolve() for p in inputs):
        if (p.is_dir() and (where == p or p in where.parents)) or any(where / name == p for name in outputs):
            raise ValueError(f"refusing to write into {flag} {out}: it would write inside or over the input {p}")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{flag} {out} is a file, not a folder; give a folder for the outputs")
    existing = next(p for p in (out, *out.parents) if p.exists())  # "." or "/" at the latest
    if not existing.is_dir():
        raise ValueError(f"{flag} {out} cannot be created: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {out} is not writable: no permission to write in {existing}")
    if out.is_dir() and not overwrite:
        held = sorted(p.name for p in out.iterdir() if not _ours(p.name))
        if held:
            shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
            raise ValueError(
                f"{flag} {out} already holds {shown}; pass --overwrite to replace this script's outputs "
                "there (other files stay), or choose another folder"
            )
    return out


# the temporary files a killed run can leave: datasets.replacing's ".result.<12 hex>.tmp.npz" and
# infonet.checkpoint's ".last.pt.<8 of mkstemp's characters>.tmp"; nothing else of a dot and "tmp"
LEFTOVER = re.compile(r"\.[^/]+\.(?:[0-9a-f]{12}|[0-9a-z_]{8})\.tmp(?:\.[0-9a-z]+)?", re.IGNORECASE)


def _ours(name: str) -> bool:
    """The lock, and the temporary files of this project's writers left by a killed run (a user's
    own ".notes.tmp" is not one: it is neither removed nor ignored)."""
    return name == LOCK_NAME or LEFTOVER.fullmatch(name) is not None


@contextlib.contextmanager
def locked_out_dir(out: str | Path, flag: str = "--out"):
    """Creates ``out`` if needed and holds an exclusive lock on it for the block, as ``train.py``
    holds its run folder: a second script writing into the same folder is refused at once.

    The OS releases the lock when the process dies; temporary files left by a killed run are
    removed once the lock is held, and a folder this call created is removed again if the block
    leaves it empty (a run that failed before writing anything).

    Raises:
        ValueError: another process holds the folder.
    """
    import fcntl

    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ValueError(
            f"{flag} {out} is in use by another run (it holds {out / LOCK_NAME}); wait for it or choose another folder"
        ) from None
    try:
        for stale in out.iterdir():
            if _ours(stale.name) and stale.name != LOCK_NAME:
                stale.unlink(missing_ok=True)
        yield out
    finally:
        (out / LOCK_NAME).unlink(missing_ok=True)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        if created and not any(out.iterdir()):
            out.rmdir()


def load_estimator(name: str, *, device: str = "auto", weights: str = ""):
    """The MI estimator ``name`` for a script; InfoNet's weights and the device are loaded and
    checked now (:func:`preload_infonet`), before any work."""
    import infonet

    estimator = infonet.get_estimator(name, device=device, weights=weights)
    if estimator.neural:
        preload_infonet(weights, device)
    return estimator
