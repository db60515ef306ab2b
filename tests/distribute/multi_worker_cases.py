"""Training under `tf.distribute.MultiWorkerMirroredStrategy`, run by each
worker of a cluster (``TF_CONFIG`` set, one CPU replica per worker):
``python -m tests.distribute.multi_worker_cases CASE ...``, with the cases of
`tests.distribute.mirrored_cases` (``model:optimizer`` and ``defaults``).

Every worker runs every case (the strategy's collectives need all of them)
and prints one JSON line per case; each writes its files to a temporary
folder of its own, as the Keras multi-worker guide does.
"""

import json
import sys
import tempfile
from pathlib import Path

import tensorflow as tf

from tests.distribute.mirrored_cases import defaults, exactness


def main(cases):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any op
    for case in cases:
        if case == "defaults":
            with tempfile.TemporaryDirectory() as folder:
                result = defaults(strategy, Path(folder))
        else:
            name, optimizer = case.split(":")
            result = exactness(name, optimizer, strategy)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
