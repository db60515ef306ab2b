"""The layer checklist of STYLE.md, written once and run for every layer.

A layer's test module subclasses `LayerChecklist` (pytest collects the
subclass because its name starts with ``Test``) and supplies:

- ``layer_cls`` and ``configs``: the class and a list of constructor kwargs,
  each run through every check;
- ``input_shape(num_fields, dim)``: the input shape without the batch axis,
  and ``field_axes``: the axes of the inputs that index fields;
- ``reference(layer, inputs, mask)``: the float64 NumPy reference, reading the
  layer's weights where it has any;
- ``delete_fields(layer, keep)``: a layer equal to ``layer`` on inputs whose
  fields not in ``keep`` were deleted (weights sliced where it has any).
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

FIELD_COUNTS = (1, 2, 5, 13)
EMBEDDING_DIMS = (1, 4, 8)
MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")
BATCH = 4


def randomize_weights(layer, seed=0, scale=0.5):
    """Sets every weight (biases included) to non-zero normal values."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [
            rng.normal(0.0, scale, size=w.shape).astype(w.dtype)
            for w in layer.get_weights()
        ]
    )


def random_mask(rng, batch, num_fields):
    """A (batch, fields) float mask with a full row, an empty row and random rows."""
    mask = (rng.random((batch, num_fields)) < 0.6).astype("float32")
    mask[0] = 1.0
    if batch > 1:
        mask[1] = 0.0
    return mask


def run_fresh_python(script, cwd):
    """Runs ``script`` in a new interpreter and returns its stdout."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


class LayerChecklist:
    layer_cls: type
    configs: tuple
    field_axes: tuple = (1,)
    keeps_field_axis: bool = (
        False  # outputs one vector per field (and passes the mask on)
    )

    # --- hooks supplied by each layer's test class --------------------------

    def input_shape(self, num_fields, dim):
        raise NotImplementedError

    def reference(self, layer, inputs, mask=None):
        raise NotImplementedError

    def delete_fields(self, layer, keep):
        raise NotImplementedError

    # --- helpers -------------------------------------------------------------

    def make_inputs(self, num_fields=5, dim=4, batch=BATCH, seed=0, dtype="float32"):
        rng = np.random.default_rng(seed)
        shape = (batch, *self.input_shape(num_fields, dim))
        return rng.normal(0.0, 1.0, size=shape).astype(dtype)

    def make_layer(self, config, num_fields=5, dim=4, seed=0, **overrides):
        layer = self.layer_cls(**{**config, **overrides})
        layer.build((None, *self.input_shape(num_fields, dim)))
        randomize_weights(layer, seed=seed)
        return layer

    def functional_model(self, layer, num_fields, dim, with_mask=True):
        inputs = keras.Input(self.input_shape(num_fields, dim), name="embeddings")
        if not with_mask:
            return keras.Model(inputs, layer(inputs))
        mask = keras.Input((num_fields,), name="mask")
        return keras.Model([inputs, mask], layer(inputs, mask=mask))

    # --- reference equivalence ----------------------------------------------

    @pytest.mark.parametrize("num_fields", FIELD_COUNTS)
    @pytest.mark.parametrize("dim", EMBEDDING_DIMS)
    def test_matches_reference_float64(self, num_fields, dim):
        for index, config in enumerate(self.configs):
            layer = self.make_layer(
                config, num_fields, dim, seed=index, dtype="float64"
            )
            inputs = self.make_inputs(num_fields, dim, seed=index, dtype="float64")
            actual = keras.ops.convert_to_numpy(layer(inputs))
            expected = self.reference(layer, inputs)
            assert actual.shape == expected.shape
            np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10)

    @pytest.mark.parametrize("num_fields", (2, 13))
    def test_matches_reference_float32(self, num_fields):
        for index, config in enumerate(self.configs):
            layer = self.make_layer(config, num_fields, 8, seed=index)
            inputs = self.make_inputs(num_fields, 8, seed=index)
            actual = keras.ops.convert_to_numpy(layer(inputs))
            expected = self.reference(layer, inputs)
            assert actual.dtype == np.float32
            scale = 1.0 + np.abs(expected).max()
            np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale)

    def test_nonzero_output(self):
        """Guards the reference checks against a trivially zero layer."""
        layer = self.make_layer(self.configs[0], 5, 4)
        actual = keras.ops.convert_to_numpy(layer(self.make_inputs(5, 4)))
        assert np.all(np.abs(actual.reshape(BATCH, -1)).sum(axis=1) > 1e-3)

    # --- compilation and gradients ------------------------------------------

    def test_jit_compile_matches_eager(self):
        for config in self.configs:
            layer = self.make_layer(config, 5, 4)
            inputs = self.make_inputs(5, 4)
            mask = random_mask(np.random.default_rng(1), BATCH, 5)
            eager = layer(inputs, mask=mask)
            jitted = tf.function(lambda x, m, f=layer: f(x, mask=m), jit_compile=True)
            np.testing.assert_allclose(
                jitted(inputs, mask), eager, rtol=1e-5, atol=1e-5
            )

    def test_gradients_are_finite(self):
        for config in self.configs:
            layer = self.make_layer(config, 5, 4)
            inputs = tf.constant(self.make_inputs(5, 4))
            mask = random_mask(np.random.default_rng(2), BATCH, 5)
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                loss = tf.reduce_sum(tf.square(layer(inputs, mask=mask)))
            grads = tape.gradient(loss, [inputs, *layer.trainable_weights])
            for grad in grads:
                assert np.all(np.isfinite(grad))
            # Rows with at least one pair present get a gradient.
            assert np.abs(grads[0][0]).sum() > 0
            # A fully masked row gets none.
            np.testing.assert_array_equal(grads[0][1], 0.0)

    def test_graph_size_does_not_grow_with_fields(self):
        """No Python loop over fields or pairs: the traced graph has a fixed size."""
        sizes = []
        for num_fields in (3, 13):
            layer = self.make_layer(self.configs[0], num_fields, 4)
            spec = tf.TensorSpec((None, *self.input_shape(num_fields, 4)), "float32")
            graph = tf.function(layer).get_concrete_function(spec).graph
            sizes.append(len(graph.get_operations()))
        assert sizes[0] == sizes[1]

    # --- masking --------------------------------------------------------------

    def test_mask_matches_reference(self):
        for index, config in enumerate(self.configs):
            layer = self.make_layer(config, 6, 4, seed=index, dtype="float64")
            inputs = self.make_inputs(6, 4, batch=8, seed=index, dtype="float64")
            mask = random_mask(np.random.default_rng(index), 8, 6)
            actual = keras.ops.convert_to_numpy(layer(inputs, mask=mask))
            np.testing.assert_allclose(
                actual, self.reference(layer, inputs, mask), rtol=1e-10, atol=1e-10
            )

    def test_masked_fields_equal_deleted_fields(self):
        for index, config in enumerate(self.configs):
            layer = self.make_layer(config, 6, 4, seed=index)
            inputs = self.make_inputs(6, 4, batch=8, seed=index)
            mask = random_mask(np.random.default_rng(index), 8, 6)
            masked = keras.ops.convert_to_numpy(layer(inputs, mask=mask.astype(bool)))
            for row in range(8):
                keep = np.flatnonzero(mask[row])
                if keep.size == 0:
                    np.testing.assert_array_equal(masked[row], 0.0)
                    continue
                smaller = self.delete_fields(layer, keep)
                kept = inputs[row : row + 1]
                for axis in self.field_axes:
                    kept = np.take(kept, keep, axis=axis)
                expected = keras.ops.convert_to_numpy(smaller(kept))[0]
                actual = masked[row]
                if self.keeps_field_axis:
                    dropped = np.setdiff1d(np.arange(mask.shape[1]), keep)
                    np.testing.assert_array_equal(actual[dropped], 0.0)
                    actual = actual[keep]
                np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)

    def test_boolean_and_numeric_masks_agree(self):
        layer = self.make_layer(self.configs[0], 5, 4)
        inputs = self.make_inputs(5, 4)
        mask = random_mask(np.random.default_rng(3), BATCH, 5)
        np.testing.assert_allclose(
            layer(inputs, mask=mask.astype(bool)),
            layer(inputs, mask=mask.astype("int32") * 7),
        )

    def test_mask_of_wrong_shape_raises(self):
        layer = self.make_layer(self.configs[0], 5, 4)
        with pytest.raises(ValueError, match="field mask of shape"):
            layer(self.make_inputs(5, 4), mask=np.ones((BATCH, 4), dtype=bool))

    def test_output_mask(self):
        """Layers that reduce the field axis drop the mask; the others pass it on."""
        layer = self.layer_cls(**self.configs[0])
        inputs = self.make_inputs(5, 4)
        mask = np.ones((BATCH, 5), dtype=bool)
        if self.keeps_field_axis:
            assert layer.compute_mask(inputs, mask) is mask
        else:
            assert layer.compute_mask(inputs, mask) is None

    # --- dtype policies -------------------------------------------------------

    @pytest.mark.parametrize("policy", MIXED_POLICIES)
    def test_mixed_precision(self, policy):
        for index, config in enumerate(self.configs):
            reference_layer = self.make_layer(config, 5, 4, seed=index)
            layer = self.make_layer(config, 5, 4, seed=index, dtype=policy)
            assert all(w.dtype == "float32" for w in layer.weights)
            inputs = self.make_inputs(5, 4, seed=index)
            expected = keras.ops.convert_to_numpy(reference_layer(inputs))
            outputs = layer(keras.ops.cast(inputs, layer.compute_dtype))
            assert keras.backend.standardize_dtype(outputs.dtype) == layer.compute_dtype
            actual = keras.ops.convert_to_numpy(keras.ops.cast(outputs, "float32"))
            scale = 1.0 + np.abs(expected).max()
            np.testing.assert_allclose(actual, expected, rtol=2e-2, atol=2e-2 * scale)

    def test_mixed_precision_symbolic_dtype(self):
        layer = self.layer_cls(**self.configs[0], dtype="mixed_float16")
        outputs = layer(keras.Input(self.input_shape(5, 4), dtype="float16"))
        assert outputs.dtype == "float16"

    # --- Keras plumbing ---------------------------------------------------------

    def test_config_round_trips_through_json(self):
        for config in self.configs:
            layer = self.layer_cls(**config)
            revived = self.layer_cls.from_config(
                json.loads(json.dumps(layer.get_config()))
            )
            assert revived.get_config() == layer.get_config()
            assert set(dir(revived)) == set(dir(layer))
            shape = (None, *self.input_shape(5, 4))
            layer.build(shape)
            revived.build(shape)
            assert [w.shape for w in revived.weights] == [
                w.shape for w in layer.weights
            ]

    def test_registered_serialization(self):
        layer = self.layer_cls(**self.configs[0])
        serialized = keras.saving.serialize_keras_object(layer)
        assert serialized["registered_name"] == f"keras_fm>{self.layer_cls.__name__}"
        revived = keras.saving.deserialize_keras_object(
            json.loads(json.dumps(serialized))
        )
        assert type(revived) is self.layer_cls

    def test_symbolic_output_shape(self):
        for config in self.configs:
            layer = self.layer_cls(**config)
            outputs = layer(keras.Input(self.input_shape(5, 4), batch_size=3))
            eager = layer(self.make_inputs(5, 4, batch=3))
            assert tuple(outputs.shape) == tuple(eager.shape)
            assert outputs.dtype == "float32"
            assert layer.compute_output_shape((3, *self.input_shape(5, 4))) == tuple(
                eager.shape
            )

    def test_one_fit_step(self):
        keras.utils.set_random_seed(0)
        layer = self.layer_cls(**self.configs[0])
        model = keras.Sequential(
            [
                keras.Input(self.input_shape(5, 4)),
                layer,
                keras.layers.Flatten(),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        before = [w.numpy().copy() for w in layer.trainable_weights]
        history = model.fit(
            self.make_inputs(5, 4, batch=16),
            np.ones((16, 1), dtype="float32"),
            epochs=1,
            batch_size=16,
            verbose=0,
        )
        assert np.isfinite(history.history["loss"][0])
        for old, new in zip(before, layer.trainable_weights, strict=True):
            assert not np.allclose(old, new.numpy())

    def test_keras_file_round_trip(self, tmp_path):
        for config in self.configs:
            layer = self.make_layer(config, 5, 4)
            model = self.functional_model(layer, 5, 4)
            inputs = [
                self.make_inputs(5, 4),
                random_mask(np.random.default_rng(4), BATCH, 5),
            ]
            path = tmp_path / "model.keras"
            model.save(path)
            revived = keras.saving.load_model(path)  # no custom_objects
            revived_layer = revived.get_layer(layer.name)
            assert type(revived_layer) is self.layer_cls
            assert revived_layer.get_config() == layer.get_config()
            np.testing.assert_allclose(
                revived.predict(inputs, verbose=0),
                model.predict(inputs, verbose=0),
                rtol=1e-6,
                atol=1e-6,
            )

    # --- export -----------------------------------------------------------------

    @pytest.mark.slow
    def test_saved_model_in_fresh_process(self, tmp_path):
        layer = self.make_layer(self.configs[0], 5, 4)
        model = self.functional_model(layer, 5, 4)
        inputs = self.make_inputs(5, 4, batch=6)
        mask = random_mask(np.random.default_rng(5), 6, 5)
        expected = model.predict([inputs, mask], verbose=0)
        model.export(str(tmp_path / "saved_model"), verbose=False)
        np.save(tmp_path / "inputs.npy", inputs)
        np.save(tmp_path / "mask.npy", mask)
        run_fresh_python(
            """
            import sys
            import numpy as np
            import tensorflow as tf

            loaded = tf.saved_model.load("saved_model")
            inputs, mask = np.load("inputs.npy"), np.load("mask.npy")
            np.save("served.npy", loaded.serve([inputs, mask]).numpy())
            assert not any(name.startswith("keras_fm") for name in sys.modules)
            """,
            cwd=tmp_path,
        )
        np.testing.assert_allclose(
            np.load(tmp_path / "served.npy"), expected, rtol=1e-5, atol=1e-5
        )

    @pytest.mark.slow
    def test_tflite_builtin_ops_only(self, tmp_path):
        from ai_edge_litert.interpreter import Interpreter

        layer = self.make_layer(self.configs[0], 5, 4)
        model = self.functional_model(layer, 5, 4)
        inputs = self.make_inputs(5, 4, batch=6)
        mask = random_mask(np.random.default_rng(6), 6, 5)
        expected = model.predict([inputs, mask], verbose=0)
        path = str(tmp_path / "model.tflite")
        model.export(
            path,
            format="litert",
            verbose=False,
            target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]},
        )
        interpreter = Interpreter(model_path=path)
        runner = interpreter.get_signature_runner("serving_default")
        served = runner(embeddings=inputs, mask=mask)
        (actual,) = served.values()
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
