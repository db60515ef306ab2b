"""Naive float64 NumPy references, written from the papers' equations.

Each one loops over the pairs (or the (map, field) terms) explicitly, so that it
shares no algebraic shortcut with the layers it checks.
"""

import itertools

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


def anova_reference(inputs, degree, mask=None, reduce_sum=True):
    """Blondel et al. (2016) Eq. (4): the explicit sum over all m-subsets."""
    inputs = np.asarray(inputs, dtype=np.float64)
    batch, num_fields, dim = inputs.shape
    present = _present(mask, batch, num_fields)
    out = np.zeros((batch, dim))
    for b in range(batch):
        for subset in itertools.combinations(range(num_fields), degree):
            if all(present[b, i] for i in subset):
                out[b] += np.prod(inputs[b, list(subset)], axis=0)
    return out.sum(axis=1, keepdims=True) if reduce_sum else out


def afm_reference(inputs, kernel, bias, projection_h, projection_p, mask=None):
    """Xiao et al. (2017) Eqs. (3)-(5), pair by pair; ``projection_p`` None: pooled."""
    inputs = np.asarray(inputs, dtype=np.float64)
    batch, num_fields, dim = inputs.shape
    present = _present(mask, batch, num_fields)
    rows = []
    for b in range(batch):
        products, logits = [], []
        for i in range(num_fields):
            for j in range(i + 1, num_fields):
                if present[b, i] and present[b, j]:
                    product = inputs[b, i] * inputs[b, j]
                    products.append(product)
                    logits.append(
                        np.maximum(product @ kernel + bias, 0.0) @ projection_h
                    )
        pooled = np.zeros(dim)
        if products:
            weights = np.exp(np.array(logits) - max(logits))
            weights /= weights.sum()
            pooled = sum(w * p for w, p in zip(weights, products, strict=True))
        rows.append(pooled if projection_p is None else [pooled @ projection_p])
    return np.array(rows)


def interacting_reference(
    inputs, wq, wk, wv, wres, num_heads, use_scale, mask=None, norm=None
):
    """Song et al. (2019) Eqs. (5)-(8), field by field and head by head.

    ``norm``: optional ``(gamma, beta)`` of a layer norm before the ReLU.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    batch, num_fields, _ = inputs.shape
    head_dim = wq.shape[1] // num_heads
    present = _present(mask, batch, num_fields)
    out = np.zeros((batch, num_fields, num_heads * head_dim))
    for b in range(batch):
        for i in range(num_fields):
            if not present[b, i]:
                continue
            for h in range(num_heads):
                cols = slice(h * head_dim, (h + 1) * head_dim)
                q = inputs[b, i] @ wq[:, cols]
                scores, values = [], []
                for j in range(num_fields):
                    if present[b, j]:
                        score = q @ (inputs[b, j] @ wk[:, cols])
                        scores.append(score / np.sqrt(head_dim) if use_scale else score)
                        values.append(inputs[b, j] @ wv[:, cols])
                weights = np.exp(np.array(scores) - max(scores))
                weights /= weights.sum()
                out[b, i, cols] = sum(
                    w * v for w, v in zip(weights, values, strict=True)
                )
            if wres is not None:
                out[b, i] += inputs[b, i] @ wres
            if norm is not None:
                centered = out[b, i] - out[b, i].mean()
                scaled = centered / np.sqrt((centered**2).mean() + 1e-5)
                out[b, i] = scaled * norm[0] + norm[1]
            out[b, i] = np.maximum(out[b, i], 0.0)
    return out
