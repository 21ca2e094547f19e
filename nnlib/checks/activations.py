"""Checks for exercise set ex02_activations (lesson 02).

One check per graded function: ``check_sigmoid``, ``check_sigmoid_derivative``,
``check_softmax``, ``check_cross_entropy``, ``check_softmax_cross_entropy_gradient`` and
``check_numerical_gradient``. Each runs seeded inputs of its own; ``cases=[...]`` replaces them
(the hidden tests pass other shapes, float32 and extreme values that way).

Every expected value comes from nnlib (``nnlib.activations``, ``nnlib.losses``,
``nnlib.gradcheck``) and is computed again in plain Python, so that a replaced reference is
noticed rather than trusted.
"""

import math

import numpy as np

import nnlib.activations
import nnlib.gradcheck
import nnlib.losses
from nnlib.activations import sigmoid as _reference_sigmoid
from nnlib.activations import softmax as _reference_softmax
from nnlib.checks._core import check, describe, guard, quietly
from nnlib.gradcheck import numerical_gradient as _reference_numerical_gradient
from nnlib.losses import cross_entropy as _reference_cross_entropy

__all__ = [
    "check_cross_entropy",
    "check_numerical_gradient",
    "check_sigmoid",
    "check_sigmoid_derivative",
    "check_softmax",
    "check_softmax_cross_entropy_gradient",
]

guard(nnlib.activations, ["sigmoid", "softmax", "sigmoid_derivative"], "nnlib.activations")
guard(nnlib.losses, ["cross_entropy"], "nnlib.losses")
guard(nnlib.gradcheck, ["numerical_gradient"], "nnlib.gradcheck")

_exp = math.exp
_log = math.log
_asarray = np.asarray

OVERFLOW_HINT = "only exponentiate non-positive numbers (lesson 02, section 3)"
MAX_SHIFT_HINT = ("subtract each row's maximum before exponentiating, "
                  "Z - Z.max(axis=1, keepdims=True) (lesson 02, section 6)")
KEEPDIMS_HINT = ("Row maxima and row sums need keepdims=True: as (N, 1) columns they broadcast "
                 "against the (N, C) batch, as (N,) vectors they do not (lesson 01, section 4).")
EXTREME_Z = [-1e4, -1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0, 1e4]


# --- plain-Python references (the second opinion) -----------------------------------------------

def _py_sigmoid(v):
    if v >= 0:
        return 1.0 / (1.0 + _exp(-v))
    u = _exp(v)
    return u / (1.0 + u)


def _py_softmax_rows(rows):
    result = []
    for row in rows:
        top = max(row)
        exponentials = [_exp(v - top) for v in row]
        total = sum(exponentials)
        result.append([e / total for e in exponentials])
    return result


def _flat(nested):
    return [v for row in nested for v in row]




# --- sigmoid ------------------------------------------------------------------------------------

def _sigmoid_cases(t):
    return [t.rng.normal(0.0, 3.0, size=(5, 4)), -1000.0, 1000.0, np.array(EXTREME_Z)]


@check("sigmoid", lesson="lesson 02")
def check_sigmoid(t, sigmoid, cases=None):
    """Check sigmoid(z) = 1 / (1 + exp(-z)) on a batch, on +-1000 and on |z| up to 1e4."""
    for z in cases if cases is not None else _sigmoid_cases(t):
        _sigmoid_case(t, sigmoid, z)


def _sigmoid_case(t, sigmoid, z):
    z_array = _asarray(z)
    result = t.call(sigmoid, z, warning_hint=OVERFLOW_HINT)
    label = f"sigmoid({describe(z)})"
    result = t.array(result, label=label, shape=z_array.shape,
                     nonfinite_hint="Infinity or nan means the exponential overflowed: "
                                    + OVERFLOW_HINT)
    t.close(result, _reference_sigmoid(z_array), label=label, show_input=z_array,
            recheck=[_py_sigmoid(v) for v in z_array.reshape(-1).tolist()],
            mistakes=[
                (quietly(lambda: 1 / (1 + np.exp(z_array))),
                 ("you computed 1 / (1 + exp(+z)), which is sigmoid(-z): mind the sign of "
                 "the exponent (lesson 02, section 2).")),
                (quietly(lambda: np.tanh(z_array)),
                 "that is tanh(z), not the sigmoid."),
            ])


# --- its derivative -----------------------------------------------------------------------------

@check("sigmoid_derivative", lesson="lesson 02")
def check_sigmoid_derivative(t, sigmoid_derivative, cases=None):
    """Check sigma'(z) = sigma(z) (1 - sigma(z)), taking the pre-activation z."""
    default = [t.rng.normal(0.0, 3.0, size=(4, 6)), np.array(EXTREME_Z)]
    for z in cases if cases is not None else default:
        _sigmoid_derivative_case(t, sigmoid_derivative, z)


def _sigmoid_derivative_case(t, sigmoid_derivative, z):
    z_array = _asarray(z)
    label = f"sigmoid_derivative({describe(z)})"
    result = t.call(sigmoid_derivative, z, warning_hint=OVERFLOW_HINT)
    result = t.array(result, label=label, shape=z_array.shape,
                     nonfinite_hint="compute sigma(z) with a stable sigmoid first.")
    s = _reference_sigmoid(z_array)
    t.close(result, s * (1 - s), label=label, show_input=z_array,
            recheck=[_py_sigmoid(v) * (1 - _py_sigmoid(v))
                     for v in z_array.reshape(-1).tolist()],
            mistakes=[
                (quietly(lambda: z_array * (1 - z_array)),
                 ("you applied a (1 - a) to z itself. The function takes the pre-activation "
                 "z: compute a = sigmoid(z) first, then a * (1 - a) (lesson 02, section 2).")),
                (s, ("that is sigmoid(z) itself; its derivative is sigmoid(z) * (1 - "
                    "sigmoid(z)).")),
                (quietly(lambda: s * (1 - s) * z_array),
                 "the derivative has no extra factor z: sigma'(z) = sigma(z)(1 - sigma(z))."),
            ])


# --- softmax ------------------------------------------------------------------------------------

def _softmax_mistakes(Z):
    def columns_instead_of_rows(result):
        rows = result.sum(axis=1)
        columns = result.sum(axis=0)
        if not np.all(np.abs(rows - 1) < 1e-6) and np.all(np.abs(columns - 1) < 1e-6):
            return ("your rows do not sum to 1 (columns do): use axis=1 / keepdims=True, "
                    "so that each example (row) gets its own probabilities.")
        return None

    def whole_batch(result):
        if abs(float(result.sum()) - 1) < 1e-6 and Z.shape[0] > 1:
            return ("all entries together sum to 1: you normalised over the whole batch. "
                    "Sum each row separately: axis=1, keepdims=True.")
        return None

    exponentials = quietly(lambda: np.exp(Z - Z.max(axis=1, keepdims=True)))
    return [columns_instead_of_rows, whole_batch,
            (quietly(lambda: exponentials / exponentials.sum(axis=1)),
             ("you divided by the row sums without keepdims=True, so the (N,) sums were "
             "broadcast along the rows, not the columns: use .sum(axis=1, keepdims=True)."))]


@check("softmax", lesson="lesson 02")
def check_softmax(t, softmax, cases=None):
    """Check the row-wise softmax of a batch (N, C), also with logits of +-1000."""
    default = [t.rng.normal(0.0, 2.0, size=(4, 3)),
               np.array([[1000.0, 1000.0, 0.0], [-1000.0, 0.0, 1000.0], [1.0, 2.0, 3.0],
                         [-1000.0, -1000.0, -999.0]])]
    for Z in cases if cases is not None else default:
        _softmax_case(t, softmax, _asarray(Z))


def _softmax_case(t, softmax, Z):
    label = f"softmax({describe(Z)})"
    result = t.call(softmax, Z, warning_hint=MAX_SHIFT_HINT, error_hint=KEEPDIMS_HINT)
    result = t.array(result, label=label, shape=Z.shape,
                     shape_hints={(Z.shape[0],): "softmax returns one probability per "
                                                 "entry, not one number per row"},
                     nonfinite_hint="exp of a large logit overflowed: " + MAX_SHIFT_HINT)
    t.close(result, _reference_softmax(Z, axis=1), label=label,
            recheck=_flat(_py_softmax_rows(Z.tolist())), mistakes=_softmax_mistakes(Z),
            hint="Each row must be exp(z) / sum(exp(z)) over that row (lesson 02, section 5).")


# --- cross-entropy ------------------------------------------------------------------------------

def _py_cross_entropy(P, y):
    total = 0.0
    for row, label in zip(P.tolist(), y.tolist()):
        total -= _log(min(max(row[label], 1e-7), 1.0))
    return total / len(y)


def _cross_entropy_cases(t):
    logits = t.rng.normal(0.0, 2.0, size=(6, 4))
    P = _reference_softmax(logits, axis=1)
    y = t.rng.integers(0, 4, size=6)
    certain = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    return [(P, y), (certain, np.array([1, 0, 2]))]


@check("cross_entropy", lesson="lesson 02")
def check_cross_entropy(t, cross_entropy, cases=None):
    """Check the mean cross-entropy of probabilities P (N, C) against class ids y (N,)."""
    for P, y in cases if cases is not None else _cross_entropy_cases(t):
        _cross_entropy_case(t, cross_entropy, _asarray(P), _asarray(y))


def _cross_entropy_case(t, cross_entropy, P, y):
    N = len(y)
    label = f"cross_entropy(P, y) with P {describe(P)} and y {describe(y)}"
    result = t.call(cross_entropy, P, y,
                    warning_hint="clip the probabilities into [1e-7, 1] before taking the "
                                 "log: np.clip(P, 1e-7, 1) (lesson 02, section 8)")
    value = t.number(result, label=label,
                     shape_hints={(N,): "that is one loss per example: return their mean "
                                        "over the batch, a single number"},
                     nonfinite_hint="log(0) is -inf: clip the probabilities into [1e-7, 1] "
                                    "before taking the log (lesson 02, section 8)")
    expected = _reference_cross_entropy(P, y)
    picked = np.clip(P[np.arange(N), y], 1e-7, 1.0)
    t.close(np.array(value), np.array(expected), label=label, rtol=1e-6, atol=1e-6,
            recheck=[_py_cross_entropy(P, y)],
            mistakes=[
                (-np.sum(np.log(picked)),
                 ("that is the sum over the batch: divide by N (the mean), as the loss of "
                 "a batch is the average loss of its examples.")),
                (np.mean(np.log(picked)),
                 ("the sign is wrong: the loss is -log p of the true class, a positive "
                 "number.")),
                (quietly(lambda: -np.mean(np.log(np.clip(P, 1e-7, 1)))),
                 ("you averaged log p over every entry; only the probability of the true "
                 "class counts: P[np.arange(N), y].")),
                (quietly(lambda: -np.mean(np.log(np.clip(P[:, y], 1e-7, 1)))),
                 ("P[:, y] picks an N x N block; pick one entry per row with "
                 "P[np.arange(N), y].")),
            ],
            hint="The loss is -1/N * sum_n log P[n, y[n]], with P clipped into [1e-7, 1] "
                 "(lesson 02, section 8).")


# --- the fused gradient -------------------------------------------------------------------------

def _py_softmax_ce_gradient(Z, y):
    probabilities = _py_softmax_rows(Z.tolist())
    N = len(probabilities)
    return [(p - (1.0 if c == label else 0.0)) / N
            for row, label in zip(probabilities, y.tolist()) for c, p in enumerate(row)]


@check("softmax_cross_entropy_gradient", lesson="lesson 02")
def check_softmax_cross_entropy_gradient(t, softmax_cross_entropy_gradient, cases=None):
    """Check dL/dZ = (softmax(Z) - onehot(y)) / N for a batch of logits Z (N, C)."""
    default = [(t.rng.normal(0.0, 2.0, size=(5, 3)), t.rng.integers(0, 3, size=5)),
               (np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]]), np.array([2, 1]))]
    for Z, y in cases if cases is not None else default:
        _gradient_case(t, softmax_cross_entropy_gradient, _asarray(Z), _asarray(y))


def _gradient_case(t, softmax_cross_entropy_gradient, Z, y):
    N, C = Z.shape
    label = f"softmax_cross_entropy_gradient(Z, y) with Z {describe(Z)}"
    result = t.call(softmax_cross_entropy_gradient, Z, y, warning_hint=MAX_SHIFT_HINT,
                    error_hint=KEEPDIMS_HINT)
    result = t.array(result, label=label, shape=Z.shape,
                     shape_hints={(C, N): "the gradient has the shape of Z: (N, C)"},
                     nonfinite_hint="the softmax overflowed: " + MAX_SHIFT_HINT)
    P = _reference_softmax(Z, axis=1)
    onehot = np.zeros_like(P)
    onehot[np.arange(N), y] = 1
    t.close(result, (P - onehot) / N, label=label,
            recheck=_py_softmax_ce_gradient(Z, y),
            mistakes=[
                (P - onehot, ("missing 1/N: the loss is a mean over the batch, so its "
                             "gradient is (p - onehot) / N (lesson 02, section 8).")),
                ((onehot - P) / N, "the sign is flipped: the gradient is p - onehot."),
                (quietly(lambda: (Z - onehot) / N),
                 ("you used the logits Z in place of the probabilities: apply the softmax "
                 "first, p = softmax(Z).")),
                (quietly(lambda: (_reference_softmax(Z, axis=0) - onehot) / N),
                 "the softmax went over the wrong axis: each row (axis=1) must sum to 1."),
            ],
            hint="The gradient is (softmax(Z) - onehot(y)) / N (lesson 02, section 8).")


# --- numerical gradient -------------------------------------------------------------------------

def _test_function(x):
    """f(x) = sum(x^3) + sum(sin(x)): a scalar with a known gradient 3 x^2 + cos(x)."""
    return float(np.sum(x ** 3) + np.sum(np.sin(x)))


@check("numerical_gradient", lesson="lesson 02")
def check_numerical_gradient(t, numerical_gradient, cases=None):
    """Check central differences (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for every entry."""
    default = [(_test_function, t.rng.normal(size=(3, 4)), None),
               (_test_function, t.rng.normal(size=5), 1e-2)]
    for f, x, eps in cases if cases is not None else default:
        _numerical_gradient_case(t, numerical_gradient, f, _asarray(x, dtype=np.float64), eps)


def _numerical_gradient_case(t, numerical_gradient, f, x, eps):
    args = (f, x) if eps is None else (f, x, eps)
    step = 1e-5 if eps is None else eps
    label = (f"numerical_gradient(f, x) with x {describe(x)}" if eps is None else
             f"numerical_gradient(f, x, eps={eps}) with x {describe(x)}")
    result = t.call(numerical_gradient, *args,
                    changed_input_hint="after nudging an entry of x, put its original value "
                                       "back, so x is unchanged when you return.")
    result = t.array(result, label=label, shape=x.shape,
                     shape_hints={(x.size,): "the gradient has the shape of x; build it "
                                             "with np.zeros_like(x)"})
    expected = _reference_numerical_gradient(f, x.copy(), eps=step)
    recheck = []
    flat = x.reshape(-1).tolist()
    for i in range(len(flat)):
        up, down = list(flat), list(flat)
        up[i] += step
        down[i] -= step
        recheck.append((f(np.array(up).reshape(x.shape))
                        - f(np.array(down).reshape(x.shape))) / (2 * step))
    forward = np.zeros_like(x)
    for position in np.ndindex(*x.shape):
        nudged = x.copy()
        nudged[position] += step
        forward[position] = (f(nudged) - f(x)) / step
    t.close(result, expected, label=label, rtol=1e-7, atol=1e-9, recheck=recheck,
            mistakes=[
                (forward, ("that is the forward difference (f(x + eps) - f(x)) / eps; use "
                          "the central difference (f(x + eps) - f(x - eps)) / (2 eps), whose "
                          "error shrinks like eps^2 (lesson 02, section 9).")),
                (expected * 2, "divide by 2 eps, the distance between x + eps and x - eps."),
                (quietly(lambda: _reference_numerical_gradient(
                    f, x.copy(), eps=1e-6)),
                 "you ignored the eps argument: nudge by the eps you are given."),
            ],
            hint="Nudge each entry x[i] by +eps and -eps in turn (np.ndindex(x.shape) "
                 "visits every index), keep the others fixed, and restore x[i] afterwards.")
