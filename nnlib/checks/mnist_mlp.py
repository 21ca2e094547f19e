"""Checks for exercise set ex04_mnist_mlp (lesson 04): a 784-128-64-10 network for MNIST.

``check_iterate_minibatches``, ``check_accuracy``, ``check_train_mlp`` and
``check_confusion_matrix``. ``cases=[...]`` replaces the seeded inputs of the first, second and
fourth (the hidden tests pass other sizes, float32 and edge cases that way); ``check_train_mlp``
takes the ``seed`` of the generator it hands to ``train_mlp``.

Nothing here has a NumPy reference to trust: the mini-batches are checked for the properties
that define them (every row once, X and y kept together, a new order from ``rng`` each call),
accuracy and the confusion matrix are counted again in plain Python, and the trained network is
evaluated on the MNIST test set by a forward pass written here from its weights alone.
"""

import builtins
import copy
import os
import time

import numpy as np

import nnlib.data
from nnlib.checks._core import CheckFailed, _where, check, describe
from nnlib.checks._core import guard as _guard
from nnlib.data import load_mnist as _load_mnist

__all__ = ["check_accuracy", "check_confusion_matrix", "check_iterate_minibatches",
           "check_train_mlp"]

_guard(nnlib.data, ["load_mnist", "load_idx_dataset"], "nnlib.data")

_asarray = np.asarray
_default_rng = np.random.default_rng
_errstate = np.errstate
_get_state = np.random.get_state
_argmax = np.ndarray.argmax
_maximum = np.maximum
_perf_counter = time.perf_counter
_deepcopy = copy.deepcopy
_isinstance = builtins.isinstance
_NNLIB_DIR = os.path.dirname(os.path.abspath(nnlib.data.__file__))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))

MINIBATCH_SECTION = "lesson 04, section 5"
TRAINING_SECTION = "lesson 04, section 6"
CONFUSION_SECTION = "lesson 04, section 7"
RELU_SECTION = "lesson 02, section 4"
DENSE_SECTION = "lesson 03, section 3.2"

LAYER_SIZES = (784, 128, 64, 10)
REQUIRED_ACCURACY = 0.97
BUDGET_SECONDS = 180.0  # a 2-core laptop; the reference solution needs about 10 s

DIVERGED_HINT = (
    "The training diverged: its steps were too large, so the weights grew instead of "
    "settling. Divide the "
    "gradient of the loss by the batch size, dL/dZ = (P - Y) / N (lesson 02, section 8); "
    "without the 1/N every step is N times too large. Then use a learning rate around 0.1.")


def _what(value):
    if value is None:
        return "None (did you forget the `return` statement?)"
    return describe(value)


# --- iterate_minibatches ------------------------------------------------------------------------

def _numbered_rows(N, row_shape, dtype):
    """X whose row i holds i * D, i * D + 1, ... (D entries per row), and y = i: both name i."""
    size = 1
    for length in row_shape:
        size *= length
    X = np.arange(N * size, dtype=np.float64).reshape((N, *row_shape)).astype(dtype)
    return X, np.arange(N, dtype=np.int64), size


def _minibatch_cases():
    # (N, row shape, batch_size, X dtype, seed)
    return [(50, (3,), 16, np.float64, 0), (48, (2,), 16, np.float64, 1)]


@check("iterate_minibatches", lesson="lesson 04")
def check_iterate_minibatches(t, iterate_minibatches, cases=None):
    """Check one epoch of shuffled mini-batches: every row once, X and y together, new order."""
    for N, row_shape, batch_size, dtype, seed in (
            cases if cases is not None else _minibatch_cases()):
        _minibatch_case(t, iterate_minibatches, N, tuple(row_shape), batch_size, dtype, seed)


def _next_batch(iterator):
    """(True, item) for the next item of the student's iterator, (False, None) at its end."""
    try:
        return True, next(iterator)
    except StopIteration:
        return False, None


def _rows_in(batch):
    """len(batch) for an array with at least one axis, else 0 (t.array then explains)."""
    shape = getattr(batch, "shape", None)
    return shape[0] if _isinstance(shape, tuple) and len(shape) > 0 else 0


def _one_epoch(t, iterate_minibatches, X, y, batch_size, rng, size):
    """The row numbers of every batch of one call, validated batch by batch."""
    N = len(y)
    label = (f"iterate_minibatches(X, y, {batch_size}, rng) with X of shape {X.shape}")
    result = t.call(iterate_minibatches, X, y, batch_size, rng, label=label)
    if result is None:
        t.fail(f"{label} returned None: write it as a generator, with "
               f"`yield X_batch, y_batch` inside the loop over the batches "
               f"({MINIBATCH_SECTION}).")
    if _isinstance(result, (list, tuple)):
        t.fail(f"{label} returned a Python {type(result).__name__}; make it a generator that "
               f"yields one (X_batch, y_batch) pair at a time (`yield`, not `return`), so "
               f"that no copy of the whole shuffled data set is built.")
    if not hasattr(result, "__next__"):
        t.fail(f"{label} returned {_what(result)}, not a generator: use "
               f"`yield X_batch, y_batch` in a loop.")
    batches = []
    seen = 0
    while True:
        more, item = t.call(_next_batch, result, label=f"{label}, batch {len(batches) + 1}")
        if not more:
            break
        where = f"{label}: batch {len(batches) + 1}"
        if not _isinstance(item, tuple) or len(item) != 2:
            t.fail(f"{where} is {_what(item)}; each batch must be a pair: "
                   f"`yield X_batch, y_batch`.")
        X_batch = t.array(item[0], label=f"{where}, X_batch", kind="number",
                          shape=(_rows_in(item[0]), *X.shape[1:]))
        y_batch = t.array(item[1], label=f"{where}, y_batch", kind="number",
                          shape=(len(X_batch),),
                          shape_hints={(1,): "X_batch and y_batch must hold the same rows"})
        if X_batch.ndim != X.ndim or len(X_batch) == 0:
            t.fail(f"{where} has {len(X_batch)} rows; every batch holds at least one row.")
        rows = []
        for x_row, y_value in zip(X_batch.reshape(len(X_batch), -1).tolist(),
                                  y_batch.tolist()):
            first = int(x_row[0])
            row_number = first // size
            if not 0 <= row_number < N or x_row != [float(row_number * size + j)
                                                    for j in range(size)]:
                t.fail(f"{where}: an X_batch row is not a row of X: take whole rows, "
                       f"X[indices], with one index per example.")
            if y_value != row_number:
                t.fail(f"{where}: X_batch row {row_number} of X came with the label of row "
                       f"{y_value}: X and y were shuffled separately. Draw one permutation, "
                       f"order = rng.permutation(N), and index both with it: X[order], "
                       f"y[order] ({MINIBATCH_SECTION}).")
            rows.append(row_number)
        batches.append(rows)
        seen += len(rows)
        if seen > 3 * N:
            t.fail(f"{label} yielded more than three times the {N} rows of X and had not "
                   f"stopped: one call is one epoch, visiting each row exactly once.")
    return batches


def _minibatch_case(t, iterate_minibatches, N, row_shape, batch_size, dtype, seed):
    X, y, size = _numbered_rows(N, row_shape, dtype)
    label = f"iterate_minibatches(X, y, {batch_size}, rng) with {N} rows"
    rng = _default_rng(seed)
    batches = _one_epoch(t, iterate_minibatches, X, y, batch_size, rng, size)
    order = [row for rows in batches for row in rows]
    counts = [0] * N
    for row in order:
        counts[row] += 1
    repeated = [row for row in range(N) if counts[row] > 1]
    missing = [row for row in range(N) if counts[row] == 0]
    if repeated:
        t.fail(f"{label}: row {repeated[0]} came {counts[repeated[0]]} times and "
               f"{len(missing)} rows never: you sampled with replacement (rng.integers or "
               f"rng.choice). Shuffle a permutation instead, order = rng.permutation(N), so "
               f"that one epoch visits every row exactly once ({MINIBATCH_SECTION}).")
    remainder = N % batch_size
    if missing and remainder and len(missing) == remainder:
        t.fail(f"{label}: the last {remainder} rows are missing: when N is not a multiple of "
               f"batch_size, yield the rest as a last, smaller batch (start the batches at "
               f"range(0, N, batch_size)) ({MINIBATCH_SECTION}).")
    if missing:
        t.fail(f"{label}: {len(missing)} of the {N} rows never came (row {missing[0]} for "
               f"one); one call must visit every row once.")
    sizes = [len(rows) for rows in batches]
    expected = [batch_size] * (N // batch_size) + ([remainder] if remainder else [])
    t.true(sizes == expected,
           f"{label}: the batches have {sizes} rows; expected {expected}: every batch but the "
           f"last holds batch_size rows.")
    t.true(N < 3 or order != list(range(N)),
           f"{label}: the rows came in their original order 0, 1, 2, ...: shuffle them at "
           f"every call, order = rng.permutation(N) ({MINIBATCH_SECTION}).")
    second = [row for rows in _one_epoch(t, iterate_minibatches, X, y, batch_size, rng, size)
              for row in rows]
    t.true(N < 3 or second != order,
           f"{label}: a second call with the same (advanced) rng gave the same order: draw a "
           f"new permutation from the rng you are given, rng.permutation(N), at every call, "
           f"so that every epoch sees the rows in a new order (a generator made inside the "
           f"function with a fixed seed repeats the same order every epoch).")
    again = [row for rows in _one_epoch(t, iterate_minibatches, X, y, batch_size,
                                        _default_rng(seed), size) for row in rows]
    t.true(again == order,
           f"{label}: two generators with the same seed gave different orders: draw the "
           f"order from the rng you are given (rng.permutation), not from np.random's global "
           f"state.")


# --- accuracy -----------------------------------------------------------------------------------

def _accuracy_cases(t):
    y_true = t.rng.integers(0, 10, size=20)
    y_pred = y_true.copy()
    y_pred[[1, 4, 5, 9, 13, 14, 18]] = (y_true[[1, 4, 5, 9, 13, 14, 18]] + 3) % 10
    return [(y_true, y_pred), (np.array([3, 1, 2]), np.array([3, 1, 2])),
            (np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]))]


@check("accuracy", lesson="lesson 04")
def check_accuracy(t, accuracy, cases=None):
    """Check the fraction of correct predictions, and the refusal of mismatched shapes."""
    cases = cases if cases is not None else _accuracy_cases(t)
    for y_true, y_pred in cases:
        _accuracy_case(t, accuracy, _asarray(y_true), _asarray(y_pred))
    y_true, y_pred = (_asarray(v) for v in cases[0])
    N = len(y_true)
    t.raises(accuracy, y_true.reshape(N, 1), y_pred, error=ValueError,
             label=f"accuracy(y_true, y_pred) with y_true of shape ({N}, 1) and y_pred ({N},)",
             hint=(f"comparing a ({N}, 1) column with a ({N},) vector broadcasts to a {N} x {N} "
                   f"table of every pair, and its mean is no accuracy. Compare the shapes first "
                   f"and raise ValueError with a message that names both."))
    t.raises(accuracy, y_true, y_pred[:-1], error=ValueError,
             label=f"accuracy(y_true, y_pred) with {N} and {N - 1} labels",
             hint="arrays of different lengths cannot describe the same examples.")


def _accuracy_case(t, accuracy, y_true, y_pred):
    N = len(y_true)
    label = f"accuracy(y_true, y_pred) for {N} labels"
    result = t.call(accuracy, y_true, y_pred, label=label)
    correct = sum(1 for a, b in zip(y_true.tolist(), y_pred.tolist()) if a == b)
    if _isinstance(result, (int, np.integer)) and not _isinstance(result, (bool, np.bool_)):
        if result == correct and N > 1:
            t.fail(f"{label} returned {result}: that is the number of correct predictions; "
                   f"divide by N = {N} for the fraction.")
        t.fail(f"{label} returned the integer {result}; the accuracy is a fraction between 0 "
               f"and 1, a float: (number of y_true == y_pred) / N ({TRAINING_SECTION}).")
    value = t.number(result, label=label,
                     shape_hints={(N,): "that is one True/False per example: return their "
                                        "mean, a single number"})
    t.close(_scalar(value), _scalar(correct / N), label=label, rtol=1e-12, atol=1e-12,
            recheck=[correct / N],
            mistakes=[
                (_scalar(float(correct)) if N > 1 and 0 < correct else None,
                 (f"that is the number of correct predictions ({correct}); divide by N = {N} "
                 f"for the fraction.")),
                (_scalar(100.0 * correct / N) if 0 < correct else None,
                 "that is a percentage; return the fraction, a number between 0 and 1."),
                (_scalar(1.0 - correct / N) if 2 * correct != N else None,
                 "that is the error rate, the fraction of wrong predictions."),
            ],
            hint=f"accuracy = (number of y_true == y_pred) / N ({TRAINING_SECTION}).")


def _scalar(value):
    return _asarray(float(value))


# --- confusion_matrix ---------------------------------------------------------------------------

def _py_confusion(y_true, y_pred, n_classes):
    counts = [[0] * n_classes for _ in range(n_classes)]
    for a, b in zip(y_true, y_pred):
        counts[a][b] += 1
    return counts


def _confusion_cases(t):
    y_true = t.rng.integers(0, 4, size=30)
    y_pred = np.where(t.rng.random(30) < 0.6, y_true, (y_true + 1) % 4)
    # Class 4 never occurs, class 3 is never predicted: the matrix is still 5 x 5.
    absent_true = np.array([0, 1, 2, 3, 3, 1, 0, 0])
    absent_pred = np.array([0, 1, 1, 2, 0, 1, 0, 2])
    return [(y_true, y_pred, 4), (absent_true, absent_pred, 5)]


@check("confusion_matrix", lesson="lesson 04")
def check_confusion_matrix(t, confusion_matrix, cases=None):
    """Check the (C, C) counts: row = true class, column = predicted class."""
    for y_true, y_pred, n_classes in cases if cases is not None else _confusion_cases(t):
        _confusion_case(t, confusion_matrix, _asarray(y_true), _asarray(y_pred), n_classes)


def _confusion_case(t, confusion_matrix, y_true, y_pred, C):
    N = len(y_true)
    label = f"confusion_matrix(y_true, y_pred, {C}) for {N} labels"
    result = t.call(confusion_matrix, y_true, y_pred, C, label=label)
    largest = max(y_true.tolist() + y_pred.tolist() + [-1]) + 1
    hints = {(largest, largest): (f"a class that never occurs still has its row and column: "
                                  f"the matrix is n_classes x n_classes = {C} x {C}, whatever "
                                  f"labels appear")} if largest != C else {}
    counts = t.array(result, label=label, kind="number", shape=(C, C), shape_hints=hints)
    expected = _py_confusion(y_true.tolist(), y_pred.tolist(), C)
    flat_expected = [v for row in expected for v in row]
    transposed = [expected[j][i] for i in range(C) for j in range(C)]
    once = [[0] * C for _ in range(C)]
    for a, b in zip(y_true.tolist(), y_pred.tolist()):
        once[a][b] = 1
    sums = [sum(row) or 1 for row in expected]
    normalised = [[v / sums[i] for v in row] for i, row in enumerate(expected)]
    shape = (C, C)
    t.close(counts, np.array(flat_expected, dtype=float).reshape(shape), label=label,
            rtol=0.0, atol=0.0, recheck=flat_expected,
            mistakes=[
                (np.array(transposed, dtype=float).reshape(shape),
                 ("rows and columns are swapped: row i is the TRUE class i and column j the "
                 f"predicted class j, counts[y_true[n], y_pred[n]] += 1 ({CONFUSION_SECTION}).")),
                (np.array(once, dtype=float).reshape(shape),
                 ("each (true, predicted) pair was counted at most once: "
                 "`counts[y_true, y_pred] += 1` with index arrays does not add up repeated "
                 "pairs. Use np.add.at(counts, (y_true, y_pred), 1), or a loop over the "
                 "examples.")),
                (np.array(normalised, dtype=float).reshape(shape),
                 "you normalised the rows; return the counts themselves (integers)."),
            ],
            hint=(f"counts[i, j] is how many examples of true class i were predicted as j "
                  f"({CONFUSION_SECTION})."))


# --- train_mlp ----------------------------------------------------------------------------------

def _from_nnlib(value):
    """True if ``value`` is nnlib itself: a module, class, function or object defined there."""
    if _isinstance(value, type(os)):
        return value.__name__ == "nnlib" or value.__name__.startswith("nnlib.")
    if _isinstance(value, type):
        return any(str(getattr(klass, "__module__", "")).startswith("nnlib.")
                   for klass in value.__mro__)
    code = getattr(value, "__code__", None)
    if code is not None:
        return os.path.abspath(code.co_filename).startswith(_NNLIB_DIR + os.sep)
    return str(getattr(type(value), "__module__", "")).startswith("nnlib.")


def _is_own_code(value):
    """A function or class written in the notebook (not in NumPy, nnlib or the stdlib)."""
    if _isinstance(value, type):
        return str(getattr(value, "__module__", "")) not in ("builtins",) and not any(
            str(getattr(value, "__module__", "")).startswith(prefix)
            for prefix in ("numpy", "nnlib"))
    code = getattr(value, "__code__", None)
    if code is None:
        return False
    filename = os.path.abspath(code.co_filename)
    return not filename.startswith((_NNLIB_DIR + os.sep, _NUMPY_DIR + os.sep,
                                    os.path.dirname(os.__file__) + os.sep))


def _code_objects(code):
    yield code
    for constant in code.co_consts:
        if _isinstance(constant, type(code)):
            yield from _code_objects(constant)


def _nnlib_uses(func):
    """[(name, value)] of nnlib objects that func, or code of the notebook it uses, refers to."""
    found, seen, todo = [], set(), [func]
    while todo and len(seen) < 200:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if _isinstance(item, type):
            for base in item.__mro__[1:]:
                if _from_nnlib(base):
                    found.append((item.__name__, base))
            todo.extend(value for value in vars(item).values()
                        if callable(value) or _isinstance(value, (staticmethod, classmethod)))
            continue
        item = getattr(item, "__func__", item)
        code = getattr(item, "__code__", None)
        if code is None:
            continue
        namespace = getattr(item, "__globals__", {})
        referenced = [(cell.cell_contents, "a closure") for cell in (item.__closure__ or ())
                      if _cell_filled(cell)]
        for part in _code_objects(code):
            referenced += [(namespace[name], name) for name in part.co_names if name in namespace]
        for value, name in referenced:
            if _from_nnlib(value):
                found.append((name, value))
            elif _is_own_code(value):
                todo.append(value)
    return found


def _cell_filled(cell):
    try:
        cell.cell_contents  # noqa: B018 -- an empty cell raises ValueError
    except ValueError:
        return False
    return True


def _train_stopping_on_overflow(train_mlp, X, y, rng):
    """train_mlp(X, y, rng), stopped at the first overflow (a diverging run stops early)."""
    with _errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        try:
            return train_mlp(X, y, rng)
        except FloatingPointError as error:
            message = str(error)
            if "divide" in message:
                hint = ("A log of 0 or a division by 0: clip probabilities before a log "
                        "(np.clip(P, 1e-7, 1)), or use the fused gradient (P - Y) / N, which "
                        "needs no log at all.")
            else:
                hint = DIVERGED_HINT + (" If your softmax does not subtract each row's "
                                        "maximum first, it overflows too (lesson 02, "
                                        "section 6); so do initial weights of standard "
                                        "deviation 1 instead of He's sqrt(2 / in_features).")
            raise CheckFailed(f"train_mlp(X_train, y_train, rng) stopped: NumPy reported "
                              f"'{message}'{_where(error)}. {hint}") from None


def _layers(t, result):
    label = "train_mlp(X_train, y_train, rng)"
    if result is None:
        t.fail(f"{label} returned None: return the list of your trained layers, "
               f"[Dense, ReLU, Dense, ReLU, Dense].")
    if hasattr(result, "layers") and not _isinstance(result, (list, tuple)):
        t.fail(f"{label} returned {_what(result)}, a network object; return the plain list "
               f"of your own layers, [Dense, ReLU, Dense, ReLU, Dense].")
    if not _isinstance(result, (list, tuple)):
        t.fail(f"{label} returned {_what(result)}; return the list of your trained layers, "
               f"[Dense, ReLU, Dense, ReLU, Dense].")
    layers = list(result)
    for layer in layers:
        if _from_nnlib(layer):
            t.fail(f"{label}: the layer {type(layer).__name__} is nnlib's own "
                   f"({type(layer).__module__}); the exercise is to write the Dense and ReLU "
                   f"classes yourself.")
    if len(layers) != 5:
        t.fail(f"{label} returned {len(layers)} layers; the 784-128-64-10 network has five: "
               f"[Dense(784, 128), ReLU, Dense(128, 64), ReLU, Dense(64, 10)]. The softmax "
               f"belongs to the loss, not to the list.")
    for position, layer in enumerate(layers):
        for method in ("forward", "backward"):
            if not callable(getattr(layer, method, None)):
                t.fail(f"{label}: layer {position} ({type(layer).__name__}) has no "
                       f"{method} method.")
    weights = []
    for position in (0, 2, 4):
        layer = layers[position]
        n_in, n_out = LAYER_SIZES[position // 2], LAYER_SIZES[position // 2 + 1]
        if not hasattr(layer, "W") or not hasattr(layer, "b"):
            t.fail(f"{label}: layer {position} should be Dense({n_in}, {n_out}), with "
                   f"attributes W and b; it is {_what(layer)}.")
        where = f"{label}: layer {position}"
        W = t.array(layer.W, label=f"{where}, W", shape=(n_in, n_out),
                    shape_hints={(n_out, n_in): "W has the shape (in_features, out_features), "
                                                "so that x @ W works on a batch x"},
                    nonfinite_hint=DIVERGED_HINT)
        b = t.array(layer.b, label=f"{where}, b", shape=(n_out,),
                    shape_hints={(1, n_out): "b is a vector of shape (out_features,)"},
                    nonfinite_hint=DIVERGED_HINT)
        weights.append((W, b))
    for position in (1, 3):
        if hasattr(layers[position], "W"):
            t.fail(f"{label}: layer {position} has weights W; it should be a ReLU, between "
                   f"the Dense layers.")
    return layers, weights


def _relu_probe(t, layers, position, dtype):
    probe = _deepcopy(layers[position])
    z = t.rng.normal(size=(6, 5)).astype(dtype)
    z[z == 0.0] = 0.5
    label = f"your ReLU layer (layer {position} of the list)"
    out = t.call(probe.forward, z, label=f"{label}: forward(z) for z of shape (6, 5)")
    out = t.array(out, label=f"{label}: forward(z)", shape=z.shape)
    t.close(out, _maximum(z, 0.0), label=f"{label}: forward(z)",
            recheck=[v if v > 0 else 0.0 for v in z.reshape(-1).tolist()],
            hint=f"ReLU(z) = max(z, 0), entry by entry ({RELU_SECTION}).")
    grad_output = t.rng.normal(size=z.shape).astype(dtype)
    grad = t.call(probe.backward, grad_output,
                  label=f"{label}: backward(grad_output) after forward(z)")
    grad = t.array(grad, label=f"{label}: backward(grad_output)", shape=z.shape)
    positive = z > 0
    t.close(grad, grad_output * positive, label=f"{label}: backward(grad_output)",
            recheck=[g if v > 0 else 0.0
                     for g, v in zip(grad_output.reshape(-1).tolist(), z.reshape(-1).tolist())],
            mistakes=[
                (grad_output, ("backward passed the gradient through unchanged: ReLU's "
                              "derivative is 0 where its input was negative, so multiply by "
                              f"the mask (z > 0) ({RELU_SECTION}).")),
                (grad_output * z, ("you multiplied by the input z; ReLU's derivative is the 0/1 "
                                  f"mask (z > 0), not z ({RELU_SECTION}).")),
                (grad_output * _maximum(z, 0.0),
                 ("you multiplied by the output max(z, 0); the derivative is the 0/1 mask "
                 f"(z > 0) ({RELU_SECTION}).")),
                (grad_output * ~positive, ("the mask is reversed: the gradient flows where the "
                                          f"input was positive, z > 0 ({RELU_SECTION}).")),
            ],
            hint=f"ReLU's backward is grad_output * (z > 0), with z from forward "
                 f"({RELU_SECTION}).")


def _dense_probe(t, layers, position, W, b):
    """Try the layer's forward and backward on a batch of 4, with W and b set to the given."""
    probe = _deepcopy(layers[position])
    probe.W, probe.b = W.copy(), b.copy()
    n_in, n_out = W.shape
    x = t.rng.normal(size=(4, n_in)).astype(W.dtype)
    label = f"your Dense({n_in}, {n_out}) (layer {position} of the list)"
    out = t.call(probe.forward, x, label=f"{label}: forward(x) for x of shape (4, {n_in})")
    out = t.array(out, label=f"{label}: forward(x)", shape=(4, n_out))
    t.close(out, x @ W + b, label=f"{label}: forward(x)", rtol=1e-4, atol=1e-5,
            mistakes=[(x @ W, "the bias is missing: x @ W + b.")],
            hint=f"forward computes x @ W + b ({DENSE_SECTION}).")
    grad_output = t.rng.normal(size=(4, n_out)).astype(W.dtype)
    grad_input = t.call(probe.backward, grad_output,
                        label=f"{label}: backward(grad_output) after forward(x)")
    grad_input = t.array(grad_input, label=f"{label}: backward(grad_output)", shape=(4, n_in))
    t.close(grad_input, grad_output @ W.T, label=f"{label}: backward(grad_output)",
            rtol=1e-4, atol=1e-5, hint=f"dL/dx = grad_output @ W.T ({DENSE_SECTION}).")
    for name, expected, formula in (("grad_W", x.T @ grad_output, "x.T @ grad_output"),
                                    ("grad_b", grad_output.sum(axis=0),
                                     "grad_output.sum(axis=0)")):
        if not hasattr(probe, name):
            t.fail(f"{label}: backward stored no {name}; the training step needs it.")
        value = t.array(getattr(probe, name), label=f"{label}.{name}", shape=expected.shape)
        t.close(value, expected, label=f"{label}.{name}", rtol=1e-4, atol=1e-5,
                mistakes=[(expected / 4, (f"{name} was divided by N: the 1/N already sits in "
                                         f"grad_output, which came from the loss."))],
                hint=f"{name} = {formula} ({DENSE_SECTION}).")


def _predictions(weights, X_test):
    """The digit predicted for each test image (a list), by a forward pass of our own."""
    activations = X_test
    for position, (W, b) in enumerate(weights):
        activations = activations @ W + b
        if position < len(weights) - 1:
            activations = _maximum(activations, 0)
    return _argmax(activations, axis=1).tolist()


def _accuracy_of(predicted, y_test):
    return sum(1 for p, label in zip(predicted, y_test.tolist()) if p == label) / len(predicted)


def _global_state():
    """np.random's legacy global state (key and position), to notice a draw from it."""
    state = _get_state()
    return state[1].tolist(), state[2]


def _mnist(split):
    try:
        return _load_mnist(split)
    except Exception as error:  # noqa: BLE001 -- missing data gets this message
        raise CheckFailed(f"check_train_mlp needs the MNIST data and could not load it "
                          f"({type(error).__name__}: {error})") from None


@check("train_mlp", lesson="lesson 04")
def check_train_mlp(t, train_mlp, seed=0, budget_seconds=BUDGET_SECONDS, thorough=False):
    """Train with train_mlp(X_train, y_train, rng); require >= 97 % on the MNIST test set in time.

    Refuses nnlib's layers, networks and optimizers (in train_mlp and the code it calls), then
    checks the returned [Dense, ReLU, Dense, ReLU, Dense]: the shapes, your ReLU and Dense on
    small probes, the test accuracy from the weights, and the training time.

    thorough=True (the hidden tests) probes every layer, in float32 and float64, and requires
    every digit to be read well. It does not train again if the last run of this check trained
    this very function with this seed (one training per grading, however slow the computer).
    """
    uses = _nnlib_uses(train_mlp)
    if uses:
        name, value = uses[0]
        if _isinstance(value, type(os)):
            what = f"the module {value.__name__}"
        else:
            what = f"nnlib's {getattr(value, '__name__', type(value).__name__)}"
        t.fail(f"train_mlp uses {what} (through `{name}`): build the network from "
               f"your own Dense and ReLU classes and write the SGD step yourself "
               f"(W -= learning_rate * grad_W); use only NumPy and the code of this notebook.")
    run = _recall_training(train_mlp, seed) if thorough else None
    if run is None:
        run = _train(t, train_mlp, seed)
        _remember_training(train_mlp, seed, run)
    result, seconds, drew_globally = run
    layers, weights = _layers(t, result)
    t.true(not drew_globally,
           "train_mlp drew random numbers from np.random's global state: draw every random "
           "number (the initial weights, the shuffling) from the rng you are given, so that "
           "a seed reproduces the training.")
    _relu_probe(t, layers, 1, np.float64)
    _dense_probe(t, layers, 2, *weights[1])
    if thorough:
        _relu_probe(t, layers, 3, np.float32)
        for position, (W, b) in zip((0, 4), (weights[0], weights[2])):
            _dense_probe(t, layers, position, W.astype(np.float64), b.astype(np.float64))
    X_test, y_test = _mnist("test")
    with _errstate(all="ignore"):
        predicted = _predictions(weights, X_test)
    accuracy = _accuracy_of(predicted, y_test)
    if len(set(predicted)) == 1:
        t.fail(f"Your trained network predicts the same digit for all 10,000 test images "
               f"({accuracy:.1%} correct): the training went wrong so badly that every input "
               f"gives the same output (often because huge steps switched every ReLU off "
               f"for good). {DIVERGED_HINT}")
    if accuracy < 0.2:
        t.fail(f"Your trained network classifies {accuracy:.1%} of the 10,000 test digits "
               f"correctly, no better than guessing (10 %): it did not learn. Subtract the "
               f"update, W -= learning_rate * grad_W and b -= learning_rate * grad_b, for "
               f"every Dense layer after each backward pass. If the loss grew instead of "
               f"falling: {DIVERGED_HINT}")
    t.true(accuracy >= REQUIRED_ACCURACY,
           f"Your trained network classifies {accuracy:.2%} of the 10,000 test digits "
           f"correctly, below the {REQUIRED_ACCURACY:.0%} required. Shuffle the training set "
           f"at every epoch (your iterate_minibatches with rng), use a learning rate around "
           f"0.1 with batches of 64 for about 10 epochs, and He initialisation, "
           f"W ~ N(0, 2 / in_features) (lesson 04, sections 5 and 6).")
    if thorough:
        for digit in range(10):
            shown = [p for p, label in zip(predicted, y_test.tolist()) if label == digit]
            share = sum(1 for p in shown if p == digit) / len(shown)
            t.true(share >= 0.9,
                   f"Your network reads {accuracy:.2%} of the test digits, but only "
                   f"{share:.1%} of the {digit}s: train on every class in a shuffled order, "
                   f"with every example once per epoch ({MINIBATCH_SECTION}).")
    t.true(seconds <= budget_seconds,
           f"train_mlp took {seconds:.0f} s; the budget is {budget_seconds:.0f} s. Train on "
           f"mini-batches with matrix products (no Python loop over single examples) and "
           f"keep to about 10 epochs ({MINIBATCH_SECTION}).")


def _train(t, train_mlp, seed):
    """(what train_mlp returned, seconds it took, whether it drew from np.random's state)."""
    X_train, y_train = _mnist("train")
    rng = _default_rng(seed)
    global_state = _global_state()
    started = _perf_counter()
    result = t.call(_train_stopping_on_overflow, train_mlp, X_train, y_train, rng,
                    label="train_mlp(X_train, y_train, rng)", may_change_inputs=True,
                    warning_hint=DIVERGED_HINT)
    seconds = _perf_counter() - started
    return result, seconds, _global_state() != global_state


def _training_memory():
    """remember(func, seed, run) / recall(func, seed): the last training run of the check.

    Kept in a closure, not in a module variable that a notebook could overwrite with layers
    trained elsewhere; recall only returns a run of the very same function object and seed.
    """
    last = {}

    def remember(func, seed, run):
        last.clear()
        last["run"] = (func, seed, run)

    def recall(func, seed):
        if "run" not in last:
            return None
        remembered_func, remembered_seed, run = last["run"]
        return run if remembered_func is func and remembered_seed == seed else None

    return remember, recall


_remember_training, _recall_training = _training_memory()
