"""Gradient checking: compare backpropagation with finite differences (lessons 02 and 03).

A backward pass is easy to get subtly wrong, and a wrong gradient still "trains" -- just badly.
The check is simple: nudge one number x_i up and down by eps and watch the loss,

    df/dx_i  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)       (central difference)

whose error shrinks like eps^2. Compare with the analytic gradient using the relative error

    |a - b| / max(1e-8, |a| + |b|),

which does not depend on the scale of the gradient. In float64 with eps = 1e-6 a correct
gradient gives about 1e-7 or less (CS231n's rule of thumb); 1e-4 and above almost always means a
bug, unless an input sits exactly at a kink such as ReLU's 0.

How small can the error get? Rounding makes the loss itself uncertain by about 1e-16 of its
size, and dividing by 2 eps = 2e-6 turns that into an absolute error of about 1e-10 in each
numerical gradient. So an entry whose gradient is only 1e-4 can show a relative error of
1e-7 with a perfectly correct backward pass; look at the size of the worst entry before you
hunt for a bug there.

Checks run in float64 on a copy, so the network, layer or loss you pass in is never changed.
The copy is of the network as a whole, exactly as it was built. A NaN or an infinity in either
gradient is a failure, and a check that checked nothing does not pass.
"""

import copy
import numbers

import numpy as np

from nnlib import _validation as validate
from nnlib.layers import Dropout, Layer
from nnlib.losses import Loss
from nnlib.network import Sequential, _check_each_layer_used_once

EXPECTED_ERROR = 1e-7


def numerical_gradient(f, x, eps=1e-6, indices=None):
    """Central-difference gradient of the scalar function f at the array x.

    f is called as f(x) and must return a number. x is perturbed IN PLACE, one entry at a time,
    and every entry is restored afterwards. ``indices`` (a list of index tuples) limits the work
    to those entries; the others stay 0 in the result.

    x must be a float64 array: a nudge of 1e-6 is lost in an int array, in float16 and mostly in
    float32 (whose spacing near 1 is 1e-7). For the same reason f must compute in float64.

    Returns an array of the shape of x: grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).
    """
    _check_eps(eps)
    _check_perturbable(x)
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape) if indices is None else indices:
        original = x[index]
        x[index] = original + eps
        f_plus = _as_float64_number(f(x))
        x[index] = original - eps
        f_minus = _as_float64_number(f(x))
        x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad


def _check_eps(eps):
    validate.check_positive_real("eps", eps, "gradient check", example="1e-6")


def _check_perturbable(x):
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        kind = f"an array of dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(
            f"numerical_gradient nudges x in place by eps, which needs a float64 array; got "
            f"{kind}, in which a nudge of 1e-6 is rounded away (ints, float16) or badly "
            f"rounded (float32). Pass x = np.asarray(x, dtype=np.float64) and let f compute in "
            f"float64."
        )
    if not x.flags.writeable:
        raise ValueError("numerical_gradient perturbs x in place, but x is read-only; pass x.copy().")


def _as_float64_number(value):
    """f's result as a float; a float32 or float16 result would hide the nudge in rounding."""
    if isinstance(value, (np.ndarray, np.generic)):
        if value.size != 1:
            raise ValueError(
                f"f must return a single number (the loss), got an array of shape {value.shape}."
            )
        if np.issubdtype(value.dtype, np.floating) and value.dtype.itemsize < 8:
            raise TypeError(
                f"f returned a {value.dtype} number; the difference f(x + eps) - f(x - eps) "
                f"drowns in its rounding. Compute f in float64 (e.g. a network with "
                f"dtype=np.float64, or check_gradients, which converts to float64)."
            )
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"f must return a real number (the loss), got {value!r}.")
    return float(value)


def relative_error(a, b):
    """Largest element-wise relative error max |a - b| / max(1e-8, |a| + |b|)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(_elementwise_relative_error(a, b), initial=0.0))


def _elementwise_relative_error(a, b):
    """|a - b| / max(1e-8, |a| + |b|), and inf wherever a or b is NaN or infinite: such an entry
    is never "close" (and NaN would slip through max() and comparisons)."""
    with np.errstate(invalid="ignore", over="ignore"):
        errors = np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))
    return np.where(np.isfinite(a) & np.isfinite(b), errors, np.inf)


class GradientReport:
    """The outcome of ``check_gradients``: one row per checked array.

    errors[name]        largest relative error over the checked entries of that array
    worst_index[name]   the index where it occurred
    analytic[name], numerical[name]   the two gradients at that index
    checked[name], sizes[name]        how many entries were checked, out of how many
    """

    def __init__(self, eps, tol=EXPECTED_ERROR):
        self.eps = eps
        self.tol = tol
        self.errors, self.worst_index, self.analytic, self.numerical = {}, {}, {}, {}
        self.checked, self.sizes = {}, {}

    def add(self, name, analytic, numerical, indices=None):
        """Record the comparison of two gradients of one array (at ``indices``, or everywhere)."""
        analytic = np.asarray(analytic, dtype=np.float64)
        numerical = np.asarray(numerical, dtype=np.float64)
        if analytic.shape != numerical.shape:
            raise ValueError(
                f"{name}: the analytic gradient has shape {analytic.shape}, the parameter "
                f"{numerical.shape}; backward must return one number per parameter."
            )
        if indices is not None and len(indices) == 0:
            raise ValueError(f"{name}: no entries to compare; give at least one index.")
        if indices is None:
            errors = _elementwise_relative_error(analytic, numerical)
            worst_index = np.unravel_index(int(np.argmax(errors)), errors.shape)
        else:
            errors = np.array([_elementwise_relative_error(analytic[i], numerical[i])
                               for i in indices])
            worst_index = indices[int(np.argmax(errors))]
        self.worst_index[name] = tuple(int(i) for i in worst_index)
        self.errors[name] = float(np.max(errors))
        self.analytic[name] = float(analytic[worst_index])
        self.numerical[name] = float(numerical[worst_index])
        self.checked[name] = analytic.size if indices is None else len(indices)
        self.sizes[name] = analytic.size

    @property
    def max_error(self):
        """The largest relative error; inf if any gradient holds a NaN or an infinity."""
        return max(self.errors.values(), default=0.0)

    @property
    def num_checked(self):
        """How many entries were compared, over all arrays."""
        return sum(self.checked.values())

    @property
    def worst(self):
        """Name of the array with the largest relative error."""
        return max(self.errors, key=self.errors.get) if self.errors else None

    def passed(self, tol=None):
        """True if at least one entry was checked and every relative error is below ``tol``
        (default 1e-7); a NaN or an infinity in either gradient fails."""
        return self.num_checked > 0 and self.max_error < (self.tol if tol is None else tol)

    def __str__(self):
        header = ("name", "checked", "max relative error", "")
        rows = [(name, f"{self.checked[name]}/{self.sizes[name]}", f"{error:.2e}",
                 "ok" if error < self.tol else "CHECK")
                for name, error in self.errors.items()]
        widths = [max(len(row[column]) for row in [header, *rows]) for column in range(4)]
        lines = [f"Gradient check: central differences, eps={self.eps:g}, float64"]
        lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                  for row in [header, *rows]]
        if self.worst is not None:
            name = self.worst
            lines.append(
                f"worst: {name}{list(self.worst_index[name])}: relative error "
                f"{self.errors[name]:.2e} (analytic {self.analytic[name]:.6g}, "
                f"numerical {self.numerical[name]:.6g})"
            )
        lines.append(f"expect < {_short(self.tol)} for a correct gradient; above 1e-4 is almost "
                     f"always a bug (or an input exactly at a kink such as ReLU's 0).")
        if self.num_checked == 0:
            lines.append("FAILED: nothing was checked")
        elif self.max_error == np.inf:
            lines.append("FAILED: a gradient holds NaN or inf (see the worst entry above)")
        else:
            verdict = "PASSED" if self.passed() else "FAILED"
            lines.append(f"{verdict}: largest relative error {self.max_error:.2e}")
        return "\n".join(lines)

    def __repr__(self):
        return (f"GradientReport(max_error={self.max_error:.2e}, worst={self.worst!r}, "
                f"passed={self.passed()})")


def _short(number):
    """1e-07 -> '1e-7'."""
    return f"{number:.0e}".replace("e-0", "e-")


def check_gradients(obj, X, y=None, *, eps=1e-6, sparse=None, rng=None):
    """Check the backward pass of a network, a layer or a loss against finite differences.

    obj    a ``Sequential`` (with a loss; X, y a small batch): checks every parameter;
           a ``Layer`` (X its input): checks its parameters and the input gradient, for
           the scalar sum(output * G) with fixed random weights G;
           a ``Loss`` (X the network output, y the labels): checks the gradient wrt the output.
    sparse check at most this many randomly chosen entries of each array (None: all of them).
    rng    the ``np.random.Generator`` for G and for choosing entries (default: seed 0).

    Works on a float64 copy of ``obj`` (whatever the dtype of obj and X); returns a
    ``GradientReport`` (print it, or call ``.passed()``).
    """
    _check_eps(eps)
    if sparse is not None:
        validate.check_positive_int("sparse (the number of entries to check per array, or None "
                                    "for all)", sparse)
    rng = np.random.default_rng(0) if rng is None else validate.as_generator(rng, "check_gradients")
    X = _float64_copy_of_input(X)  # a copy: numerical_gradient perturbs it in place
    report = GradientReport(eps)
    if isinstance(obj, Sequential):
        _check_network(obj, X, y, eps, sparse, rng, report)
    elif isinstance(obj, Layer):
        _check_layer(obj, X, eps, sparse, rng, report)
    elif isinstance(obj, Loss):
        _check_loss(obj, X, y, eps, sparse, rng, report)
    else:
        raise TypeError(
            f"check_gradients expects a Sequential network, a layer or a loss, "
            f"got {type(obj).__name__}."
        )
    return report


def _float64_copy_of_input(X):
    if type(X).__module__.startswith("scipy.sparse"):
        raise TypeError("check_gradients needs a dense X; pass X.toarray().")
    X = np.array(X)
    if not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)):
        raise TypeError(f"check_gradients needs X of real numbers, got dtype {X.dtype}.")
    return X.astype(np.float64)


def _float64_copy(obj):
    """A deep copy of a layer or a whole network (shared objects stay shared), in float64."""
    obj = copy.deepcopy(obj)
    converted = {}  # id of an array -> its float64 version, so that shared arrays stay shared

    def as_float64(array, make):
        if id(array) not in converted:
            converted[id(array)] = (array, make(array))  # keep array alive: ids stay unique
        return converted[id(array)][1]

    for layer in obj.layers if isinstance(obj, Sequential) else [obj]:
        for name in layer.params:
            layer.grads[name] = as_float64(layer.grads[name],
                                           lambda grad: np.zeros(grad.shape, dtype=np.float64))
            layer.params[name] = as_float64(layer.params[name],
                                            lambda param: param.astype(np.float64))
    return obj


def _sample_indices(shape, sparse, rng):
    size = int(np.prod(shape))
    if sparse is None or size <= sparse:
        return None
    flat = rng.choice(size, size=sparse, replace=False)
    return [tuple(int(i) for i in np.unravel_index(position, shape)) for position in flat]


def _with_fixed_dropout(layers):
    """Make every Dropout layer draw the same mask on every forward pass.

    Returns a function to call before each forward pass; it rewinds the dropout generators.
    """
    dropouts = [layer for layer in layers if isinstance(layer, Dropout) and layer.rate > 0]
    for layer in dropouts:
        if layer.rng is None:
            layer.rng = np.random.default_rng(0)
    states = [copy.deepcopy(layer.rng.bit_generator.state) for layer in dropouts]

    def rewind():
        for layer, state in zip(dropouts, states):
            layer.rng.bit_generator.state = copy.deepcopy(state)
    return rewind


def _check_network(network, X, y, eps, sparse, rng, report):
    if network.loss is None:
        raise ValueError("check_gradients needs a network with a loss: Sequential(layers, loss=...).")
    if y is None:
        raise ValueError("check_gradients on a network needs the labels y of the batch X.")
    _check_each_layer_used_once(network.layers)
    if not network.parameters():
        raise ValueError(
            "check_gradients: this network has no parameters, so there is nothing to check; to "
            "check the input gradient of a layer, pass the layer itself: check_gradients(layer, X)."
        )
    network = _float64_copy(network)
    rewind = _with_fixed_dropout(network.layers)

    def loss_at(_):
        rewind()
        return network.loss.forward(network.forward(X, training=True), y)

    rewind()
    network.loss_and_gradients(X, y)
    analytic = {name: grad.copy() for name, grad in network.gradients().items()}
    for name, param in network.parameters().items():
        indices = _sample_indices(param.shape, sparse, rng)
        numerical = numerical_gradient(loss_at, param, eps, indices)
        report.add(name, analytic[name], numerical, indices)


def _check_layer(layer, X, eps, sparse, rng, report):
    layer = _float64_copy(layer)
    rewind = _with_fixed_dropout([layer])
    rewind()
    # Random weights for the outputs, between 0.5 and 1.5 in size with random signs: a weight
    # near 0 would make some gradients tiny, and tiny gradients drown in rounding errors.
    output_shape = layer.forward(X, training=True).shape
    upstream = rng.uniform(0.5, 1.5, output_shape) * rng.choice([-1.0, 1.0], output_shape)

    def weighted_output(_):
        rewind()
        return float(np.sum(layer.forward(X, training=True) * upstream))

    rewind()
    layer.forward(X, training=True)
    grad_input = layer.backward(upstream)
    analytic = {name: grad.copy() for name, grad in layer.grads.items()}
    for name, param in layer.params.items():
        indices = _sample_indices(param.shape, sparse, rng)
        report.add(name, analytic[name], numerical_gradient(weighted_output, param, eps, indices),
                   indices)
    indices = _sample_indices(X.shape, sparse, rng)
    report.add("input", grad_input, numerical_gradient(weighted_output, X, eps, indices), indices)


def _check_loss(loss, output, y, eps, sparse, rng, report):
    if y is None:
        raise ValueError("check_gradients on a loss needs the labels y.")
    loss = copy.deepcopy(loss)
    loss.forward(output, y)
    analytic = loss.backward()
    indices = _sample_indices(output.shape, sparse, rng)
    numerical = numerical_gradient(lambda out: loss.forward(out, y), output, eps, indices)
    report.add("output", np.asarray(analytic, dtype=np.float64), numerical, indices)
