"""Checkpoints that carry their config, written atomically and loaded without executing code.

A checkpoint is a plain dict: ``{"config": asdict(InfoNetConfig), "model": state_dict, ...}``
(for a :class:`~infonet.model.SizeRouted` model the config is ``{"experts": [...], "bounds": [...]}``)
plus, for training checkpoints, optimizer, scheduler and step. Loading uses
``torch.load(weights_only=True)``, which refuses pickled code, so a checkpoint from anyone is
safe to open.
"""

from __future__ import annotations

import functools
import os
import pickle
import tempfile
import warnings
import zipfile
from dataclasses import asdict
from pathlib import Path

import torch

from .model import InfoNet, InfoNetConfig, SizeRouted
from .weights import packaged, weights_file

__all__ = [
    "DEFAULT_WEIGHTS",
    "save_checkpoint",
    "load_checkpoint",
    "load_weights",
    "model_from_checkpoint",
    "load_pretrained",
    "resolve_device",
    "usable_device",
]

DEFAULT_WEIGHTS = packaged("infonet.pt")  # package data: an installed wheel carries it
WEIGHTS_ENV = "INFONET_WEIGHTS"  # overrides the default weights path


def resolve_device(device=None) -> torch.device:
    """None or "auto" -> CUDA when available, else CPU; anything else as given."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def usable_device(device=None) -> torch.device:
    """:func:`resolve_device`, refusing a device that this machine does not have.

    Raises:
        ValueError: a string that names no device, or a CUDA device where there is none (or
            fewer than its index).
    """
    try:
        where = resolve_device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device {device!r} is not a device: {' '.join(str(err).split())}") from None
    if where.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (where.index or 0) >= count:
            raise ValueError(
                f"device {str(device)!r}: no such CUDA device here ({count} available); use device='cpu' or None"
            )
    return where


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Writes ``payload`` to ``path`` atomically: a temp file in the same folder, then rename.

    A crash or Ctrl-C mid-write leaves the previous file intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a checkpoint is a normal file
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Loads a checkpoint dict safely (no code execution).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is empty, truncated, not a checkpoint of this project, holds
            pickled objects, or holds NaN or infinite weights (the message says which).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before it refuses them
            warnings.simplefilter("ignore", UserWarning)
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch's own message may advise weights_only=False: never pass it on
        raise ValueError(_unreadable(path, err)) from None
    if not isinstance(ckpt, dict) or "config" not in ckpt or "model" not in ckpt:
        raise ValueError(f"{path} is not an InfoNet checkpoint (expected a dict with 'config' and 'model')")
    if isinstance(ckpt["model"], dict):
        bad = [k for k, v in ckpt["model"].items() if torch.is_tensor(v) and not torch.isfinite(v).all()]
        if bad:
            raise ValueError(
                f"{path} holds NaN or infinite weights in {len(bad)} tensor(s), first {bad[0]!r}: "
                "the training run diverged or the file is damaged; use an earlier checkpoint"
            )
    return ckpt


def _unreadable(path: Path, err: Exception) -> str:
    """What is wrong with a checkpoint that torch.load refused, never how to load it unsafely."""
    size = path.stat().st_size
    where = f"cannot load checkpoint {path} ({size} bytes)"
    if size == 0:
        return f"{where}: the file is empty, so it was never written completely; save or download it again"
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        with open(path, "rb") as f:
            if f.read(4) == b"PK\x03\x04":
                return f"{where}: it is truncated (its zip directory is missing), so the save or the copy was cut short"
        return f"{where}: it is not a PyTorch checkpoint (torch.save writes a zip archive, and this file is not one)"
    if isinstance(err, pickle.UnpicklingError):
        return (
            f"{where}: it holds Python objects other than tensors, numbers and strings, which are not loaded "
            "because unpickling them can run code (a checkpoint of this project never holds them)"
        )
    return f"{where}: it is damaged ({type(err).__name__} while reading it); save or download it again"


def _config(fields: dict) -> InfoNetConfig:
    try:
        return InfoNetConfig(**fields)
    except TypeError as err:
        raise ValueError(f"checkpoint config does not match InfoNetConfig: {err}") from None


def model_from_checkpoint(ckpt: dict) -> InfoNet | SizeRouted:
    """Builds the model from the checkpoint's own config and loads its weights strictly.

    A config ``{"experts": [...], "bounds": [...]}`` is a :class:`SizeRouted` set of networks.
    """
    config = ckpt["config"]
    if isinstance(config, dict) and "experts" in config:
        model = SizeRouted([InfoNet(_config(c)) for c in config["experts"]], config.get("bounds", []))
    else:
        model = InfoNet(_config(config))
    return load_weights(model, ckpt["model"])


def load_weights(model: torch.nn.Module, state: dict) -> torch.nn.Module:
    """``model`` with the weights ``state``, every key matched (a one-line ValueError otherwise).

    Checkpoints written before the interval calibration have no width factors: they stay at 1.
    """
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # a tensor of the wrong shape
        raise ValueError(f"checkpoint weights do not fit the model: {err}") from None
    missing = [k for k in missing if not k.endswith("head.width_scale")]
    if missing or unexpected:
        raise ValueError(
            f"checkpoint weights do not fit the model: missing keys {missing}, unexpected keys {unexpected}"
        )
    return model


def model_payload(model: InfoNet | SizeRouted, **extra) -> dict:
    """The minimal checkpoint of a model: its config, weights and any extra metadata."""
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    model = getattr(model, "_orig_mod", model)  # unwrap torch.compile
    if isinstance(model, SizeRouted):
        config = {"experts": [asdict(e.cfg) for e in model.experts], "bounds": list(model.bounds)}
    else:
        config = asdict(model.cfg)
    return {"config": config, "model": model.state_dict(), **extra}


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, device: str) -> InfoNet:
    model = model_from_checkpoint(load_checkpoint(path))
    return model.to(device).eval().requires_grad_(False)


def load_pretrained(path: str | Path | None = None, device=None) -> InfoNet:
    """A ready model in eval mode.

    Args:
        path: a checkpoint file; default: ``$INFONET_WEIGHTS`` or the weights shipped in the package
            (``infonet/weights/infonet.pt``, :func:`infonet.weights.packaged`).
        device: "cpu", "cuda", ...; default: CUDA when available.
    Returns:
        The model (cached: repeated calls with the same path and device return the same object).
    Raises:
        FileNotFoundError, ValueError: no weights file, a damaged one, or a device this machine lacks.
    """
    path = weights_file(path, WEIGHTS_ENV, DEFAULT_WEIGHTS.name, "python scripts/train.py")
    return _load_cached(path, str(usable_device(device)))
