"""Train the multivariate InfoNet (X of dx, Y of dy dimensions, 1-32 each) on the vector prior.

    python scripts/train_vector.py --out-dir runs/vector --steps 40000 --max-minutes 30
    python scripts/train_vector.py --out-dir runs/vector --resume --max-minutes 30   # the next slice

Every option of infonet.vector_train.VectorTrainConfig is a flag (see --help); model options are --model.*.
"""

import logging

from infonet.cli import parse_options, run_cli
from infonet.vector_train import VectorTrainConfig, train_vector

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run_cli(train_vector, parse_options(VectorTrainConfig, description=__doc__.splitlines()[0]))
