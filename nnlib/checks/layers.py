"""Checks for the "Your turn" cells of lessons 03 and 04: gates, layers and the update step.

``check_neuron_gradients`` (one sigmoid neuron's backward pass, lesson 03 section 3.2),
``check_relu_layer`` (a ReLU layer class with forward and backward, lesson 03 section 7) and
``check_sgd_step`` (one plain gradient-descent update over a list of layers, lesson 04) and
``check_predict_classes`` (the forward loop over a list of layers, then the most likely class).

Expected values are computed here in plain Python (math, lists); the neuron's gradients are also
compared with central differences, an independent second opinion.
"""

import math

import numpy as np

from nnlib.checks._core import check, quietly

__all__ = ["check_neuron_gradients", "check_predict_classes", "check_relu_layer", "check_sgd_step"]

_exp = math.exp
_asarray = np.asarray


def _py_sigmoid(v):
    if v >= 0:
        return 1.0 / (1.0 + _exp(-v))
    u = _exp(v)
    return u / (1.0 + u)


def _py_neuron(x, w, b):
    return _py_sigmoid(sum(xi * wi for xi, wi in zip(x, w)) + b)


# --- one neuron ---------------------------------------------------------------------------------

NEURON_SECTION = "lesson 03, section 3.2 (one neuron as a graph)"


@check("neuron_gradients", lesson="lesson 03")
def check_neuron_gradients(t, neuron_gradients, cases=None):
    """Check neuron_gradients(x, w, b) -> (dp/dw, dp/db, dp/dx) for p = sigmoid(x @ w + b)."""
    default = [(np.array([2.0, 1.5]), np.array([0.5, -1.0]), 1.5),
               (t.rng.normal(size=4), t.rng.normal(size=4), float(t.rng.normal()))]
    for x, w, b in cases if cases is not None else default:
        _neuron_case(t, neuron_gradients, _asarray(x, dtype=float), _asarray(w, dtype=float),
                     float(b))


def _neuron_case(t, neuron_gradients, x, w, b):
    n = x.shape[0]
    label = f"neuron_gradients(x, w, b) with {n} inputs"
    result = t.call(neuron_gradients, x, w, b, label=label,
                    error_hint=f"Walk the graph backwards: sigma, then +, then each × "
                               f"({NEURON_SECTION}).")
    if not isinstance(result, tuple) or len(result) != 3:
        t.fail(f"{label} must return three things: `return grad_w, grad_b, grad_x`.")
    xs, ws = x.tolist(), w.tolist()
    p = _py_neuron(xs, ws, b)
    local = p * (1.0 - p)                                   # the sigmoid gate's local gradient
    expected = {"grad_w": [local * xi for xi in xs], "grad_b": [local],
                "grad_x": [local * wi for wi in ws]}
    eps = 1e-6
    numerical = {
        "grad_w": [(_py_neuron(xs, [v + eps * (j == i) for j, v in enumerate(ws)], b)
                    - _py_neuron(xs, [v - eps * (j == i) for j, v in enumerate(ws)], b)) / (2 * eps)
                   for i in range(n)],
        "grad_b": [(_py_neuron(xs, ws, b + eps) - _py_neuron(xs, ws, b - eps)) / (2 * eps)],
        "grad_x": [(_py_neuron([v + eps * (j == i) for j, v in enumerate(xs)], ws, b)
                    - _py_neuron([v - eps * (j == i) for j, v in enumerate(xs)], ws, b))
                   / (2 * eps) for i in range(n)],
    }
    shapes = {"grad_w": (n,), "grad_b": (), "grad_x": (n,)}
    swapped = {"grad_w": "grad_x", "grad_x": "grad_w"}
    for position, name in enumerate(("grad_w", "grad_b", "grad_x")):
        value = t.array(result[position], label=f"{label}: {name}", shape=shapes[name])
        right = _asarray(expected[name]).reshape(shapes[name])
        t.close(numerical[name], expected[name], label=f"{name} (finite differences)",
                rtol=1e-5, atol=1e-8)  # the plain-Python reference agrees with the graph
        mistakes = [(right / local if local else None,
                     ("the sigmoid gate's local gradient p (1 - p) is missing: every gradient "
                     "below the sigma gate is p (1 - p) times the local gradient of its gate.")),
                    (quietly(lambda right=right: right * local),
                     ("p (1 - p) is applied twice: the sigma gate's local gradient multiplies "
                     "once, at that gate."))]
        if name in swapped:
            other = _asarray(expected[swapped[name]])
            mistakes.append((other, (f"that is {swapped[name]}: a multiply gate w x sends "
                                    f"x back to w and w back to x (each input's local "
                                    f"gradient is the *other* input).")))
        t.close(value, right, label=f"{label}: {name}", mistakes=mistakes,
                hint=f"Upstream gradient times local gradient, gate by gate ({NEURON_SECTION}).")


# --- a ReLU layer -------------------------------------------------------------------------------

LAYERS_SECTION = "lesson 03, section 7 (layers)"


@check("ReLU", lesson="lesson 03")
def check_relu_layer(t, ReLU, cases=None):
    """Check the ReLU class: ReLU(), forward(z) = max(0, z), backward(upstream) = upstream * (z > 0)."""
    layer = t.call(ReLU, label="ReLU()")
    for method in ("forward", "backward"):
        if not callable(getattr(layer, method, None)):
            t.fail(f"ReLU: the layer has no method {method}; write `def {method}(self, ...)` "
                   f"inside the class ({LAYERS_SECTION}).")
    shapes = [(4, 5), (3, 2)] if cases is None else [np.shape(case) for case in cases]
    earlier = t.rng.normal(size=shapes[0])
    t.call(layer.forward, earlier, label="ReLU.forward(z) for an earlier batch")
    for k, shape in enumerate(shapes):
        z = t.rng.normal(size=shape) if cases is None else _asarray(cases[k], dtype=float)
        if cases is None:
            z[0, 0] = 0.0  # the kink: the derivative is taken as 0 there
        upstream = t.rng.normal(size=shape)
        out = t.call(layer.forward, z, label=f"ReLU.forward(z) for z of shape {shape}")
        out = t.array(out, label="ReLU.forward(z)", shape=shape)
        zs, gs = z.reshape(-1).tolist(), upstream.reshape(-1).tolist()
        t.close(out, _asarray([max(0.0, v) for v in zs]).reshape(shape),
                label="ReLU.forward(z)",
                mistakes=[(_asarray([v > 0 for v in zs], dtype=float).reshape(shape),
                           "that is the derivative (z > 0); forward returns max(0, z).")],
                hint="forward returns np.maximum(0, z) and keeps what backward needs.")
        grad = t.call(layer.backward, upstream,
                      label=f"ReLU.backward(upstream) for shape {shape}",
                      error_hint="backward needs the input of the last forward call: store it "
                                 "in forward (self.something = z).")
        grad = t.array(grad, label="ReLU.backward(upstream)", shape=shape)
        ez = earlier.reshape(-1).tolist()
        t.close(grad, _asarray([g if v > 0 else 0.0 for g, v in zip(gs, zs)]).reshape(shape),
                label="ReLU.backward(upstream)",
                mistakes=[(upstream, ("the gradient passes unchanged: it must be 0 wherever the "
                                     "input z was not positive (z > 0 is the local gradient).")),
                          (_asarray([float(v > 0) for v in zs]).reshape(shape),
                           "you returned the local gradient alone; multiply it by upstream."),
                          (_asarray([g if v > 0 else 0.0 for g, v in zip(gs, ez)]).reshape(shape)
                           if np.shape(earlier) == shape else None,
                           ("backward used the input of an earlier forward call: store the "
                           "latest input in every forward call."))],
                hint=f"backward returns upstream * (z > 0) for the z of the last forward "
                     f"({LAYERS_SECTION}).")
        earlier = z


# --- one update step ----------------------------------------------------------------------------

class _ToyDense:
    """A stand-in Dense layer: W, b and their gradients, no computation."""

    def __init__(self, rng, shape):
        self.W = rng.normal(size=shape)
        self.b = rng.normal(size=shape[1])
        self.grad_W = rng.normal(size=shape)
        self.grad_b = rng.normal(size=shape[1])


class _ToyActivation:
    """A stand-in layer without parameters."""


@check("sgd_step", lesson="lesson 04")
def check_sgd_step(t, sgd_step):
    """Check sgd_step(layers, learning_rate): W -= lr grad_W and b -= lr grad_b for every layer
    that has parameters, in place; layers without W are left alone."""
    layers = [_ToyDense(t.rng, (4, 3)), _ToyActivation(), _ToyDense(t.rng, (3, 2))]
    before = [(layer.W.copy(), layer.b.copy(), id(layer.W), id(layer.b))
              for layer in layers if hasattr(layer, "W")]
    gradients = [(layer.grad_W.copy(), layer.grad_b.copy()) for layer in layers
                 if hasattr(layer, "W")]
    learning_rate = 0.3
    t.call(sgd_step, layers, learning_rate, label="sgd_step(layers, 0.3)", may_change_inputs=True,
           error_hint="Layers without parameters (the activations) have no W: skip them "
                      "(`if hasattr(layer, 'W')`).")
    dense = [layer for layer in layers if hasattr(layer, "W")]
    for number, (layer, (W, b, _, _), (grad_W, grad_b)) in enumerate(zip(dense, before, gradients)):
        for name, old, grad in (("W", W, grad_W), ("b", b, grad_b)):
            new = t.array(getattr(layer, name), label=f"layer {number}'s {name} after the step",
                          shape=old.shape)
            expected = [o - learning_rate * g for o, g in zip(old.reshape(-1).tolist(),
                                                                grad.reshape(-1).tolist())]
            t.close(new, _asarray(expected).reshape(old.shape),
                    label=f"layer {number}'s {name} after sgd_step",
                    mistakes=[(old + learning_rate * grad, ("you added the gradient: gradient "
                               "descent steps against it, W -= learning_rate * grad_W.")),
                              (old, (f"{name} did not change: update every layer that has "
                                    f"parameters, W and b both.")),
                              (old - grad, ("the learning rate is missing: W -= learning_rate "
                                           "* grad_W."))],
                    hint="W -= learning_rate * grad_W, b -= learning_rate * grad_b.")


# --- predicting with a list of layers -----------------------------------------------------------

class _FixedDense:
    """A dense layer with given weights: forward(x) = x W + b."""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, batch):
        return batch @ self.W + self.b


class _FixedReLU:
    def forward(self, z):
        return np.maximum(z, 0.0)


@check("predict_classes", lesson="lesson 04")
def check_predict_classes(t, predict_classes):
    """Check predict_classes(layers, X) -> (N,) class ids: the forward loop, then argmax."""
    shapes = [(6, 5), (5, 4)]
    weights = [(t.rng.normal(size=shape), t.rng.normal(size=shape[1])) for shape in shapes]
    layers = [_FixedDense(*weights[0]), _FixedReLU(), _FixedDense(*weights[1])]
    X = t.rng.normal(size=(7, 6))
    label = "predict_classes(layers, X) for 7 examples and 4 classes"
    result = t.call(predict_classes, layers, X, label=label,
                    error_hint="Call layer.forward on the output of the layer before, in order.")
    classes = t.array(result, label=label, shape=(7,), kind="number", shape_hints={
        (7, 4): "those are the logits: return the index of the largest one per row, "
                "argmax(axis=1).",
        (6,): "you took the argmax over the examples (axis=0); take it over the classes, axis=1."})
    # the expected classes in plain Python
    rows = X.tolist()
    for W, b in (weights[0], weights[1]):
        W_list, b_list = W.tolist(), b.tolist()
        rows = [[sum(r[i] * W_list[i][j] for i in range(len(r))) + b_list[j]
                 for j in range(len(b_list))] for r in rows]
        if W is weights[0][0]:
            rows = [[max(v, 0.0) for v in r] for r in rows]
    expected = [max(range(len(r)), key=r.__getitem__) for r in rows]
    skipped_relu = (X @ weights[0][0] + weights[0][1]) @ weights[1][0] + weights[1][1]
    t.close(classes.astype(float), _asarray(expected, dtype=float), label=label, rtol=0, atol=0,
            mistakes=[(skipped_relu.argmax(axis=1).astype(float),
                       ("those are the classes without the ReLU: run every layer, activations "
                       "too."))],
            hint="Run X through every layer in order, then take argmax(axis=1).")
