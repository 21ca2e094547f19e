"""Activation functions and their derivatives, written to be numerically stable.

An activation is applied element by element to a layer's pre-activation ``z`` (for softmax:
row by row). Lesson 02 derives every formula here and shows why the "obvious" versions break:
``naive_sigmoid(-1000)`` overflows, ``exp(1000)`` in a naive softmax is ``inf``.

Conventions
-----------
* Every function accepts an array of any shape (or a Python number) and keeps float32 inputs in
  float32; integer inputs are computed in float64.
* Each ``*_derivative`` takes the **pre-activation z** (not the activation a), because that is
  what you have at hand when you study the function on its own. The layers in ``nnlib.layers``
  reuse the cached activation instead when it is cheaper, e.g. sigma'(z) = a (1 - a).
"""

import numpy as np


def _as_float_array(z):
    """Return z as a floating-point array (float64 unless it is already floating)."""
    z = np.asarray(z)
    if not np.issubdtype(z.dtype, np.floating):
        z = z.astype(np.float64)
    return z


def _unwrap(result):
    """Turn a 0-d array into a NumPy scalar so that ``sigmoid(0.0)`` reads as a number."""
    return result[()] if result.ndim == 0 else result


# --- sigmoid ------------------------------------------------------------------------------------

def naive_sigmoid(z):
    """The textbook sigmoid 1 / (1 + exp(-z)), kept on purpose to show its flaw (lesson 02).

    For z = -1000, exp(1000) overflows to inf and NumPy warns "overflow encountered in exp".
    The answer happens to come out as 0.0, but the warning shows the computation left the range
    of floating point numbers. Use ``sigmoid`` instead.
    """
    z = _as_float_array(z)
    return _unwrap(1.0 / (1.0 + np.exp(-z)))


def sigmoid(z):
    """Logistic sigmoid sigma(z) = 1 / (1 + exp(-z)), stable for any z (lesson 02).

    The trick: only ever exponentiate a non-positive number. With u = exp(-|z|), which lies in
    (0, 1] and cannot overflow,

        z >= 0:  sigma(z) = 1 / (1 + u)
        z <  0:  sigma(z) = u / (1 + u)        (the same value, multiplied by exp(z) / exp(z))

    Far out, u underflows quietly to 0 and the limits come out exactly: sigma(1e4) == 1.0 and
    sigma(-1e4) == 0.0.

    Shapes: any -> same shape.
    """
    z = _as_float_array(z)
    u = np.exp(-np.abs(z))
    return _unwrap(np.where(z >= 0, 1.0 / (1.0 + u), u / (1.0 + u)))


def sigmoid_derivative(z):
    """Derivative of the sigmoid, taking the pre-activation z: sigma'(z) = sigma(z) (1 - sigma(z)).

    Largest at z = 0 (0.25) and tiny for large |z|: the "vanishing gradient" of lesson 02.
    """
    s = sigmoid(z)
    return s * (1.0 - s)


# --- tanh ---------------------------------------------------------------------------------------

def tanh(z):
    """Hyperbolic tangent tanh(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z)), range (-1, 1).

    NumPy's ``np.tanh`` is already stable for large |z|. Note tanh(z) = 2 sigma(2z) - 1 (lesson 02).
    """
    z = _as_float_array(z)
    return _unwrap(np.tanh(z))


def tanh_derivative(z):
    """Derivative of tanh, taking the pre-activation z: tanh'(z) = 1 - tanh(z)^2 (lesson 02)."""
    t = tanh(z)
    return 1.0 - t * t


# --- ReLU and leaky ReLU ------------------------------------------------------------------------

def relu(z):
    """Rectified linear unit relu(z) = max(0, z) (lesson 02)."""
    z = _as_float_array(z)
    return _unwrap(np.maximum(z, 0))


def relu_derivative(z):
    """Derivative of ReLU, taking the pre-activation z: 1 where z > 0, else 0 (lesson 02).

    At z = 0 the function has a kink; we use 0 there, as most libraries do.
    """
    z = _as_float_array(z)
    return _unwrap((z > 0).astype(z.dtype))


def leaky_relu(z, alpha=0.01):
    """Leaky ReLU: z where z > 0, else alpha * z (lesson 02). Keeps a small slope for z < 0."""
    z = _as_float_array(z)
    return _unwrap(np.where(z > 0, z, alpha * z).astype(z.dtype, copy=False))


def leaky_relu_derivative(z, alpha=0.01):
    """Derivative of leaky ReLU, taking the pre-activation z: 1 where z > 0, else alpha."""
    z = _as_float_array(z)
    return _unwrap(np.where(z > 0, 1.0, alpha).astype(z.dtype, copy=False))


# --- softmax ------------------------------------------------------------------------------------

def softmax(z, axis=-1):
    """Softmax along ``axis``: p_i = exp(z_i) / sum_j exp(z_j) (lesson 02, used in lesson 04).

    Subtracting the maximum first changes nothing mathematically (the factor exp(-max) cancels)
    but keeps every exponent <= 0, so nothing overflows: softmax([1000, 1000]) == [0.5, 0.5].

    Shapes: (C,) -> (C,); (N, C) -> (N, C), each row summing to 1.
    """
    z = _as_float_array(z)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    exp_shifted = np.exp(shifted)
    return exp_shifted / np.sum(exp_shifted, axis=axis, keepdims=True)


def log_softmax(z, axis=-1):
    """Logarithm of the softmax, computed without taking log of a tiny number.

        log p_i = (z_i - max z) - log(sum_j exp(z_j - max z))

    The sum is at least 1 (the maximum contributes exp(0)), so its log is safe. Used by the
    fused softmax + cross-entropy loss. Shapes: as ``softmax``.
    """
    z = _as_float_array(z)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_jacobian(p):
    """Jacobian of the softmax from its output p: J = diag(p) - p p^T, i.e. dp_i/dz_j (lesson 02).

    Shapes: one probability vector (C,) -> (C, C); a batch (N, C) -> (N, C, C).
    In a network we never build this matrix: multiplying it by a gradient g simplifies to
    p * (g - sum(g * p)), which is what the Softmax layer uses.
    """
    p = _as_float_array(p)
    if p.ndim not in (1, 2):
        raise ValueError(
            f"softmax_jacobian expects a probability vector (C,) or a batch (N, C), "
            f"got an array of shape {p.shape}."
        )
    num_classes = p.shape[-1]
    diagonal = p[..., :, None] * np.eye(num_classes, dtype=p.dtype)
    outer = p[..., :, None] * p[..., None, :]
    return diagonal - outer
