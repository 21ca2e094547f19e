"""The three small layers that lesson 03 builds by hand, for lesson 04 to train MNIST with.

These are the reference answers of lesson 03, section 6, line for line: ``Dense``, ``Sigmoid``
and ``ReLU``, each with ``forward`` (computes the output and caches what ``backward`` needs) and
``backward`` (takes the upstream gradient dL/d(output), returns dL/d(input), and for ``Dense``
stores ``grad_W`` and ``grad_b``). They do nothing else: no training flag, no dtype handling,
no checks. ``nnlib.layers`` holds the full versions that ``nnlib.Sequential`` uses.
"""

import numpy as np

from nnlib.activations import sigmoid


class Dense:
    """A dense layer z = x W + b: W (in_features, out_features), b (out_features,).

    The starting weights are standard normal times ``scale`` (1.0, as lesson 03 draws them;
    lesson 04 passes He's sqrt(2 / in_features) for ReLU networks).
    """

    def __init__(self, in_features, out_features, rng, scale=1.0):
        self.W = rng.normal(size=(in_features, out_features)) * scale
        self.b = np.zeros(out_features, dtype=self.W.dtype)

    def forward(self, batch):
        """batch (N, in_features) -> z (N, out_features); remembers the batch for backward."""
        self.batch_seen = batch              # cached: dL/dW needs the input
        return batch @ self.W + self.b

    def backward(self, upstream):
        """upstream = dL/dz (N, out_features). Stores grad_W and grad_b; returns dL/dx."""
        self.grad_W = self.batch_seen.T @ upstream       # (in, N) @ (N, out)
        self.grad_b = upstream.sum(axis=0)               # every example used b
        return upstream @ self.W.T                       # (N, out) @ (out, in)


class Sigmoid:
    """The sigmoid, elementwise, as a layer."""

    def forward(self, z):
        self.output = sigmoid(z)             # cached: the derivative is output (1 - output)
        return self.output

    def backward(self, upstream):
        return upstream * self.output * (1 - self.output)     # local times upstream


class ReLU:
    """max(0, z), elementwise, as a layer."""

    def forward(self, z):
        self.positive = z > 0                # cached: the local gradient is 1 exactly there
        return np.where(self.positive, z, 0.0)

    def backward(self, upstream):
        return np.where(self.positive, upstream, 0.0)


def sgd_step(layers, learning_rate):
    """One step of plain gradient descent on every layer that has parameters (lesson 04).

    W -= learning_rate * grad_W and b -= learning_rate * grad_b, in place; activation layers
    have no W and are skipped.
    """
    for layer in layers:
        if hasattr(layer, "W"):
            layer.W -= learning_rate * layer.grad_W
            layer.b -= learning_rate * layer.grad_b
