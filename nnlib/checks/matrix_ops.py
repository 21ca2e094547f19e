"""Checks for exercise set ex01_matrix_ops (lesson 01).

``check_dense_forward``, ``check_pairwise_squared_distances``, ``check_standardize_columns`` and
``check_one_hot``. Each runs seeded inputs of its own; ``cases=[...]`` replaces them (the
hidden tests pass other shapes, float32 and edge cases that way).

Expected values come from NumPy or nnlib and are computed again in plain Python, so that a
replaced reference is noticed rather than trusted.
"""

import numpy as np

import nnlib.data
from nnlib.checks._core import check, describe, guard, quietly
from nnlib.data import one_hot as _reference_one_hot

__all__ = [
    "check_dense_forward",
    "check_one_hot",
    "check_pairwise_squared_distances",
    "check_standardize_columns",
]

guard(nnlib.data, ["one_hot"], "nnlib.data")

_asarray = np.asarray
_matmul = np.matmul




# --- plain-Python references --------------------------------------------------------------------

def _py_dense(X, W, b):
    W_rows, b_row = W.tolist(), b.tolist()
    return [sum(x_d * W_rows[d][h] for d, x_d in enumerate(row)) + b_row[h]
            for row in X.tolist() for h in range(len(b_row))]


def _py_pairwise(A, B):
    return [sum((a_d - b_d) ** 2 for a_d, b_d in zip(a, b)) for a in A.tolist() for b in B.tolist()]


def _py_standardize(X):
    rows = X.tolist()
    n = len(rows)
    columns = list(zip(*rows)) if rows else []
    scaled = []
    for column in columns:
        mean = sum(column) / n
        std = (sum((v - mean) ** 2 for v in column) / n) ** 0.5
        scaled.append([(v - mean) / std if std > 0 else 0.0 for v in column])
    return [scaled[j][i] for i in range(n) for j in range(len(columns))]


def _py_one_hot(y, n_classes):
    return [1.0 if c == label else 0.0 for label in y.tolist() for c in range(n_classes)]


# --- dense_forward ------------------------------------------------------------------------------

def _dense_cases(t):
    X = t.rng.normal(size=(6, 4))
    W = t.rng.normal(size=(4, 3))
    b = t.rng.normal(size=3)
    return [(X, W, b), (X[:1], W, b)]


@check("dense_forward", lesson="lesson 01")
def check_dense_forward(t, dense_forward, cases=None):
    """Check X @ W + b for a batch X (N, D), weights W (D, H) and a bias b (H,)."""
    for X, W, b in cases if cases is not None else _dense_cases(t):
        _dense_case(t, dense_forward, _asarray(X), _asarray(W), _asarray(b))


def _dense_case(t, dense_forward, X, W, b):
    N, H = X.shape[0], W.shape[1]
    label = f"dense_forward(X, W, b) with X {X.shape}, W {W.shape}, b {b.shape}"
    result = t.call(dense_forward, X, W, b, label=label,
                    error_hint=("The shapes line up as (N, D) @ (D, H) -> (N, H): X @ W, then "
                                "+ b, broadcast over the rows (lesson 01, section 6)."))
    result = t.array(result, label=label, shape=(N, H), shape_hints={
        (H, N): f"shape ({N}, {H}) is one row per example; did you transpose W (W.T @ X.T)?",
        (N, W.shape[0]): "did you add b to X instead of to X @ W?",
    })
    t.close(result, _matmul(X, W) + b, label=label, recheck=_py_dense(X, W, b),
            mistakes=[
                (_matmul(X, W), "you forgot to add the bias b."),
                (quietly(lambda: _matmul(X, W.T) + b),
                 "you multiplied by W.T; with W of shape (D, H), X @ W is already (N, H)."),
                (quietly(lambda: _matmul(X, W) - b), "add b, do not subtract it."),
                (quietly(lambda: X @ W + b[:, None]),
                 "b is added to every row: X @ W + b, without reshaping b."),
            ],
            hint="Row n of the result is X[n] @ W + b (lesson 01, section 6).")


# --- pairwise_squared_distances -----------------------------------------------------------------

@check("pairwise_squared_distances", lesson="lesson 01")
def check_pairwise_squared_distances(t, pairwise_squared_distances, cases=None):
    """Check D[i, j] = sum_d (A[i, d] - B[j, d])^2 for A (N, D), B (M, D), without loops."""
    t.no_loops(pairwise_squared_distances,
               "compute all pairs at once by broadcasting A[:, None, :] against B[None, :, :] "
               "(lesson 01, section 4).")
    default = [(t.rng.normal(size=(5, 3)), t.rng.normal(size=(4, 3))),
               (t.rng.normal(size=(2, 6)), t.rng.normal(size=(7, 6)))]
    for A, B in cases if cases is not None else default:
        _pairwise_case(t, pairwise_squared_distances, _asarray(A), _asarray(B))


def _pairwise_case(t, pairwise_squared_distances, A, B):
    N, M = A.shape[0], B.shape[0]
    label = f"pairwise_squared_distances(A, B) with A {A.shape}, B {B.shape}"
    result = t.call(pairwise_squared_distances, A, B, label=label,
                    error_hint=("Give A an axis of length 1 (A[:, None, :], shape (N, 1, D)) "
                                "and B one in front (B[None, :, :], shape (1, M, D)): the "
                                "difference broadcasts to (N, M, D) (lesson 01, section 4)."))
    result = t.array(result, label=label, shape=(N, M), shape_hints={
        (M, N): f"rows follow A and columns follow B: the result is ({N}, {M}).",
        (N, M, A.shape[1]): "sum the squared differences over the last axis (axis=-1).",
        (N,): "that is one number per row of A; keep one per pair (i, j).",
    })
    difference = A[:, None, :] - B[None, :, :]
    squared = np.sum(difference * difference, axis=-1)
    # |a|^2 - 2 a.b + |b|^2 cancels digits: allow rounding relative to the squared norms.
    norms = float(max(np.max(np.sum(A * A, axis=1), initial=0.0),
                      np.max(np.sum(B * B, axis=1), initial=0.0), 1.0))
    single = np.float32 in (A.dtype, B.dtype, result.dtype)
    t.close(result, squared, label=label, recheck=_py_pairwise(A, B),
            rtol=1e-5 if single else 1e-7, atol=(1e-6 if single else 1e-12) * norms,
            mistakes=[
                (np.sqrt(squared), ("those are the distances; return their squares (no square "
                                   "root).")),
                (quietly(lambda: squared + 2 * _matmul(A, B.T)
                                 - _matmul(A, B.T)),
                 "the cross term of |a - b|^2 = |a|^2 - 2 a.b + |b|^2 needs the factor 2."),
                (quietly(lambda: np.sum(difference, axis=-1) ** 2),
                 "square each difference before summing over the features, not the sum."),
            ],
            hint="Entry (i, j) is the sum over d of (A[i, d] - B[j, d])^2.")


# --- standardize_columns ------------------------------------------------------------------------

def _reference_standardize(X):
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    safe = np.where(std > 0, std, 1.0)
    return np.where(std > 0, (X - mean) / safe, 0.0)


def _standardize_cases(t):
    X = t.rng.normal(size=(8, 3)) * np.array([1.0, 10.0, 0.1]) + np.array([0.0, 5.0, -3.0])
    with_constant = X.copy()
    with_constant[:, 1] = 7.0
    return [X, with_constant]


@check("standardize_columns", lesson="lesson 01")
def check_standardize_columns(t, standardize_columns, cases=None):
    """Check (X - column mean) / column std, with constant columns left at 0."""
    for X in cases if cases is not None else _standardize_cases(t):
        _standardize_case(t, standardize_columns, _asarray(X))


def _standardize_case(t, standardize_columns, X):
    label = f"standardize_columns(X) with X {describe(X)}"
    result = t.call(standardize_columns, X, label=label,
                    warning_hint=("a constant column has standard deviation 0: leave it at 0 "
                                  "instead of dividing by 0 (e.g. np.where(std > 0, std, 1))."))
    result = t.array(result, label=label, shape=X.shape,
                     nonfinite_hint=("a constant column has standard deviation 0: leave that "
                                     "column at 0 instead of dividing by 0."))
    deviations = X - X.mean(axis=0)
    t.close(result, _reference_standardize(X), label=label, recheck=_py_standardize(X),
            atol=1e-9,
            mistakes=[
                (quietly(lambda: _reference_standardize(X.T).T),
                 ("you standardised the rows; each column (axis=0) must get mean 0 and "
                 "standard deviation 1.")),
                (quietly(lambda: np.where(X.std(axis=0) > 0,
                                                  deviations / X.std(axis=0, ddof=1), 0.0)),
                 ("you divided by the sample standard deviation (ddof=1); use np.std's "
                 "default, ddof=0.")),
                (quietly(lambda: deviations), ("you only subtracted the mean; also divide "
                                                   "by each column's standard deviation.")),
                (quietly(lambda: np.where(X.std(axis=0) > 0,
                                                  deviations / X.var(axis=0), 0.0)),
                 "divide by the standard deviation, not by the variance."),
                (quietly(lambda: (X - X.mean()) / X.std()),
                 ("use the mean and standard deviation of each column (axis=0), not of the "
                 "whole array.")),
            ],
            hint="Column j becomes (X[:, j] - its mean) / its standard deviation "
                 "(lesson 01, section 1: axes have jobs).")


# --- one_hot ------------------------------------------------------------------------------------

@check("one_hot", lesson="lesson 01")
def check_one_hot(t, one_hot, cases=None):
    """Check one-hot rows (N, n_classes) built by indexing, for labels that skip classes."""
    t.no_loops(one_hot, "set all the ones in one step by indexing: "
                        "result[np.arange(N), y] = 1.")
    default = [(np.array([2, 0, 1, 2, 4]), 6), (t.rng.integers(0, 10, size=12), 10)]
    for y, n_classes in cases if cases is not None else default:
        _one_hot_case(t, one_hot, _asarray(y), n_classes)


def _one_hot_case(t, one_hot, y, n_classes):
    N = len(y)
    label = f"one_hot(y, {n_classes}) with y {describe(y)}"
    result = t.call(one_hot, y, n_classes, label=label)
    largest = int(y.max()) + 1 if N else 0
    result = t.array(result, label=label, shape=(N, n_classes), kind="number", shape_hints={
        (n_classes, N): f"one row per label: the result is ({N}, {n_classes}).",
        (N, largest): "the number of columns is n_classes, not y.max() + 1 (a batch may "
                      "lack the last classes).",
    })
    t.close(result, _reference_one_hot(y, n_classes), label=label, rtol=0.0, atol=0.0,
            recheck=_py_one_hot(y, n_classes),
            mistakes=[
                (quietly(lambda: 1 - _reference_one_hot(y, n_classes)),
                 "zeros and ones are swapped: start from np.zeros and set the ones."),
                (quietly(lambda: np.eye(n_classes)[np.arange(N) % n_classes]),
                 "row n must have its 1 in column y[n]."),
            ],
            hint="Row n is all zeros except a 1 in column y[n].")
