"""Ready models of the FM family, one builder each, built from feature specs."""

from keras_fm.defaults import (
    EMBEDDING_DIM,
    MODEL_DEFAULTS,
    TRAINING_DEFAULTS,
    training_defaults,
)
from keras_fm.models.afm import build_afm
from keras_fm.models.autoint import build_autoint, build_autoint_plus
from keras_fm.models.deepfm import build_deepfm
from keras_fm.models.ffm import build_ffm
from keras_fm.models.fm import build_fm
from keras_fm.models.hofm import build_hofm
from keras_fm.models.inputs import feature_inputs, model_inputs
from keras_fm.models.nfm import build_nfm
from keras_fm.models.output_range import OutputRange
from keras_fm.models.sparse_fm import build_sparse_fm
from keras_fm.models.tasks import (
    DENSE_UPDATE_ENTRIES,
    STEPS_PER_EXECUTION,
    TASKS,
    compile_for_task,
    default_optimizer,
    model_task,
    table_entries,
    task_loss,
    task_metrics,
    xla_by_default,
)
from keras_fm.models.xdeepfm import build_xdeepfm

BUILDERS = {
    "fm": build_fm,
    "ffm": build_ffm,
    "deepfm": build_deepfm,
    "xdeepfm": build_xdeepfm,
    "afm": build_afm,
    "autoint": build_autoint,
    "autoint+": build_autoint_plus,
    "nfm": build_nfm,
    "hofm": build_hofm,
}

__all__ = [
    "BUILDERS",
    "DENSE_UPDATE_ENTRIES",
    "EMBEDDING_DIM",
    "MODEL_DEFAULTS",
    "STEPS_PER_EXECUTION",
    "TASKS",
    "TRAINING_DEFAULTS",
    "OutputRange",
    "build_afm",
    "build_autoint",
    "build_autoint_plus",
    "build_deepfm",
    "build_ffm",
    "build_fm",
    "build_hofm",
    "build_nfm",
    "build_sparse_fm",
    "build_xdeepfm",
    "compile_for_task",
    "default_optimizer",
    "feature_inputs",
    "model_inputs",
    "model_task",
    "table_entries",
    "task_loss",
    "task_metrics",
    "training_defaults",
    "xla_by_default",
]
