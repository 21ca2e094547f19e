"""Checks for exercise set ex03_backprop (lesson 03): the 2-3-1 XOR network by hand.

``check_forward``, ``check_backward``, ``check_train_xor`` and ``check_dense``. The network is
lesson 03's: ``Z1 = X W1 + b1``, ``A1 = sigmoid(Z1)``, ``Z2 = A1 W2 + b2``, ``P = sigmoid(Z2)``,
with the mean binary cross-entropy as the loss. ``cases=[...]`` replaces a check's seeded inputs
(the hidden tests pass other batch sizes and float32 that way).

Expected values come from nnlib's sigmoid and are computed again in plain Python; the gradients
are computed again by central differences of a plain-Python loss, an independent second opinion.
"""

import math
import warnings

import numpy as np

import nnlib.activations
from nnlib.activations import sigmoid as _reference_sigmoid
from nnlib.checks._core import CheckFailed, check, describe, first_mismatch, guard, quietly

__all__ = ["check_backward", "check_dense", "check_forward", "check_train_xor"]

guard(nnlib.activations, ["sigmoid"], "nnlib.activations")

_exp = math.exp
_log = math.log
_asarray = np.asarray

PARAMETER_SHAPES = {"W1": (2, 3), "b1": (3,), "W2": (3, 1), "b2": (1,)}
XOR_X = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))
XOR_Y = (0, 1, 1, 0)
FORWARD_SECTION = "lesson 03, section 3.1"
BACKWARD_SECTION = "lesson 03, section 3.2"


# --- plain-Python second opinions ---------------------------------------------------------------

def _py_sigmoid(v):
    if v >= 0:
        return 1.0 / (1.0 + _exp(-v))
    u = _exp(v)
    return u / (1.0 + u)


def _py_forward(X, params):
    """Output probabilities (a list of N floats) of the 2-3-1 network, in plain Python."""
    W1, b1 = params["W1"].tolist(), params["b1"].tolist()
    W2, b2 = params["W2"].tolist(), params["b2"].tolist()
    outputs = []
    for row in X.tolist():
        hidden = [_py_sigmoid(sum(row[i] * W1[i][h] for i in range(len(row))) + b1[h])
                  for h in range(len(b1))]
        outputs.append(_py_sigmoid(sum(hidden[h] * W2[h][0] for h in range(len(hidden)))
                                   + b2[0]))
    return outputs


def _py_loss(X, y, params):
    """Mean binary cross-entropy of the network on (X, y), in plain Python."""
    outputs = _py_forward(X, params)
    total = 0.0
    for p, label in zip(outputs, y.tolist()):
        p = min(max(p, 1e-15), 1.0 - 1e-15)  # a saturated output must not stop the check
        total -= _log(p) if label == 1 else _log(1.0 - p)
    return total / len(outputs)


def _py_numerical_gradients(X, y, params, eps=1e-6):
    """{name: flat list} of central-difference gradients of the loss, in plain Python."""
    gradients = {}
    for name in PARAMETER_SHAPES:
        flat = []
        for index in np.ndindex(params[name].shape):
            shifted = {key: value.astype(np.float64) for key, value in params.items()}
            shifted[name][index] += eps
            after = _py_loss(X, y, shifted)
            shifted[name][index] -= 2 * eps
            before = _py_loss(X, y, shifted)
            flat.append((after - before) / (2 * eps))
        gradients[name] = flat
    return gradients


# --- references in NumPy ------------------------------------------------------------------------

def _reference_forward(X, params):
    hidden = _reference_sigmoid(X @ params["W1"] + params["b1"])
    return hidden, _reference_sigmoid(hidden @ params["W2"] + params["b2"])


def _reference_gradients(X, y, params):
    """The gradients of lesson 03, section 3.2, and the wrong variants a check recognises."""
    hidden, output = _reference_forward(X, params)
    labels = y.reshape(-1, 1).astype(output.dtype)
    batch = X.shape[0]
    grad_z2 = (output - labels) / batch
    grad_hidden = grad_z2 @ params["W2"].T
    grad_z1 = grad_hidden * hidden * (1 - hidden)
    right = {"W2": hidden.T @ grad_z2, "b2": grad_z2.sum(axis=0),
             "W1": X.T @ grad_z1, "b1": grad_z1.sum(axis=0)}
    # dL/dZ2 without the P(1 - P) cancelling: the sigmoid's derivative applied a second time.
    grad_z2_extra = grad_z2 * output * (1 - output)
    # Through the hidden layer with sigma'(A1) = sigmoid(A1)(1 - sigmoid(A1)) instead of A1(1-A1).
    twice = _reference_sigmoid(hidden)
    grad_z1_twice = grad_hidden * twice * (1 - twice)
    grad_z1_no_derivative = grad_hidden
    wrong = {
        "extra_output_derivative": {
            "W2": hidden.T @ grad_z2_extra, "b2": grad_z2_extra.sum(axis=0),
            "W1": X.T @ ((grad_z2_extra @ params["W2"].T) * hidden * (1 - hidden))},
        "derivative_of_activation": {"W1": X.T @ grad_z1_twice, "b1": grad_z1_twice.sum(axis=0)},
        "no_hidden_derivative": {"W1": X.T @ grad_z1_no_derivative,
                                 "b1": grad_z1_no_derivative.sum(axis=0)},
    }
    return right, wrong


# --- inputs -------------------------------------------------------------------------------------

def _what(value):
    """How a returned value is described in a message; None gets the usual reminder."""
    if value is None:
        return "None (did you forget the `return` statement?)"
    return describe(value)


def _random_params(rng, dtype=np.float64):
    return {name: rng.normal(size=shape).astype(dtype) for name, shape in PARAMETER_SHAPES.items()}


def _copy_params(params):
    return {name: _asarray(value).copy() for name, value in params.items()}


def _default_cases(t):
    X = t.rng.normal(size=(5, 2))
    return [(X, _random_params(t.rng), (t.rng.random(5) < 0.5).astype(np.int64)),
            (np.array(XOR_X), _random_params(t.rng), np.array(XOR_Y))]


# --- forward ------------------------------------------------------------------------------------

def _forward_result(t, forward, X, params):
    """Call forward(X, params) and return (P, cache), P validated as an (N, 1) array."""
    label = f"forward(X, params) with X of shape {X.shape}"
    result = t.call(forward, X, _copy_params(params), label=label,
                    error_hint=f"Each step is X @ W + b then the sigmoid ({FORWARD_SECTION}).")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        t.fail(f"{label} returned {_what(result)}; it must return two things, the output and "
               f"the cache that backward needs: `return P, cache`.")
    N = X.shape[0]
    P = t.array(result[0], label=f"{label}: the output P", shape=(N, 1), shape_hints={
        (N,): "keep P a column of shape (N, 1), as A1 @ W2 gives it.",
        (N, 3): "that is the hidden layer's shape: apply the output layer (A1 @ W2 + b2) too.",
        (1, N): "rows are examples: compute A1 @ W2, not W2.T @ A1.T.",
    })
    return P, result[1]


@check("forward", lesson="lesson 03")
def check_forward(t, forward, cases=None):
    """Check forward(X, params) -> (P, cache) of the 2-3-1 sigmoid network."""
    for X, params, _ in cases if cases is not None else _default_cases(t):
        _forward_case(t, forward, _asarray(X), params)


def _forward_case(t, forward, X, params):
    P, _ = _forward_result(t, forward, X, params)
    hidden, expected = _reference_forward(X, params)
    without_bias = _reference_sigmoid(
        _reference_sigmoid(X @ params["W1"]) @ params["W2"])
    t.close(P, expected, label=f"forward: the output P for X of shape {X.shape}",
            recheck=_py_forward(X, params),
            mistakes=[
                (hidden @ params["W2"] + params["b2"],
                 ("that is Z2, the output before its sigmoid: P = sigmoid(Z2) is a "
                 f"probability ({FORWARD_SECTION}).")),
                (quietly(lambda: _reference_sigmoid((X @ params["W1"] + params["b1"])
                                                    @ params["W2"] + params["b2"])),
                 ("the hidden layer has no sigmoid: A1 = sigmoid(X @ W1 + b1). Without it "
                 "the two layers collapse into one linear layer, which cannot solve XOR.")),
                (without_bias, "the biases b1 and b2 are missing: Z = X @ W + b."),
            ],
            hint=f"Compare each step with {FORWARD_SECTION}.")


# --- backward -----------------------------------------------------------------------------------

GRADIENT_HINTS = {
    "W1": {(3, 2): "the gradient has its parameter's shape (2, 3): X.T @ dL/dZ1."},
    "W2": {(1, 3): "the gradient has its parameter's shape (3, 1): A1.T @ dL/dZ2."},
}


def _shape_hints(name, N):
    hints = dict(GRADIENT_HINTS.get(name, {}))
    if name == "b1":
        hints[(N, 3)] = "sum over the batch: dL/db1 = dL/dZ1.sum(axis=0)."
        hints[(N,)] = "you summed over axis 1 (the units); sum over the examples, axis=0."
        hints[()] = "you summed everything; sum over the examples only, axis=0, to get (3,)."
    if name == "b2":
        hints[(N, 1)] = "sum over the batch: dL/db2 = dL/dZ2.sum(axis=0)."
        hints[(N,)] = ("P - y broadcast, or you summed over axis 1: y of shape (N,) must become "
                       "a column (y[:, None]) before P - Y, and b's gradient sums over axis 0.")
        hints[()] = "keep the shape (1,): sum over axis 0 only."
    if name == "W2":
        hints[(3, N)] = (f"P - y broadcast to ({N}, {N}): P has shape ({N}, 1) and y ({N},); "
                         f"reshape the labels to a column first, Y = y[:, None] "
                         f"({BACKWARD_SECTION}, lesson 01, section 4).")
    return hints


def _backward_mistakes(name, right, wrong, N):
    mistakes = [
        (right[name] * N, (f"{N} times too large (the batch size): the loss is the mean over "
                          f"the batch, so dL/dZ2 = (P - Y) / N ({BACKWARD_SECTION}, step 1).")),
        (right[name] / N, f"{N} times too small: divide by N once, in dL/dZ2 = (P - Y) / N."),
        (-right[name], "the sign is flipped: dL/dZ2 = P - Y, not Y - P (over N)."),
        (wrong["extra_output_derivative"].get(name),
         ("the output's P(1 - P) cancels against the cross-entropy's derivative: dL/dZ2 is just "
         f"(P - Y) / N, without another factor P(1 - P) ({BACKWARD_SECTION}, step 1).")),
        (wrong["derivative_of_activation"].get(name),
         ("you applied the sigmoid's derivative formula to the activation: sigma'(Z1) is "
         "A1 * (1 - A1) with A1 = sigmoid(Z1) from the cache; sigmoid(A1) * (1 - sigmoid(A1)) "
         f"is something else ({BACKWARD_SECTION}, step 4).")),
        (wrong["no_hidden_derivative"].get(name),
         ("the hidden sigmoid's derivative is missing: dL/dZ1 = dL/dA1 * A1 * (1 - A1) "
         f"({BACKWARD_SECTION}, step 4).")),
    ]
    return mistakes


def _right_with_a_label_column(backward, cache, X, y, params):
    """True if backward(cache, Y, params) with the labels as an (N, 1) column is right.

    Only ever used to explain a failure, never to pass an answer.
    """
    right, _ = _reference_gradients(X, y, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                grads = backward(cache, y.reshape(-1, 1), _copy_params(params))
                if not isinstance(grads, dict):
                    return False
                for name, expected in right.items():
                    got = np.asarray(grads[name], dtype=np.float64)
                    if got.shape != expected.shape or first_mismatch(
                            got.reshape(-1).tolist(), expected.reshape(-1).tolist(),
                            1e-4, 1e-6) >= 0:
                        return False
            except (Exception, SystemExit):  # noqa: BLE001 -- any failure: not this mistake
                return False
    return True


MATMUL_HINT = ("If the error is about the shapes of a product: going back through Z = A @ W, "
               "the gradient is dL/dA = G @ W.T (not G @ W), dL/dW = A.T @ G; and the labels "
               f"y (N,) must become a column Y = y[:, None] like P ({BACKWARD_SECTION}, "
               "steps 2-3).")


@check("backward", lesson="lesson 03")
def check_backward(t, backward, forward=None, cases=None):
    """Check backward(cache, y, params) -> {name: gradient}, on the cache of your forward."""
    if forward is None or not callable(forward):
        t.fail("check_backward needs your forward as well, to make the cache: "
               "check_backward(backward, forward=forward).")
    for X, params, y in cases if cases is not None else _default_cases(t):
        _backward_case(t, forward, backward, _asarray(X), params, _asarray(y))


def _backward_case(t, forward, backward, X, params, y):
    N = X.shape[0]
    P, cache = _forward_result(t, forward, X, params)
    _, expected_P = _reference_forward(X, params)
    if not quietly(lambda: bool(np.all(np.abs(P - expected_P) < 1e-4))):
        t.fail("backward: your forward is not right yet, and backward works on its cache. "
               "Make check_forward pass first.")
    label = f"backward(cache, y, params) with a batch of {N}"
    try:
        grads = t.call(backward, cache, y, _copy_params(params), label=label,
                       error_hint=MATMUL_HINT)
    except CheckFailed:
        if _right_with_a_label_column(backward, cache, X, y, params):
            t.fail(f"{label} failed with the labels y of shape ({N},), as backward receives "
                   f"them, but gives the right gradients when they come as a column ({N}, 1): "
                   f"reshape them first, Y = y[:, None], so that P - Y has the shape ({N}, 1) "
                   f"of P; P - y broadcasts to ({N}, {N}) ({FORWARD_SECTION}, lesson 01, "
                   f"section 4).")
        raise
    if not isinstance(grads, dict):
        t.fail(f"{label} returned {_what(grads)}; return a dict of gradients with the "
               f"parameters' names: {{'W1': ..., 'b1': ..., 'W2': ..., 'b2': ...}}.")
    missing = [name for name in PARAMETER_SHAPES if name not in grads]
    if missing:
        t.fail(f"{label}: the dict has the keys {sorted(map(str, grads))}; it needs exactly "
               f"the parameters' names W1, b1, W2, b2 (missing: {', '.join(missing)}), so that "
               f"`params[name] -= lr * grads[name]` works for every parameter.")
    right, wrong = _reference_gradients(X, y, params)
    numerical = _py_numerical_gradients(X, y, params)
    done = []
    single = X.dtype == np.float32
    rtol, atol = (1e-4, 1e-6) if single else (1e-5, 1e-7)
    for name in ("W2", "b2", "W1", "b1"):
        shape = PARAMETER_SHAPES[name]
        gradient = t.array(grads[name], label=f"{label}: grads['{name}']", shape=shape,
                           shape_hints=_shape_hints(name, N))
        where = ""
        if name in ("W1", "b1") and done == ["W2", "b2"]:
            where = (" (W2 and b2 are right, so steps 1-2 are fine: look at steps 3-5, back "
                     "through W2 and the hidden sigmoid.)")
        t.close(gradient, right[name], label=f"{label}: grads['{name}']",
                rtol=rtol, atol=atol, recheck=numerical[name],
                mistakes=_backward_mistakes(name, right, wrong, N),
                hint=f"Compare with {BACKWARD_SECTION}.{where}")
        done.append(name)


# --- train_xor ----------------------------------------------------------------------------------

def _accuracy_and_loss(params):
    X = np.array(XOR_X)
    outputs = _py_forward(X, params)
    correct = sum(1 for p, label in zip(outputs, XOR_Y) if (p > 0.5) == (label == 1))
    return correct, _py_loss(X, np.array(XOR_Y), params)


def _trained_params(t, train_xor, seed):
    label = f"train_xor({seed})"
    params = t.call(train_xor, seed, label=label)
    if not isinstance(params, dict):
        t.fail(f"{label} returned {_what(params)}; return the trained parameters, the dict "
               f"{{'W1': ..., 'b1': ..., 'W2': ..., 'b2': ...}}.")
    checked = {}
    for name, shape in PARAMETER_SHAPES.items():
        if name not in params:
            t.fail(f"{label}: the returned dict has no '{name}'; it needs W1, b1, W2, b2.")
        checked[name] = t.array(params[name], label=f"{label}['{name}']", shape=shape,
                                nonfinite_hint="The training diverged: lower the learning rate.")
    return checked


@check("train_xor", lesson="lesson 03")
def check_train_xor(t, train_xor, seeds=(0, 1, 2), at_least=None):
    """Check that train_xor(seed) reaches 100 % on the truth table, reproducibly.

    ``at_least``: how many of ``seeds`` must succeed (default all of them).
    """
    seeds = list(seeds)
    needed = len(seeds) if at_least is None else at_least
    results = {seed: _trained_params(t, train_xor, seed) for seed in seeds}
    again = _trained_params(t, train_xor, seeds[0])
    t.true(all(again[name].tolist() == results[seeds[0]][name].tolist()
               for name in PARAMETER_SHAPES),
           f"train_xor({seeds[0]}) gave different weights when called twice: draw every random "
           f"number from np.random.default_rng(seed), not from np.random's global state.")
    if len(seeds) > 1:
        t.true(results[seeds[0]]["W1"].tolist() != results[seeds[1]]["W1"].tolist(),
               f"train_xor({seeds[0]}) and train_xor({seeds[1]}) gave the same weights: start "
               f"from rng = np.random.default_rng(seed), so that the seed chooses the start.")
    failures = []
    for seed, params in results.items():
        correct, loss = _accuracy_and_loss(params)
        if correct < 4:
            failures.append((seed, correct, loss))
    if len(seeds) - len(failures) >= needed:
        t.tests += 1
        return
    seed, correct, loss = failures[0]
    message = (f"train_xor({seed}) classifies {correct} of the 4 truth-table rows correctly "
               f"(loss {loss:.3g}); it must get all 4.")
    if loss > _log(2.0) + 0.05:
        message += (" The loss is above log 2 = 0.693, where a coin flip would be: did you add "
                    "the gradient instead of subtracting it (params[name] -= lr * grads[name])?")
    else:
        message += (" Train longer or with a larger learning rate (lesson 03, section 4 uses "
                    "2.0 for 3000 epochs; 5000 epochs solve XOR from nearly every start), and "
                    "update every parameter at every epoch.")
    t.fail(message)


# --- Dense --------------------------------------------------------------------------------------

DENSE_SECTION = "lesson 03, section 3.2 (the general rule for a dense layer)"


def _dense_attribute(t, layer, name, shape, when, shape_hints=None):
    if not hasattr(layer, name):
        t.fail(f"Dense: {when} the layer has no attribute {name}; it needs W (in_features, "
               f"out_features) and b (out_features,), and backward stores grad_W and grad_b.")
    hints = {shape[::-1]: "W has the shape (in_features, out_features), so that a batch-first "
                          "x @ W works."} if len(shape) == 2 else {}
    hints.update(shape_hints or {})
    return t.array(getattr(layer, name), label=f"Dense.{name} {when}".rstrip(), shape=shape,
                   shape_hints=hints)


def _dense_case(t, Dense, in_features, out_features, batch, dtype=np.float64):
    layer = t.call(Dense, in_features, out_features, np.random.default_rng(7),
                   label=f"Dense({in_features}, {out_features}, rng)")
    W0 = _dense_attribute(t, layer, "W", (in_features, out_features), "after Dense(...)")
    _dense_attribute(t, layer, "b", (out_features,), "after Dense(...)")
    t.true(any(v != 0.0 for v in W0.reshape(-1).tolist()),
           "Dense: every initial weight is 0, so every unit would compute the same thing and "
           "receive the same gradient; draw W from the rng (e.g. rng.normal(size=...) * scale).")
    W = t.rng.normal(size=(in_features, out_features)).astype(dtype)
    b = t.rng.normal(size=out_features).astype(dtype)
    layer.W, layer.b = W.copy(), b.copy()
    first = t.rng.normal(size=(batch, in_features)).astype(dtype)
    x = t.rng.normal(size=(batch, in_features)).astype(dtype)
    grad_output = t.rng.normal(size=(batch, out_features)).astype(dtype)
    shape_text = f"a ({batch}, {in_features}) batch"

    t.call(layer.forward, first, label=f"Dense.forward(x) for {shape_text}")
    out = t.call(layer.forward, x, label=f"Dense.forward(x) for {shape_text}")
    out = t.array(out, label="Dense.forward(x)", shape=(batch, out_features))
    t.close(out, x @ W + b, label="Dense.forward(x)",
            mistakes=[(x @ W, "the bias is missing: out = x @ W + b.")],
            hint="forward computes x @ W + b (lesson 03, section 3.1).")

    grad_input = t.call(layer.backward, grad_output,
                        label=f"Dense.backward(grad_output) for {shape_text}",
                        error_hint="dL/dx = grad_output @ W.T: its shape is (N, in_features).")
    grad_input = t.array(grad_input, label="Dense.backward(grad_output), the input gradient",
                         shape=(batch, in_features),
                         shape_hints={(batch, out_features): "return dL/dx = grad_output @ W.T, "
                                                             "the gradient for the input."})
    t.close(grad_input, grad_output @ W.T, label="Dense.backward: the input gradient dL/dx",
            mistakes=[(quietly(lambda: grad_output @ W), ("you used W instead of W.T: going "
                       f"back through x @ W multiplies by the transpose ({DENSE_SECTION})."))],
            hint=f"dL/dx = grad_output @ W.T ({DENSE_SECTION}).")
    from_output = ("grad_W was computed from the layer's output; dL/dW = x.T @ grad_output "
                   "needs the input x, which forward must cache (self.x = x).")
    grad_W = _dense_attribute(t, layer, "grad_W", (in_features, out_features),
                              "after backward", {(out_features, out_features): from_output})
    t.close(grad_W, x.T @ grad_output, label="Dense.grad_W",
            mistakes=[
                (first.T @ grad_output,
                 ("grad_W was computed from the input of an earlier forward call: forward must "
                 "store its latest input (self.x = x), and backward must use that.")),
                (quietly(lambda: (x @ W + b).T @ grad_output) if in_features == out_features
                 else None, from_output),
                (x.T @ grad_output / batch, ("grad_W was divided by N: the 1/N already sits in "
                                            "grad_output (it came from the loss).")),
            ],
            hint=f"dL/dW = x.T @ grad_output ({DENSE_SECTION}).")
    grad_b = _dense_attribute(t, layer, "grad_b", (out_features,), "after backward", {
        (batch, out_features): "sum over the batch: grad_b = grad_output.sum(axis=0).",
        (batch,): "sum over the examples, axis=0, not over the units.",
    })
    t.close(grad_b, grad_output.sum(axis=0), label="Dense.grad_b",
            mistakes=[(grad_output.mean(axis=0), ("grad_b is the mean over the batch; it is the "
                       "sum, grad_output.sum(axis=0) (the 1/N is already in grad_output)."))],
            hint=f"dL/db = grad_output.sum(axis=0) ({DENSE_SECTION}).")
    t.true(layer.W.tolist() == W.tolist() and layer.b.tolist() == b.tolist(),
           "Dense.backward changed W or b: backward only computes the gradients; the training "
           "loop makes the update.")


@check("Dense", lesson="lesson 03")
def check_dense(t, Dense, cases=None):
    """Check the Dense class: Dense(in, out, rng), forward(x), backward(grad_output)."""
    default = [(4, 3, 5), (3, 3, 6)]  # a square layer: W and W.T have the same shape
    for case in cases if cases is not None else default:
        _dense_case(t, Dense, *case)
