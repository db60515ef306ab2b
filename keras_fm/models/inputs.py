"""Keras inputs for a list of feature specs."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.features import Feature

LIST_INPUTS = ("ragged", "dense")


def feature_inputs(
    features: Sequence[Feature], list_inputs: str = "ragged"
) -> dict[str, Any]:
    """One named `keras.Input` per feature (and per weight feature).

    Single-valued and numeric features take `(batch, 1)`; multivalent ones
    take `(batch, None)` lists, ragged (what the readers yield) or dense and
    padded with the spec's ``pad_value`` (what serving and TFLite take).

    Args:
        features: the specs.
        list_inputs: `"ragged"` or `"dense"`, for multivalent features.
            Defaults to `"ragged"`.

    Returns:
        dict from input name to `keras.Input`.
    """
    if list_inputs not in LIST_INPUTS:
        raise ValueError(
            f"`list_inputs` must be one of {LIST_INPUTS}. Received: {list_inputs!r}"
        )
    ragged = list_inputs == "ragged"
    inputs = {}
    shape: tuple[int | None, ...]
    for feature in features:
        if feature.multivalent:
            shape, is_ragged = (None,), ragged or None
        else:
            shape, is_ragged = (1,), None
        inputs[feature.name] = keras.Input(
            shape, dtype=feature.input_dtype, ragged=is_ragged, name=feature.name
        )
        if feature.weight_feature is not None:
            inputs[feature.weight_feature] = keras.Input(
                shape, dtype="float32", ragged=is_ragged, name=feature.weight_feature
            )
    return inputs


def model_inputs(inputs: dict[str, Any]) -> list[Any]:
    """The inputs of `feature_inputs` as the list a `keras.Model` should take.

    A functional model built on a dict of inputs matches a dict it is called
    with by position whenever the keys differ (Keras only warns), so a batch
    with one extra column, such as a label or an id kept in the features,
    would feed each input the wrong feature. Built on a list of named inputs,
    the model picks each input from a dict by its name, ignores extra keys
    and rejects a dict that lacks one of its inputs.

    Args:
        inputs: dict from input name to `keras.Input`, as `feature_inputs`
            returns.

    Returns:
        The inputs as a list, in the dict's order.
    """
    return list(inputs.values())
