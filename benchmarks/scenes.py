"""The six development scenes s0-s5: the generated sequences the discovery defaults were chosen on.

Each is ``scripts/make_sequence.py`` (``datasets.synthetic``) with the options of ``RECIPE``:
120 frames of 960 x 540, 1,024 exact tracks, 3-5 objects (object 0 articulated), some with a convoy
(object 1 follows object 0's path), perspective (sizes follow depth) or the ``wander`` motion,
all under a panning and zooming camera. The second generator (``benchmarks.articulated``) is the
held-out check; these are what the README's first discovery row and docs/video.md's tables read.

    python -m benchmarks.scenes --out runs/scenes              # s0-s5, about 5 s each on 2 cores
    python -m benchmarks.features --data runs/scenes --estimators infonet,pearson --features xy+xy-velocity --step 4
"""

from __future__ import annotations

import argparse
from pathlib import Path

from infonet.cli import check_out_dir
from segmentation._imports import datasets

__all__ = ["RECIPE", "generate_scene"]

# (seed, objects, motion, convoy, perspective) of s0, s1, ...
RECIPE = (
    (100, 4, "sweep", True, True),
    (101, 3, "wander", False, True),
    (102, 5, "sweep", True, False),
    (103, 3, "wander", True, True),
    (104, 4, "sweep", False, True),
    (105, 5, "wander", True, True),
)


def generate_scene(out_dir, k: int, *, num_frames: int = 120, overwrite: bool = False) -> Path:
    """Write scene ``s{k}`` of ``RECIPE`` to ``out_dir``, the sequence ``make_sequence.py`` writes with its options
    (its seed and asset names in ``scene_info.json``)."""
    seed, objects, motion, convoy, perspective = RECIPE[k]
    return datasets.generate_sequence(
        out_dir,
        seed=seed,
        num_frames=num_frames,
        num_objects=objects,
        motion=motion,
        convoy=convoy,
        perspective=perspective,
        overwrite=overwrite,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the scenes s0, s1, ...")
    parser.add_argument("--scenes", type=int, default=len(RECIPE), help=f"the first scenes of RECIPE (1-{len(RECIPE)})")
    parser.add_argument("--frames", type=int, default=120, help="frames per scene (the README's rows: 120)")
    parser.add_argument("--overwrite", action="store_true", help="replace the scenes' files in non-empty folders")
    args = parser.parse_args(argv)
    if not 1 <= args.scenes <= len(RECIPE):
        parser.error(f"--scenes must be 1-{len(RECIPE)}; got {args.scenes}")
    try:
        for k in range(args.scenes):  # every folder checked before the first scene is written
            check_out_dir(Path(args.out) / f"s{k}", overwrite=args.overwrite)  # names --overwrite
        for k in range(args.scenes):
            out = generate_scene(Path(args.out) / f"s{k}", k, num_frames=args.frames, overwrite=args.overwrite)
            seed, objects, motion, convoy, perspective = RECIPE[k]
            extras = [name for name, on in (("convoy", convoy), ("perspective", perspective)) if on]
            print(f"{out}: {objects} objects, {motion}{''.join(', ' + e for e in extras)} (seed {seed})")
    except (ValueError, OSError) as err:
        parser.exit(2, f"error: {err}\n")


if __name__ == "__main__":
    main()
