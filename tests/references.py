"""Naive float64 NumPy references, written from the papers' equations.

Each one loops over the pairs (or the (map, field) terms) explicitly, so that it
shares no algebraic shortcut with the layers it checks.
"""

import numpy as np

ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
}


def _present(mask, batch, num_fields):
    if mask is None:
        return np.ones((batch, num_fields), dtype=bool)
    return np.asarray(mask) != 0


def fm_reference(embeddings, mask=None, reduce_sum=True):
    """Rendle (2010) Eq. (1), second-order part: sum_{i<j} <v_i, v_j>.

    With ``reduce_sum=False``: the bi-interaction vector sum_{i<j} v_i * v_j of
    He and Chua (2017), Eq. (4).
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    batch, num_fields, dim = embeddings.shape
    present = _present(mask, batch, num_fields)
    out = np.zeros((batch, dim))
    for b in range(batch):
        for i in range(num_fields):
            for j in range(i + 1, num_fields):
                if present[b, i] and present[b, j]:
                    for d in range(dim):
                        out[b, d] += embeddings[b, i, d] * embeddings[b, j, d]
    return out.sum(axis=1, keepdims=True) if reduce_sum else out


def ffm_reference(latent, mask=None):
    """Juan et al. (2016) Eq. (3): sum_{i<j} <w[i, field(j)], w[j, field(i)]>."""
    latent = np.asarray(latent, dtype=np.float64)
    batch, num_fields, _, dim = latent.shape
    present = _present(mask, batch, num_fields)
    out = np.zeros((batch, 1))
    for b in range(batch):
        for i in range(num_fields):
            for j in range(i + 1, num_fields):
                if present[b, i] and present[b, j]:
                    for d in range(dim):
                        out[b, 0] += latent[b, i, j, d] * latent[b, j, i, d]
    return out


def cin_reference(inputs, kernels, biases, activation, split_half, mask=None):
    """Lian et al. (2018) Eq. (6) with sum pooling (Eq. (7)).

    ``kernels[k][i, j, h]`` weighs map ``i`` of layer ``k - 1`` times input
    field ``j`` in map ``h`` of layer ``k``; ``biases[k]`` is None or ``(H_k,)``.
    With ``split_half``, every layer but the last sends its first half of maps
    on and its second half to the output (the reference code's convention).
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    batch, num_fields, dim = inputs.shape
    present = _present(mask, batch, num_fields)
    act = ACTIVATIONS[activation]
    rows = []
    for b in range(batch):
        if not present[b].any():
            width = sum(
                k.shape[2] // 2 if split_half and n < len(kernels) - 1 else k.shape[2]
                for n, k in enumerate(kernels)
            )
            rows.append(np.zeros(width))
            continue
        x0 = inputs[b] * present[b][:, None]  # a masked field is a zero vector
        previous = x0
        pooled = []
        for n, kernel in enumerate(kernels):
            maps_in, fields, maps_out = kernel.shape
            maps = np.zeros((maps_out, dim))
            for h in range(maps_out):
                for i in range(maps_in):
                    for j in range(fields):
                        for d in range(dim):
                            maps[h, d] += kernel[i, j, h] * previous[i, d] * x0[j, d]
                if biases[n] is not None:
                    maps[h] += biases[n][h]
            maps = act(maps)
            if split_half and n < len(kernels) - 1:
                previous, direct = maps[: maps_out // 2], maps[maps_out // 2 :]
            else:
                previous = direct = maps
            pooled.append(direct.sum(axis=1))
        rows.append(np.concatenate(pooled))
    return np.stack(rows)
