"""Train InfoNet on fresh random Gaussian mixtures.

    python scripts/train.py --out-dir runs/infonet --steps 20000
    python scripts/train.py --out-dir runs/infonet --resume --max-minutes 9     # continue a run
    torchrun --nproc_per_node 2 scripts/train.py --out-dir runs/ddp            # DistributedDataParallel

Every option of infonet.train.TrainConfig is a flag (see --help); model options are --model.*.
"""

import logging

from infonet.cli import parse_options, run_cli
from infonet.train import TrainConfig, train

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run_cli(train, parse_options(TrainConfig, description=__doc__.splitlines()[0]))
