"""Labels, splits and mini-batches: one_hot, train_val_split, iterate_minibatches (lesson 04).

Batch-first, like the rest of nnlib: ``X`` has one row per example, ``y`` shape ``(N,)``.
Importable from ``nnlib.data``.
"""

import numpy as np


def require_rng(rng, function):
    """Raise a helpful error unless rng is a np.random.Generator (also used by the toy sets)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{function} needs a random generator, e.g. "
                        f"rng=np.random.default_rng(0); got {rng!r}")


def one_hot(y, n_classes=None, dtype=np.float32):
    """Integer labels (N,) -> one-hot rows (N, C): row i is all zeros except a 1 at y[i].

    ``n_classes`` (C) defaults to max(y) + 1; pass it when a batch may lack the last classes.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"one_hot expects labels of shape (N,), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"one_hot expects integer class labels, got dtype {y.dtype}; if they "
                         f"are whole numbers stored as floats, use y.astype(int)")
    if n_classes is None:
        if y.size == 0:
            raise ValueError("one_hot cannot guess n_classes from no labels; pass n_classes")
        n_classes = int(y.max()) + 1
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    out_of_range = (y < 0) | (y >= n_classes)
    if out_of_range.any():
        index = int(np.argmax(out_of_range))
        raise ValueError(f"label y[{index}] = {y[index]} is outside 0..{n_classes - 1} "
                         f"(n_classes = {n_classes})")
    encoded = np.zeros((len(y), n_classes), dtype=dtype)
    encoded[np.arange(len(y)), y] = 1
    return encoded


def _check_same_length(X, y):
    if len(X) != len(y):
        raise ValueError(f"X and y must have one row per example, but X has {len(X)} rows "
                         f"and y has {len(y)}")


def train_val_split(X, y, val_fraction=0.1, rng=None):
    """Split (X, y) into training and validation sets with the same class proportions.

    Stratified: from each class, round(count * val_fraction) randomly chosen examples go to the
    validation set, so every class keeps its share. Both parts come out shuffled.

    Returns X_train, X_val, y_train, y_val (the order of scikit-learn's train_test_split).
    """
    require_rng(rng, "train_val_split")
    X, y = np.asarray(X), np.asarray(y)
    _check_same_length(X, y)
    if y.ndim != 1:
        raise ValueError(f"train_val_split expects labels of shape (N,), got {y.shape}; "
                         f"for one-hot labels pass y.argmax(axis=1)")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie between 0 and 1, got {val_fraction!r}")
    val_parts = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        val_parts.append(members[:round(len(members) * val_fraction)])
    is_val = np.zeros(len(y), dtype=bool)
    is_val[np.concatenate(val_parts)] = True
    train = rng.permutation(np.flatnonzero(~is_val))
    val = rng.permutation(np.flatnonzero(is_val))
    return X[train], X[val], y[train], y[val]


def iterate_minibatches(X, y, batch_size, rng=None, shuffle=True):
    """Yield (X_batch, y_batch) pairs that cover the data once (one epoch).

    Batches hold ``batch_size`` rows; the last one holds the rest and may be smaller. With
    shuffle=True (the default) the rows come in a new random order drawn from ``rng``;
    shuffle=False keeps their order.
    """
    X, y = np.asarray(X), np.asarray(y)
    _check_same_length(X, y)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if shuffle:
        if rng is None:
            raise ValueError("shuffle=True needs a random generator: pass "
                             "rng=np.random.default_rng(seed), or shuffle=False")
        require_rng(rng, "iterate_minibatches")
        order = rng.permutation(len(X))
    else:
        order = np.arange(len(X))
    return _batches(X, y, order, batch_size)


def _batches(X, y, order, batch_size):
    """The generator behind iterate_minibatches (kept apart so that bad arguments fail at once)."""
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        yield X[rows], y[rows]
