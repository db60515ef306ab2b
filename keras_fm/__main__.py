"""``python -m keras_fm`` runs the ``keras-fm`` command."""

import sys

from keras_fm.cli import main

sys.exit(main())
