"""Backpropagation one number at a time: lesson 03's pictures of the chain rule.

Two pictures and one widget:

    plot_neuron_graph(values, gradients)   one sigmoid neuron as a graph of gates, with the
                                           forward value (above) and the gradient (below) of
                                           every edge written on it
    backprop_steps(params, x, y)           the forward and backward pass of the 2-3-1 XOR network
                                           on one example, as a list of Steps, one number each
    draw_step(ax, steps, index)            the network diagram after steps[0..index]
    backprop_stepper(params, x, y)         Back / Next buttons and a slider over those steps

The network is lesson 03's: ``z1 = x W1 + b1`` (3,), ``a1 = sigmoid(z1)``, ``z2 = a1 W2 + b2``
(1,), ``p = sigmoid(z2)``, loss ``L = -[y log p + (1 - y) log(1 - p)]`` for one example. The
steps compute every number with scalar arithmetic, one unit and one weight at a time, so that
each is "local gradient times upstream gradient" and each formula can be shown with its numbers.
"""

import math
from typing import NamedTuple

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from nnlib.plotting import BLUE, INK, NEUTRAL, VERMILION
from nnlib.widgets import FigureView

PARAMETER_SHAPES = {"W1": (2, 3), "b1": (3,), "W2": (3, 1), "b2": (1,)}
FORWARD_COLOR = BLUE       # forward values
GRADIENT_COLOR = VERMILION  # gradients
MIN_FONT = 9                # no text in these pictures is smaller


def _fmt(value):
    """A number with 3 decimals, without the confusing '-0.000'."""
    text = f"{value:.3f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _sigmoid(v):
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    u = math.exp(v)
    return u / (1.0 + u)


# --- one neuron as a graph of gates ---------------------------------------------------------------

NEURON_EDGES = ("w1", "x1", "w2", "x2", "b", "m1", "m2", "z", "p")
_NEURON_GATES = {"mul1": (2.4, 2.5, "×"), "mul2": (2.4, 0.0, "×"), "add": (4.8, 0.8, "+"),
                 "sigmoid": (7.0, 0.8, "σ")}
_NEURON_SOURCES = {"w1": (0.0, 3.2), "x1": (0.0, 1.8), "w2": (0.0, 0.7), "x2": (0.0, -0.7),
                   "b": (4.8, -1.5)}
_NEURON_WIRES = {"w1": ("w1", "mul1"), "x1": ("x1", "mul1"), "w2": ("w2", "mul2"),
                 "x2": ("x2", "mul2"), "b": ("b", "add"), "m1": ("mul1", "add"),
                 "m2": ("mul2", "add"), "z": ("add", "sigmoid"), "p": ("sigmoid", "out")}
_GATE_RADIUS = 0.36
_SOURCE_NAMES = {"w1": "$w_1$", "x1": "$x_1$", "w2": "$w_2$", "x2": "$x_2$", "b": "$b$"}


def plot_neuron_graph(values, gradients=None, ax=None):
    """Draw p = sigmoid(w1 x1 + w2 x2 + b) as multiply, add and sigmoid gates.

    values: {edge: forward value} for the edges w1, x1, w2, x2, b, m1 (= w1 x1), m2 (= w2 x2),
      z (= m1 + m2 + b) and p; written above each edge (left of the vertical b) in blue.
    gradients: the same keys, dp/d(edge) (or dL/d(edge)); written below each edge (right of b)
      in vermilion. None draws the forward pass only.
    Returns the Figure.
    """
    missing = [name for name in NEURON_EDGES if name not in values]
    if missing:
        raise ValueError(f"values needs a number for every edge {NEURON_EDGES}; missing "
                         f"{missing}.")
    if gradients is not None:
        missing = [name for name in NEURON_EDGES if name not in gradients]
        if missing:
            raise ValueError(f"gradients needs a number for every edge {NEURON_EDGES}; missing "
                             f"{missing} (or pass gradients=None for the forward pass only).")
    if ax is None:
        _, ax = plt.subplots(figsize=(9.5, 4.6), layout="constrained")
    positions = {**{name: (x, y) for name, (x, y, _) in _NEURON_GATES.items()},
                 **_NEURON_SOURCES, "out": (9.0, 0.8)}
    label_style = {"fontsize": 11, "zorder": 3,
                   "bbox": {"facecolor": "white", "edgecolor": "none", "pad": 0.5}}
    for edge, (start, end) in _NEURON_WIRES.items():
        begin, finish = np.array(positions[start]), np.array(positions[end])
        direction = (finish - begin) / np.linalg.norm(finish - begin)
        if start in _NEURON_GATES:
            begin = begin + _GATE_RADIUS * direction
        if end in _NEURON_GATES:
            finish = finish - _GATE_RADIUS * direction
        ax.annotate("", xy=finish, xytext=begin, zorder=1,
                    arrowprops={"arrowstyle": "-|>", "color": "#888888", "lw": 1.3,
                                "shrinkA": 0, "shrinkB": 0})
        # sources: the label near the source end, where the wires are still far apart
        where = begin + (0.4 if start in _NEURON_SOURCES else 0.5) * (finish - begin)
        forward_text = _fmt(values[edge])
        gradient_text = None if gradients is None else _fmt(gradients[edge])
        if edge == "b":  # the vertical wire: value on its left, gradient on its right
            ax.text(where[0] - 0.12, where[1], forward_text, ha="right", va="center",
                    color=FORWARD_COLOR, fontweight="bold", **label_style)
            if gradient_text is not None:
                ax.text(where[0] + 0.12, where[1], gradient_text, ha="left", va="center",
                        color=GRADIENT_COLOR, **label_style)
            continue
        ax.text(where[0], where[1] + 0.14, forward_text, ha="center", va="bottom",
                color=FORWARD_COLOR, fontweight="bold", **label_style)
        if gradient_text is not None:
            ax.text(where[0], where[1] - 0.14, gradient_text, ha="center", va="top",
                    color=GRADIENT_COLOR, **label_style)
    for name, (x, y) in _NEURON_SOURCES.items():
        if name == "b":
            ax.text(x, y - 0.12, _SOURCE_NAMES[name], ha="center", va="top", fontsize=13,
                    color=INK)
        else:
            ax.text(x - 0.12, y, _SOURCE_NAMES[name], ha="right", va="center", fontsize=13,
                    color=INK)
    for name, (x, y, symbol) in _NEURON_GATES.items():
        ax.add_patch(plt.Circle((x, y), _GATE_RADIUS, facecolor="#f4f4f4", edgecolor=INK,
                                lw=1.3, zorder=2))
        ax.text(x, y, symbol, ha="center", va="center", fontsize=16, color=INK, zorder=3)
    ax.text(9.12, 0.8, "$p$", ha="left", va="center", fontsize=13, color=INK)
    ax.text(-0.5, -2.35, "blue (above): the forward value", color=FORWARD_COLOR, fontsize=10,
            ha="left")
    if gradients is not None:
        ax.text(5.6, -2.35, "vermilion (below): the gradient of $p$ with\nrespect to that value",
                color=GRADIENT_COLOR, fontsize=10, ha="left", va="center")
    ax.set_xlim(-0.7, 9.6)
    ax.set_ylim(-2.7, 3.6)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax.figure


# --- the 2-3-1 network, step by step ----------------------------------------------------------

class Step(NamedTuple):
    """One number of the forward or backward pass.

    phase: "forward" or "backward".
    name: what is computed, e.g. "z1[2]" or "dL/dW1[0,2]".
    value: its value (a float).
    formula: how, with the numbers, e.g. "dL/dW1[0,2] = x[0] · dL/dz1[2] = 1.000 × 0.031 = 0.031".
    node: the unit it belongs to, ("input" | "hidden" | "output" | "loss", index), or None.
    edge: the weight the step uses or computes, ("W1", i, h) for W1[i, h] or ("W2", h, 0) for
      W2[h, 0]; None for steps that use no weight.
    """

    phase: str
    name: str
    value: float
    formula: str
    node: tuple | None
    edge: tuple | None


def _validated(params, x, y):
    for name, shape in PARAMETER_SHAPES.items():
        if name not in params:
            raise ValueError(f"params needs {sorted(PARAMETER_SHAPES)}; '{name}' is missing.")
        if np.shape(params[name]) != shape:
            raise ValueError(f"params['{name}'] must have shape {shape} (the 2-3-1 network); "
                             f"got {np.shape(params[name])}.")
    x = np.asarray(x, dtype=np.float64)
    if x.shape == (1, 2):
        x = x[0]
    if x.shape != (2,):
        raise ValueError(f"x must be one example of shape (2,), got shape {x.shape}; for row n "
                         f"of a batch X pass X[n].")
    if y not in (0, 1):
        raise ValueError(f"y must be the label 0 or 1, got {y!r}.")
    plain = {name: np.asarray(value, dtype=np.float64).tolist() for name, value in params.items()}
    return plain, x.tolist(), int(y)


def backprop_steps(params, x, y):
    """The forward then backward pass of the 2-3-1 network on one example, one number per Step.

    params: {"W1": (2, 3), "b1": (3,), "W2": (3, 1), "b2": (1,)}; x: one example (2,); y: 0 or 1.
    Forward: z1[h] and a1[h] for each hidden unit, z2, p, the loss L. Backward: dL/dp, dL/dz2,
    dL/db2, then for each hidden unit h: dL/dW2[h], dL/da1[h], dL/dz1[h], dL/dW1[0,h],
    dL/dW1[1,h], dL/db1[h]; last dL/dx[i], where the three paths from x[i] meet and add up.
    Returns the list of Steps.
    """
    p_, x, y = _validated(params, x, y)
    W1, b1, W2, b2 = p_["W1"], p_["b1"], p_["W2"], p_["b2"]
    steps = []

    def add(phase, name, value, formula, node=None, edge=None):
        steps.append(Step(phase, name, float(value), f"{formula} = {_fmt(value)}", node, edge))
        return value

    z1, a1 = [], []
    for h in range(3):
        z = x[0] * W1[0][h] + x[1] * W1[1][h] + b1[h]
        z1.append(add("forward", f"z1[{h}]", z,
                      f"z1[{h}] = x[0] W1[0,{h}] + x[1] W1[1,{h}] + b1[{h}] = {_fmt(x[0])} × "
                      f"{_fmt(W1[0][h])} + {_fmt(x[1])} × {_fmt(W1[1][h])} + {_fmt(b1[h])}",
                      node=("hidden", h)))
        a1.append(add("forward", f"a1[{h}]", _sigmoid(z), f"a1[{h}] = σ(z1[{h}]) = σ({_fmt(z)})",
                      node=("hidden", h)))
    z2 = sum(a1[h] * W2[h][0] for h in range(3)) + b2[0]
    add("forward", "z2", z2,
        "z2 = " + " + ".join(f"a1[{h}] W2[{h}]" for h in range(3)) + " + b2 = "
        + " + ".join(f"{_fmt(a1[h])} × {_fmt(W2[h][0])}" for h in range(3)) + f" + {_fmt(b2[0])}",
        node=("output", 0))
    p = add("forward", "p", _sigmoid(z2), f"p = σ(z2) = σ({_fmt(z2)})", node=("output", 0))
    loss = -math.log(p) if y == 1 else -math.log(1.0 - p)
    add("forward", "L", loss, f"L = -log p = -log {_fmt(p)}" if y == 1 else
        f"L = -log(1 - p) = -log(1 - {_fmt(p)})", node=("loss", 0))

    grad_p = add("backward", "dL/dp", -1.0 / p if y == 1 else 1.0 / (1.0 - p),
                 f"dL/dp = -1 / p = -1 / {_fmt(p)}" if y == 1 else
                 f"dL/dp = 1 / (1 - p) = 1 / (1 - {_fmt(p)})", node=("output", 0))
    grad_z2 = add("backward", "dL/dz2", p * (1 - p) * grad_p,
                  f"dL/dz2 = σ'(z2) · dL/dp = p (1 - p) · dL/dp = {_fmt(p * (1 - p))} × "
                  f"{_fmt(grad_p)}  (= p - y)", node=("output", 0))
    add("backward", "dL/db2", 1.0 * grad_z2, f"dL/db2 = 1 · dL/dz2 = 1 × {_fmt(grad_z2)}",
        node=("output", 0))
    grad_z1 = []
    for h in range(3):
        add("backward", f"dL/dW2[{h}]", a1[h] * grad_z2,
            f"dL/dW2[{h}] = a1[{h}] · dL/dz2 = {_fmt(a1[h])} × {_fmt(grad_z2)}",
            edge=("W2", h, 0))
        grad_a = add("backward", f"dL/da1[{h}]", W2[h][0] * grad_z2,
                     f"dL/da1[{h}] = W2[{h}] · dL/dz2 = {_fmt(W2[h][0])} × {_fmt(grad_z2)}",
                     node=("hidden", h), edge=("W2", h, 0))
        local = a1[h] * (1 - a1[h])
        grad_z = add("backward", f"dL/dz1[{h}]", local * grad_a,
                     f"dL/dz1[{h}] = a1[{h}] (1 - a1[{h}]) · dL/da1[{h}] = {_fmt(local)} × "
                     f"{_fmt(grad_a)}", node=("hidden", h))
        grad_z1.append(grad_z)
        for i in range(2):
            add("backward", f"dL/dW1[{i},{h}]", x[i] * grad_z,
                f"dL/dW1[{i},{h}] = x[{i}] · dL/dz1[{h}] = {_fmt(x[i])} × {_fmt(grad_z)}",
                edge=("W1", i, h))
        add("backward", f"dL/db1[{h}]", 1.0 * grad_z, f"dL/db1[{h}] = 1 · dL/dz1[{h}] = 1 × "
            f"{_fmt(grad_z)}", node=("hidden", h))
    for i in range(2):
        add("backward", f"dL/dx[{i}]", sum(W1[i][h] * grad_z1[h] for h in range(3)),
            f"dL/dx[{i}] = " + " + ".join(f"W1[{i},{h}] dL/dz1[{h}]" for h in range(3))
            + " = " + " + ".join(f"{_fmt(W1[i][h])} × {_fmt(grad_z1[h])}" for h in range(3)),
            node=("input", i))
    return steps


# --- drawing one step -------------------------------------------------------------------------

_COLUMN_X = {"input": 0.0, "hidden": 3.4, "output": 6.8, "loss": 9.0}
_ROWS = {"input": (1.0, -1.0), "hidden": (2.5, 0.0, -2.5), "output": (0.0,), "loss": (0.0,)}
_NODE_FILL = {"input": "#cfe2f3", "hidden": "#fde9c9", "output": "#d9ead3", "loss": "#eeeeee"}
_TEXT_BOX = {"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 0.3}
_NODE_LABEL = {"input": "x[{}]", "hidden": "h{}", "output": "p", "loss": "L"}


def _position(kind, index):
    return _COLUMN_X[kind], _ROWS[kind][index]


def _edge_ends(edge):
    layer, i, j = edge
    if layer == "W1":
        return _position("input", i), _position("hidden", j)
    return _position("hidden", i), _position("output", 0)


def draw_step(ax, steps, index, params, x=None):
    """Draw the 2-3-1 network after steps[0], ..., steps[index] have been computed.

    Each unit shows its forward values (blue, above) and its gradients (vermilion, below) known
    so far; the current step's unit or weight is highlighted and its formula written underneath.
    params: the network's parameters (the weights are written on the edges the steps use).
    x: the example's inputs, written beside the input units (optional). The parameter
    gradients computed so far are listed on the right.
    """
    weights = {name: np.asarray(params[name], dtype=np.float64).tolist() for name in ("W1", "W2")}
    if not 0 <= index < len(steps):
        raise ValueError(f"index must be between 0 and {len(steps) - 1}, got {index}.")
    current = steps[index]
    done = steps[:index + 1]
    for layer, rows_from, rows_to in (("W1", 2, 3), ("W2", 3, 1)):
        for i in range(rows_from):
            for j in range(rows_to):
                (x0, y0), (x1, y1) = _edge_ends((layer, i, j))
                ax.plot([x0, x1], [y0, y1], color=NEUTRAL, lw=1, zorder=1)
    ax.plot([_COLUMN_X["output"], _COLUMN_X["loss"]], [0, 0], color=NEUTRAL, lw=1, zorder=1)
    if current.edge is not None:
        (x0, y0), (x1, y1) = _edge_ends(current.edge)
        color = FORWARD_COLOR if current.phase == "forward" else GRADIENT_COLOR
        ax.plot([x0, x1], [y0, y1], color=color, lw=3, zorder=1.5)
        # a weight's gradient is written on its edge; otherwise the weight the step uses
        layer, i, j = current.edge
        weight = f"{layer}[{i},{j}]" if layer == "W1" else f"W2[{i}]"
        text = f"{current.name} = {_fmt(current.value)}" if current.node is None \
            else f"{weight} = {_fmt(weights[layer][i][j])}"
        share = 0.35 if layer == "W1" else 0.5
        ax.text((1 - share) * x0 + share * x1, (1 - share) * y0 + share * y1 + 0.12, text,
                color=color, fontsize=10, ha="center", va="bottom", fontweight="bold",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5}, zorder=4)
    if current.phase == "backward" and current.node is not None and current.node[0] == "input":
        # dL/dx[i]: the three paths from x[i] meet here, and their gradients add up
        for hidden in range(3):
            (x0, y0), (x1, y1) = _edge_ends(("W1", current.node[1], hidden))
            ax.plot([x0, x1], [y0, y1], color=GRADIENT_COLOR, lw=2.5, zorder=1.5)
    for kind, rows in _ROWS.items():
        for unit in range(len(rows)):
            cx, cy = _position(kind, unit)
            highlighted = current.node == (kind, unit)
            edge_color = (FORWARD_COLOR if current.phase == "forward" else GRADIENT_COLOR) \
                if highlighted else INK
            ax.add_patch(plt.Circle((cx, cy), 0.3, facecolor=_NODE_FILL[kind], zorder=2,
                                    edgecolor=edge_color, lw=3 if highlighted else 1))
            ax.text(cx, cy, _NODE_LABEL[kind].format(unit), ha="center", va="center",
                    fontsize=10, color=INK, zorder=3)
            forward = [f"{s.name} = {_fmt(s.value)}" for s in done
                       if s.phase == "forward" and s.node == (kind, unit)]
            if kind == "input" and x is not None:
                forward = [f"x[{unit}] = {_fmt(float(np.ravel(x)[unit]))}"]
            backward = [f"{s.name} = {_fmt(s.value)}" for s in done
                        if s.phase == "backward" and s.node == (kind, unit)]
            if forward:
                ax.text(cx, cy + 0.36, "\n".join(forward), ha="center", va="bottom",
                        fontsize=9, color=FORWARD_COLOR, zorder=3, linespacing=1.1, bbox=_TEXT_BOX)
            if backward:
                ax.text(cx, cy - 0.36, "\n".join(backward), ha="center", va="top",
                        fontsize=9, color=GRADIENT_COLOR, zorder=3, linespacing=1.1, bbox=_TEXT_BOX)
    parameter_gradients = [f"{s.name} = {_fmt(s.value)}" for s in done
                           if s.name.startswith(("dL/dW", "dL/db"))]
    ax.text(10.1, 3.8, "parameter gradients\n" + ("\n".join(parameter_gradients) or "(none yet)"),
            fontsize=9, color=GRADIENT_COLOR, ha="left", va="top", linespacing=1.25)
    n_forward = sum(step.phase == "forward" for step in steps)
    number = index + 1 if current.phase == "forward" else index + 1 - n_forward
    total = n_forward if current.phase == "forward" else len(steps) - n_forward
    ax.set_title(f"{current.phase} pass, step {number} of {total}:  {current.name}",
                 fontsize=12, color=FORWARD_COLOR if current.phase == "forward"
                 else GRADIENT_COLOR, loc="left")
    ax.text(-0.6, -4.3, current.formula, fontsize=10, color=INK, ha="left", va="center",
            wrap=True)
    ax.set_xlim(-0.9, 12.6)
    ax.set_ylim(-4.6, 4.0)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax.figure


# --- the widget -------------------------------------------------------------------------------

class BackpropStepper(widgets.VBox):
    """Back / Next buttons and a slider over the steps of ``backprop_steps``.

    Controls: ``back``, ``next`` (buttons) and ``slider`` (the step number, 0-based). ``step`` is
    the Step shown now; ``update()`` redraws it.
    """

    def __init__(self, params, x, y, figsize=(11, 6.4)):
        self.steps = backprop_steps(params, x, y)
        self.params = params
        self.x = np.ravel(np.asarray(x, dtype=np.float64))
        self.back = widgets.Button(description="◀ Back", layout=widgets.Layout(width="90px"))
        self.next = widgets.Button(description="Next ▶", layout=widgets.Layout(width="90px"))
        self.slider = widgets.IntSlider(value=0, min=0, max=len(self.steps) - 1,
                                        description="step", continuous_update=True,
                                        readout=False, layout=widgets.Layout(width="420px"))
        self.view = FigureView(figsize=figsize)
        super().__init__([widgets.HBox([self.back, self.next, self.slider]), self.view.image])
        self.back.on_click(lambda _: self.go(self.slider.value - 1))
        self.next.on_click(lambda _: self.go(self.slider.value + 1))
        self.slider.observe(lambda change: self.update(), names="value")
        self.update()

    @property
    def step(self):
        """The Step shown now."""
        return self.steps[self.slider.value]

    def go(self, index):
        """Show step number ``index`` (clipped to the first and last step)."""
        self.slider.value = min(max(index, 0), len(self.steps) - 1)

    def update(self):
        """Draw the current step; Back is disabled on the first step, Next on the last."""
        self.back.disabled = self.slider.value == 0
        self.next.disabled = self.slider.value == len(self.steps) - 1
        self.view.figure.clear()
        draw_step(self.view.figure.add_subplot(), self.steps, self.slider.value,
                  self.params, x=self.x)
        self.view.show()


def backprop_stepper(params, x, y):
    """Lesson 03: step through the forward and backward pass of the 2-3-1 network on (x, y)."""
    return BackpropStepper(params, x, y)
