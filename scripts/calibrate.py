"""Calibrate the 90 % intervals of trained InfoNet weights (per sample size, see infonet.calibration).

    python scripts/calibrate.py --weights runs/main/best.pt --out infonet/weights/infonet.pt --overwrite
    python scripts/calibrate.py --weights runs/small/best.pt infonet/weights/infonet.pt runs/large/best.pt \
        --bounds 54 300 --out infonet/weights/infonet.pt --overwrite

    python scripts/calibrate.py --vector --weights runs/vector/best.pt --out infonet/weights/infonet_vector.pt
    python scripts/calibrate.py --vector --weights runs/vector-short/best.pt runs/vector/best.pt \
        --out infonet/weights/infonet_vector.pt --overwrite
    python scripts/calibrate.py --vector --weights runs/vector-short/best.pt runs/vector/best.pt \
        runs/vector-long/last.pt --max-lens 0 512 0 --out infonet/weights/infonet_vector.pt --overwrite

With --vector, the multivariate network (scripts/train_vector.py) is calibrated on fresh draws of the
vector prior instead, each network on its own domain; several --weights make one domain-routed model
(infonet.vector_model.DomainRouted, narrowest first: a pass goes to the first whose dimensions and
sample sizes hold it, the last answers every pass; --max-lens narrows a network's sizes, so that a
network for long samples can follow one that answers the shorter). Several --weights with --bounds make one size-routed model (infonet.SizeRouted): the first answers
n < bounds[0], the next up to bounds[1], and so on. Reads --weights, fits the quantile head's width
factors on fresh draws of the training prior at n = 16 ... 4096, prints coverage before and after
per n, and writes the weights with the factors to --out (a new file; an existing one only with
--overwrite, written atomically).
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from infonet.calibration import MAX_MI, Calibration, calibrate_intervals, calibrate_vector_intervals
from infonet.checkpoint import load_checkpoint, model_from_checkpoint, model_payload, save_checkpoint
from infonet.cli import check_number, parse_options, run_cli
from infonet.model import SizeRouted
from infonet.vector_estimate import vector_model_from_checkpoint
from infonet.vector_model import DomainRouted
from infonet.vector_train import vector_payload
from segmentation.progress import progress_bar


@dataclass
class CalibrateOptions:
    weights: tuple[str, ...] = field(
        default=("infonet/weights/infonet.pt",), metadata={"help": "the trained checkpoint(s) to calibrate"}
    )
    bounds: tuple[int, ...] = field(
        default=(), metadata={"help": "with several --weights: the sample sizes at which the next one takes over"}
    )
    out: str = field(default="", metadata={"help": "where to write the calibrated weights (.pt)"})
    pairs: int = field(default=2048, metadata={"help": "prior draws per sample size"})
    mc_samples: int = field(default=16384, metadata={"help": "Monte-Carlo samples of each draw's true MI"})
    max_mi: float = field(default=MAX_MI, metadata={"help": "calibrate on draws of true MI up to this (nats)"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing --out file"})
    vector: bool = field(default=False, metadata={"help": "the weights are the multivariate network's"})
    max_lens: tuple[int, ...] = field(
        default=(),
        metadata={"help": "with --vector: the longest samples each network answers (0: as trained), one per --weights"},
    )


def main(opts: CalibrateOptions) -> None:
    if not opts.out:
        raise ValueError("--out is required (the file the calibrated weights go to)")
    check_number("--pairs", opts.pairs, low=100, why="a 5 % tail needs a few hundred pairs")
    check_number("--mc-samples", opts.mc_samples, low=1000)
    check_number("--max-mi", opts.max_mi, low=0.1)
    sources, out = [Path(w) for w in opts.weights], Path(opts.out)
    for source in sources:
        if not source.is_file():
            raise FileNotFoundError(f"--weights {source}: no such file")
    if opts.vector and opts.bounds:
        raise ValueError("--bounds is for the 1-D networks; the multivariate ones route by their own domains")
    if opts.max_lens and (not opts.vector or len(opts.max_lens) != len(sources)):
        raise ValueError(f"--max-lens is for --vector, one per --weights ({len(sources)}), got {len(opts.max_lens)}")
    if not opts.vector and len(opts.bounds) != len(sources) - 1:
        raise ValueError(f"{len(sources)} --weights need {len(sources) - 1} --bounds, got {len(opts.bounds)}")
    if out.exists() and not opts.overwrite:
        raise FileExistsError(f"--out {out} exists; pass --overwrite to replace it")
    ckpts = [load_checkpoint(source) for source in sources]
    fits = (
        _calibrate_vector(ckpts, sources, out, opts) if opts.vector else [_calibrate_scalar(ckpts, sources, out, opts)]
    )
    for source, fit in zip(sources if len(fits) > 1 else [None], fits, strict=True):
        _print_fit(fit, source)
    print(f"wrote {out} ({opts.pairs} prior draws per size)")


def _calibrate_scalar(ckpts, sources, out: Path, opts: CalibrateOptions) -> Calibration:
    models = [model_from_checkpoint(ckpt).eval() for ckpt in ckpts]
    if len(models) > 1:
        model = SizeRouted(models, list(opts.bounds)).eval()  # refuses unordered bounds
        extra = {"experts_from": [str(s) for s in sources], "steps": [c.get("step") for c in ckpts]}
    else:
        model = models[0]
        extra = {k: v for k, v in ckpts[0].items() if k not in ("config", "model")}
    with progress_bar("calibrating", unit="size") as progress:
        fit = calibrate_intervals(
            model, pairs=opts.pairs, mc_samples=opts.mc_samples, max_mi=opts.max_mi, progress=progress
        )
    save_checkpoint(out, model_payload(model, **extra, calibration=fit.rows()))  # written atomically
    return fit


def _calibrate_vector(ckpts, sources, out: Path, opts: CalibrateOptions) -> list[Calibration]:
    models = [vector_model_from_checkpoint(ckpt).eval() for ckpt in ckpts]
    if any(isinstance(m, DomainRouted) for m in models):
        raise ValueError("--vector --weights: pass the trained networks one by one, not a routed set")
    for source, model, max_len in zip(sources, models, opts.max_lens, strict=False):
        if max_len and not 16 <= max_len <= model.cfg.max_len:
            raise ValueError(f"--max-lens {max_len} for {source}: it answers 16 to {model.cfg.max_len} samples")
        model.cfg.max_len = max_len or model.cfg.max_len
    # refuses a set whose last network does not answer every domain, before any calibration runs
    routed = DomainRouted(models) if len(models) > 1 else None
    fits = []
    for source, model in zip(sources, models, strict=True):
        with progress_bar(f"calibrating {source.name}", unit="size") as progress:
            fits.append(calibrate_vector_intervals(model, pairs=opts.pairs, progress=progress))
    if routed is not None:
        extra = {"experts_from": [str(s) for s in sources], "steps": [c.get("step") for c in ckpts]}
        save_checkpoint(out, vector_payload(routed, **extra, calibration=[f.rows() for f in fits]))
    else:
        extra = {"step": ckpts[0].get("step"), "trained_from": str(sources[0])}
        save_checkpoint(out, vector_payload(models[0], **extra, calibration=fits[0].rows()))  # written atomically
    return fits


def _print_fit(fit: Calibration, source: Path | None) -> None:
    if source is not None:
        print(source)
    print(f"{'n':>6} {'scale low':>10} {'scale high':>11} {'coverage before':>16} {'after':>7}")
    for row in fit.rows():
        print(
            f"{row['n']:>6} {row['scale_low']:>10.3f} {row['scale_high']:>11.3f} "
            f"{row['coverage_before']:>16.3f} {row['coverage_after']:>7.3f}"
        )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_cli(main, parse_options(CalibrateOptions, description=__doc__.splitlines()[0]))
