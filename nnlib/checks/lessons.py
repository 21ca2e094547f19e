"""Checks for the "Your turn" cells of lessons 01, 02 and 05 (not graded).

Each lesson asks for a few small functions right where their idea is taught; the cell after
each one calls ``report(check_x, your_function)``, which prints "passed" or what is wrong and
never raises, so Run All reaches the end of the lesson.

Lesson 01: ``check_center_rows``, ``check_weight_gradient``, ``check_two_layer_forward``.
Lesson 02: ``check_leaky_relu_slope``, ``check_log_sum_exp``, ``check_softmax_jacobian``.
Lesson 05: ``check_momentum_update``, ``check_sgd_weight_decay_step``,
``check_inverted_dropout``.

Expected values are computed with NumPy here and again in plain Python (``recheck``), so that a
replaced NumPy function is noticed rather than trusted.
"""

import math

import numpy as np

from nnlib.checks._core import check, quietly

__all__ = [
    "check_center_rows",
    "check_inverted_dropout",
    "check_leaky_relu_slope",
    "check_log_sum_exp",
    "check_momentum_update",
    "check_sgd_weight_decay_step",
    "check_softmax_jacobian",
    "check_two_layer_forward",
    "check_weight_gradient",
]

_asarray = np.asarray
_matmul = np.matmul
_exp = math.exp
_log = math.log


def _flat(values):
    return np.asarray(values, dtype=float).ravel().tolist()


def _py_matmul(A, B):
    """Rows of A (N, K) times columns of B (K, M), as nested Python lists."""
    B_rows = B.tolist()
    return [[sum(a_k * B_rows[k][m] for k, a_k in enumerate(row)) for m in range(len(B_rows[0]))]
            for row in A.tolist()]


# --- lesson 01 ----------------------------------------------------------------------------------

@check("center_rows", lesson="lesson 01")
def check_center_rows(t, center_rows):
    """Check M - (mean of each row), for M (N, D): every row of the result has mean 0."""
    for M in (t.rng.normal(size=(4, 3)) + 5.0, t.rng.normal(size=(3, 5))):
        label = f"center_rows(M) with M of shape {M.shape}"
        result = t.call(center_rows, M, label=label)
        result = t.array(result, label=label, shape=M.shape)
        row_means = [sum(row) / len(row) for row in M.tolist()]
        expected = M - M.mean(axis=1, keepdims=True)
        t.close(result, expected, label=label,
                recheck=[v - row_means[i] for i, row in enumerate(M.tolist()) for v in row],
                mistakes=[(quietly(lambda M=M: M - M.mean(axis=0)),
                           ("you subtracted each column's mean; the task is each row's "
                           "(axis=1, one mean per row).")),
                          (quietly(lambda M=M: M - M.mean()),
                           "you subtracted the mean of the whole array; use one mean per row.")],
                hint="Row i of the result is M[i] minus the mean of M[i]; "
                     "M.mean(axis=1, keepdims=True) is a (N, 1) column that broadcasts.")


@check("weight_gradient", lesson="lesson 01")
def check_weight_gradient(t, weight_gradient):
    """Check the sum over examples of the outer products x_n g_n^T, for X (N, D) and G (N, H)."""
    for N, D, H in ((6, 3, 2), (1, 4, 5)):
        X, G = t.rng.normal(size=(N, D)), t.rng.normal(size=(N, H))
        label = f"weight_gradient(X, G) with X {X.shape}, G {G.shape}"
        result = t.call(weight_gradient, X, G, label=label)
        result = t.array(result, label=label, shape=(D, H), shape_hints={
            (H, D): f"the result has one row per input feature: ({D}, {H}); "
                    f"did you compute G.T @ X?",
            (N, N): "X @ G.T pairs examples with examples; the sum over examples is X.T @ G."})
        plain = [sum(X[n, d] * G[n, h] for n in range(N)) for d in range(D) for h in range(H)]
        t.close(result, _matmul(X.T, G), label=label, recheck=plain,
                mistakes=[(quietly(lambda X=X, G=G, N=N: _matmul(X.T, G) / N),
                           "that is the mean; the task is the sum of the outer products.")],
                hint="Entry (d, h) is the sum over n of X[n, d] * G[n, h].")


@check("two_layer_forward", lesson="lesson 01")
def check_two_layer_forward(t, two_layer_forward):
    """Check (X @ W1 + b1) @ W2 + b2: (N, D) -> (N, H) -> (N, C)."""
    N, D, H, C = 5, 4, 3, 2
    X, W1, b1 = t.rng.normal(size=(N, D)), t.rng.normal(size=(D, H)), t.rng.normal(size=H)
    W2, b2 = t.rng.normal(size=(H, C)), t.rng.normal(size=C)
    label = (f"two_layer_forward(X, W1, b1, W2, b2) with X {X.shape}, W1 {W1.shape}, "
             f"b1 {b1.shape}, W2 {W2.shape}, b2 {b2.shape}")
    result = t.call(two_layer_forward, X, W1, b1, W2, b2, label=label,
                    error_hint="The first layer gives (N, D) @ (D, H) -> (N, H); that result "
                               "is the input of the second layer.")
    result = t.array(result, label=label, shape=(N, C))
    hidden = [[v + b1[h] for h, v in enumerate(row)] for row in _py_matmul(X, W1)]
    out = [[v + b2[c] for c, v in enumerate(row)]
           for row in _py_matmul(np.array(hidden), W2)]
    t.close(result, _matmul(_matmul(X, W1) + b1, W2) + b2, label=label,
            recheck=[v for row in out for v in row],
            mistakes=[(quietly(lambda: _matmul(_matmul(X, W1), W2) + b2),
                       "the first layer's bias b1 is missing."),
                      (quietly(lambda: _matmul(_matmul(X, W1) + b1, W2)),
                       "the second layer's bias b2 is missing.")],
            hint="Compute H = X @ W1 + b1 first, then H @ W2 + b2.")


# --- lesson 02 ----------------------------------------------------------------------------------

@check("leaky_relu_slope", lesson="lesson 02")
def check_leaky_relu_slope(t, leaky_relu_slope):
    """Check the derivative of leaky ReLU: 1 where z > 0, alpha where z <= 0 (also at 0)."""
    z = np.array([-3.0, -0.5, 0.0, 0.25, 4.0])
    for alpha in (0.1, 0.01):
        label = f"leaky_relu_slope(z, alpha={alpha}) with z = {z.tolist()}"
        result = t.call(leaky_relu_slope, z, alpha, label=label)
        result = t.array(result, label=label, shape=z.shape, kind="number")
        expected = [1.0 if v > 0 else alpha for v in z.tolist()]
        t.close(np.asarray(result, dtype=float), np.where(z > 0, 1.0, alpha), label=label,
                recheck=expected, show_input=z,
                mistakes=[(np.where(z > 0, z, alpha * z),
                           "that is leaky ReLU itself; the task is its slope (derivative)."),
                          (np.where(z >= 0, 1.0, alpha),
                           "at the kink z = 0 use the slope alpha, as nnlib does (z > 0 gives 1).")],
                hint="np.where(condition, value if true, value if false) picks per entry.")


@check("log_sum_exp", lesson="lesson 02")
def check_log_sum_exp(t, log_sum_exp):
    """Check log(sum(exp(z))) of a vector z, without overflow for logits of 1000."""
    cases = [np.array([2.0, 4.0, 6.0, 8.0]), np.array([1000.0, 1000.0]),
             np.array([-1000.0, -999.0]), t.rng.normal(size=6)]
    for z in cases:
        label = f"log_sum_exp(z) with z = {np.round(z, 3).tolist()}"
        result = t.call(log_sum_exp, z, label=label,
                        warning_hint="subtract the largest logit before exponentiating "
                                     "(lesson 02, section 6).")
        value = t.number(result, label=label,
                         nonfinite_hint="subtract the largest logit before exponentiating.")
        largest = max(z.tolist())
        plain = largest + _log(sum(_exp(v - largest) for v in z.tolist()))
        t.close(np.array(value), np.array(plain), label=label, recheck=[plain],
                mistakes=[(quietly(lambda z=z: np.log(np.sum(np.exp(z - z.max())))),
                           ("you dropped the shift: add the largest logit back, "
                           "m + log(sum(exp(z - m)))."))],
                hint="log sum exp(z) = m + log sum exp(z - m) for m = max(z).")


@check("jacobian_of_softmax", lesson="lesson 02")
def check_softmax_jacobian(t, jacobian_of_softmax):
    """Check J = diag(p) - p p^T, the Jacobian of softmax, from the probabilities p (C,)."""
    for logits in (np.array([2.0, 4.0, 6.0, 8.0]), t.rng.normal(size=3)):
        e = np.exp(logits - logits.max())
        p = e / e.sum()
        C = p.size
        label = f"jacobian_of_softmax(p) with p = {np.round(p, 4).tolist()}"
        result = t.call(jacobian_of_softmax, p, label=label)
        result = t.array(result, label=label, shape=(C, C),
                         shape_hints={(C,): "return the whole (C, C) matrix, not its diagonal."})
        plain = [(p[i] if i == j else 0.0) - p[i] * p[j] for i in range(C) for j in range(C)]
        t.close(result, np.diag(p) - np.outer(p, p), label=label, recheck=plain,
                mistakes=[(np.diag(p * (1 - p)),
                           "the off-diagonal entries -p_i p_j are missing."),
                          (np.outer(p, p) - np.diag(p), "the sign is reversed: diag(p) - p p^T."),
                          (np.diag(p) - p * p, ("p * p squares entrywise; the second term is "
                                               "the outer product np.outer(p, p)."))],
                hint="J[i, j] = p_i (delta_ij - p_j): np.diag(p) minus np.outer(p, p).")


# --- lesson 05 ----------------------------------------------------------------------------------

def _momentum_reference(theta, velocity, gradient, learning_rate, momentum):
    new_velocity = momentum * velocity - learning_rate * gradient
    return theta + new_velocity, new_velocity


@check("momentum_update", lesson="lesson 05")
def check_momentum_update(t, momentum_update):
    """Check one heavy-ball step: v <- mu v - eta g, theta <- theta + v; returns (theta, v)."""
    cases = [(np.array([1.0, -2.0]), np.array([0.5, 0.0]), np.array([0.2, -4.0]), 0.1, 0.9),
             (t.rng.normal(size=4), t.rng.normal(size=4), t.rng.normal(size=4), 0.05, 0.5)]
    for theta, velocity, gradient, learning_rate, momentum in cases:
        label = (f"momentum_update(theta, velocity, gradient, {learning_rate}, {momentum}) "
                 f"with theta = {np.round(theta, 3).tolist()}, velocity = "
                 f"{np.round(velocity, 3).tolist()}, gradient = {np.round(gradient, 3).tolist()}")
        result = t.call(momentum_update, theta, velocity, gradient, learning_rate, momentum,
                        label=label)
        if not isinstance(result, tuple) or len(result) != 2:
            t.fail(f"{label} must return two arrays, (new theta, new velocity); "
                   f"got {type(result).__name__}.")
        new_theta = t.array(result[0], label=label + ", new theta", shape=theta.shape)
        new_velocity = t.array(result[1], label=label + ", new velocity", shape=theta.shape)
        want_theta, want_velocity = _momentum_reference(theta, velocity, gradient,
                                                        learning_rate, momentum)
        plain_v = [momentum * v - learning_rate * g
                   for v, g in zip(velocity.tolist(), gradient.tolist())]
        t.close(new_velocity, want_velocity, label=label + ", new velocity", recheck=plain_v,
                mistakes=[(momentum * velocity + learning_rate * gradient,
                           "the gradient points uphill: subtract eta * g.")],
                hint="v_new = mu * v - eta * g.")
        t.close(new_theta, want_theta, label=label + ", new theta",
                recheck=[th + v for th, v in zip(theta.tolist(), plain_v)],
                mistakes=[(theta + velocity, "move theta by the NEW velocity, not the old one.")],
                hint="theta_new = theta + v_new.")


@check("sgd_weight_decay_step", lesson="lesson 05")
def check_sgd_weight_decay_step(t, sgd_weight_decay_step):
    """Check one SGD step on loss + (lambda / 2) |W|^2: W - eta (g + lambda W)."""
    for shape, learning_rate, strength in (((2, 3), 0.1, 0.01), ((4,), 0.5, 0.2)):
        W, g = t.rng.normal(size=shape), t.rng.normal(size=shape)
        label = (f"sgd_weight_decay_step(W, gradient, {learning_rate}, {strength}) "
                 f"with W of shape {shape}")
        result = t.call(sgd_weight_decay_step, W, g, learning_rate, strength, label=label)
        result = t.array(result, label=label, shape=shape)
        plain = [w - learning_rate * (gi + strength * w) for w, gi in zip(_flat(W), _flat(g))]
        t.close(result, W - learning_rate * (g + strength * W), label=label, recheck=plain,
                mistakes=[(W - learning_rate * g, "the penalty's gradient lambda * W is missing."),
                          (W - learning_rate * g - strength * W,
                           ("the penalty's gradient is scaled by the learning rate too: "
                           "W - eta * (g + lambda * W)."))],
                hint="The gradient of (lambda / 2) |W|^2 is lambda * W; add it to g.")


@check("inverted_dropout", lesson="lesson 05")
def check_inverted_dropout(t, inverted_dropout):
    """Check a * keep / (1 - p): dropped units 0, survivors scaled so the mean is unchanged."""
    for p in (0.5, 0.2):
        a = t.rng.normal(size=(3, 4))
        keep = t.rng.random(size=(3, 4)) >= p
        label = f"inverted_dropout(a, keep, p={p}) with a of shape {a.shape}"
        result = t.call(inverted_dropout, a, keep, p, label=label)
        result = t.array(result, label=label, shape=a.shape)
        plain = [(v / (1 - p) if k else 0.0) for v, k in zip(_flat(a), keep.ravel().tolist())]
        t.close(result, np.where(keep, a / (1 - p), 0.0), label=label, recheck=plain,
                mistakes=[(np.where(keep, a, 0.0),
                           ("the survivors must be divided by 1 - p, so that the expected "
                           "activation stays a.")),
                          (np.where(keep, a * (1 - p), 0.0),
                           "divide by 1 - p, do not multiply."),
                          (np.where(keep, a / p, 0.0), ("divide by the keep probability 1 - p, "
                                                       "not by p."))],
                hint="keep is True for the units that survive: a * keep / (1 - p).")
