"""What an exported model's ``serving_default`` signature takes and returns."""

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

SIGNATURE_FILE = "keras_fm_signature.json"
DTYPES = ("int32", "int64", "float32", "string")


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One named input of the serving signature.

    Attributes:
        name: the input's name (a feature, or a feature's weights).
        dtype: `"int32"`, `"int64"`, `"float32"` or `"string"`.
        is_list: False: one value per example, shape `(batch,)`. True: a list
            per example, shape `(batch, length)`, padded with ``pad_value``.
        pad_value: the padding of list inputs (padding carries no weight).
        mask_of: for a list of per-id weights: the list input whose padding
            marks the padding of this one.
    """

    name: str
    dtype: str
    is_list: bool = False
    pad_value: Any = None
    mask_of: str | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype of input {self.name!r} must be one of {DTYPES}")

    @property
    def numpy_dtype(self) -> Any:
        return object if self.dtype == "string" else np.dtype(self.dtype)


@dataclasses.dataclass(frozen=True)
class Signature:
    """The inputs and outputs of an exported model, for building requests.

    `keras_fm.export.export_saved_model` writes it next to the model, in
    ``assets.extra/keras_fm_signature.json``; `Signature.load` reads it back.

    Attributes:
        inputs: the `InputSpec` of every input, in order.
        outputs: output names (``prediction``, and ``logit`` for binary tasks).
    """

    inputs: tuple[InputSpec, ...]
    outputs: tuple[str, ...] = ("prediction",)

    def to_json(self) -> str:
        return json.dumps(
            {
                "inputs": [dataclasses.asdict(spec) for spec in self.inputs],
                "outputs": list(self.outputs),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> "Signature":
        config = json.loads(text)
        return cls(
            tuple(InputSpec(**spec) for spec in config["inputs"]),
            tuple(config["outputs"]),
        )

    @classmethod
    def load(cls, saved_model_dir: str | os.PathLike) -> "Signature":
        """The signature written with a SavedModel version directory."""
        path = os.path.join(saved_model_dir, "assets.extra", SIGNATURE_FILE)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path} does not exist: is {saved_model_dir} a version directory "
                "written by keras_fm.export.export_saved_model?"
            )
        with open(path, encoding="utf-8") as handle:
            return cls.from_json(handle.read())

    def batch(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """Stacks feature dicts into one array per input.

        Single values give `(batch,)` arrays; lists are padded with the
        input's ``pad_value`` to the longest list of the batch, giving
        `(batch, length)` arrays (at least length 1).

        Raises:
            ValueError: for an empty batch, or naming the row and input that
                is missing, or a list given for a single value (or the
                reverse).
        """
        if not rows:
            raise ValueError("A request needs at least one row.")
        arrays = {}
        for spec in self.inputs:
            values = []
            for index, row in enumerate(rows):
                if spec.name not in row:
                    raise ValueError(
                        f"Row {index} has no value for input {spec.name!r}. "
                        f"Inputs: {[s.name for s in self.inputs]}"
                    )
                value = row[spec.name]
                if isinstance(value, (list, tuple, np.ndarray)) != spec.is_list:
                    kind = "a list" if spec.is_list else "a single value"
                    raise ValueError(
                        f"Row {index}: input {spec.name!r} takes {kind}. "
                        f"Received: {value!r}"
                    )
                values.append(list(value) if spec.is_list else value)
            if spec.is_list:
                length = max(1, max(len(v) for v in values))
                values = [v + [spec.pad_value] * (length - len(v)) for v in values]
            arrays[spec.name] = np.array(values, dtype=spec.numpy_dtype)
        return arrays
