"""Layers: the building blocks of a network, each with a forward and a backward pass.

Every layer follows the same contract (lessons 03 and 04):

    forward(x, training=False) -> output     computes the output, caches what backward needs
    backward(grad_output)      -> grad_input  given dL/d output, stores dL/d parameter in
                                              ``self.grads`` and returns dL/d input

``params`` and ``grads`` are plain dicts of arrays with the same keys ("W", "b" for Dense; empty
for activations). Data flows batch-first: x has shape (N, features).

``get_config()`` describes a layer as a JSON-able dict (its class name and constructor arguments),
and ``layer_from_config`` builds it again; ``nnlib.io`` saves networks this way.
"""

import numpy as np

from nnlib import activations
from nnlib.init import get_initializer


class Layer:
    """Base class. Subclasses override ``forward`` and ``backward``.

    ``CACHES`` names the attributes in which forward keeps what backward needs. They belong to
    the last batch only, so pickles and copies leave them out (a pickled model would otherwise
    carry up to a batch of inputs).
    """

    CACHES = ()

    def __init__(self):
        self.params = {}
        self.grads = {}

    def __getstate__(self):
        state = dict(self.__dict__)
        for name in self.CACHES:
            if name in state:
                state[name] = None
        return state

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError

    def __call__(self, x, training=False):
        return self.forward(x, training=training)

    def output_features(self, input_features):
        """Number of output features for a given number of input features (for summaries)."""
        return input_features

    def num_parameters(self):
        return sum(param.size for param in self.params.values())

    def get_config(self):
        """A JSON-able dict: the class name plus the constructor arguments."""
        return {"class_name": type(self).__name__}

    def __repr__(self):
        return f"{type(self).__name__}()"

    def _cached(self, value):
        """Return a value cached by forward, or explain that forward must come first."""
        if value is None:
            raise RuntimeError(
                f"{self!r}.backward() was called before forward(); "
                f"run a forward pass on a batch first."
            )
        return value


# --- Dense --------------------------------------------------------------------------------------

class Dense(Layer):
    """Fully connected layer: out = x @ W + b (lesson 03).

    Shapes: x (N, in_features), W (in_features, out_features), b (out_features,),
    out (N, out_features). Backward, with g = dL/d out of shape (N, out_features):

        dL/dW = x^T @ g      dL/db = sum of g over the batch      dL/dx = g @ W^T

    W starts random (``init``: "he", "xavier", "lecun", "normal", see ``nnlib.init``), b at zero.
    Pass ``rng`` (a ``np.random.Generator``) to get the same weights every time.
    """

    CACHES = ("_input",)

    def __init__(self, in_features, out_features, *, rng=None, init="he", dtype=np.float32):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Dense: {name} must be a positive integer, got {value!r}.")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.init = init if isinstance(init, str) else getattr(init, "__name__", str(init))
        if rng is None:
            rng = np.random.default_rng()
        weights = get_initializer(init)(self.in_features, self.out_features, rng, dtype)
        self.params = {"W": weights, "b": np.zeros(self.out_features, dtype=weights.dtype)}
        self.grads = {"W": np.zeros_like(weights), "b": np.zeros_like(self.params["b"])}
        self._input = None

    @property
    def dtype(self):
        return self.params["W"].dtype

    def forward(self, x, training=False):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"{self!r} expected input of shape (N, {self.in_features}), got {x.shape}."
            )
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        self._input = x
        output = x @ self.params["W"]
        output += self.params["b"]  # in place: saves allocating a second (N, out) array
        return output

    def backward(self, grad_output, input_grad=True):
        """Store dL/dW and dL/db; return dL/dx, or None if ``input_grad`` is False.

        The gradients are written into the existing ``self.grads`` arrays (no new allocation).
        """
        x = self._cached(self._input)
        if grad_output.shape != (x.shape[0], self.out_features):
            raise ValueError(
                f"{self!r}.backward expected a gradient of shape ({x.shape[0]}, "
                f"{self.out_features}) like its last output, got {grad_output.shape}."
            )
        np.matmul(x.T, grad_output, out=self.grads["W"])
        np.sum(grad_output, axis=0, out=self.grads["b"])
        if not input_grad:
            return None
        return grad_output @ self.params["W"].T

    def output_features(self, input_features):
        return self.out_features

    def get_config(self):
        return {"class_name": "Dense", "in_features": self.in_features,
                "out_features": self.out_features, "init": self.init,
                "dtype": np.dtype(self.dtype).name}

    def __repr__(self):
        return f"Dense({self.in_features} -> {self.out_features})"


# --- activation layers --------------------------------------------------------------------------

class ReLU(Layer):
    """relu(x) = max(0, x) element-wise. Backward: the gradient passes where x > 0 (lesson 02).

    The mask of positive inputs is cached as 0.0/1.0 numbers of x's dtype: multiplying by it
    is then a plain float product, about twice as fast as multiplying by booleans.
    """

    CACHES = ("_mask",)

    def __init__(self):
        super().__init__()
        self._mask = None

    def forward(self, x, training=False):
        self._mask = (x > 0).astype(x.dtype)
        return x * self._mask

    def backward(self, grad_output):
        return grad_output * self._cached(self._mask)


class LeakyReLU(Layer):
    """x where x > 0, else alpha * x. Backward: gradient times 1 or alpha (lesson 02)."""

    CACHES = ("_positive",)

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = float(alpha)
        self._positive = None

    def forward(self, x, training=False):
        self._positive = x > 0
        return np.where(self._positive, x, self.alpha * x)

    def backward(self, grad_output):
        positive = self._cached(self._positive)
        return np.where(positive, grad_output, self.alpha * grad_output)

    def get_config(self):
        return {"class_name": "LeakyReLU", "alpha": self.alpha}

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


class Sigmoid(Layer):
    """a = sigmoid(x). Backward uses the cached output: dL/dx = g * a * (1 - a) (lesson 02)."""

    CACHES = ("_output",)

    def __init__(self):
        super().__init__()
        self._output = None

    def forward(self, x, training=False):
        self._output = activations.sigmoid(x)
        return self._output

    def backward(self, grad_output):
        a = self._cached(self._output)
        return grad_output * a * (1 - a)


class Tanh(Layer):
    """a = tanh(x). Backward uses the cached output: dL/dx = g * (1 - a^2) (lesson 02)."""

    CACHES = ("_output",)

    def __init__(self):
        super().__init__()
        self._output = None

    def forward(self, x, training=False):
        self._output = np.tanh(x)
        return self._output

    def backward(self, grad_output):
        a = self._cached(self._output)
        return grad_output * (1 - a * a)


class Softmax(Layer):
    """p = softmax(x) row by row, for use with ``CrossEntropy`` (lesson 02).

    Backward multiplies g by the softmax Jacobian diag(p) - p p^T without building it:

        dL/dx = p * (g - sum_j g_j p_j)        (one sum per row)

    With ``SoftmaxCrossEntropy`` you do not need this layer: that loss takes logits.
    """

    CACHES = ("_output",)

    def __init__(self):
        super().__init__()
        self._output = None

    def forward(self, x, training=False):
        self._output = activations.softmax(x, axis=-1)
        return self._output

    def backward(self, grad_output):
        p = self._cached(self._output)
        return p * (grad_output - np.sum(grad_output * p, axis=-1, keepdims=True))


class Dropout(Layer):
    """Inverted dropout (lesson 05): in training, zero each value with probability ``rate`` and
    scale the survivors by 1 / (1 - rate), so that the expected output equals the input.
    In evaluation (``training=False``) the layer does nothing.

    ``rng`` draws the masks. Without one, ``Sequential.fit`` hands the layer the generator it was
    given, so that training stays reproducible.
    """

    CACHES = ("_mask",)

    def __init__(self, rate, rng=None):
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout rate must lie in [0, 1), got {rate}.")
        self.rate = float(rate)
        self.rng = rng
        self._mask = None

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        if self.rng is None:
            self.rng = np.random.default_rng()
        keep_probability = 1.0 - self.rate
        keep = self.rng.random(x.shape) < keep_probability
        self._mask = keep.astype(x.dtype) / np.asarray(keep_probability, dtype=x.dtype)
        return x * self._mask

    def backward(self, grad_output):
        if self._mask is None:  # evaluation mode or rate 0: the identity
            return grad_output
        return grad_output * self._mask

    def get_config(self):
        return {"class_name": "Dropout", "rate": self.rate}

    def __repr__(self):
        return f"Dropout(rate={self.rate})"


LAYER_CLASSES = {cls.__name__: cls for cls in (Dense, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax,
                                               Dropout)}


def layer_from_config(config, *, rng=None):
    """Build a layer from ``layer.get_config()``. Dense weights are freshly initialised."""
    config = dict(config)
    name = config.pop("class_name", None)
    if name not in LAYER_CLASSES:
        raise ValueError(
            f"Unknown layer {name!r}; known layers: {', '.join(sorted(LAYER_CLASSES))}."
        )
    if name == "Dense":
        return Dense(config.pop("in_features"), config.pop("out_features"), rng=rng, **config)
    if name == "Dropout":
        return Dropout(config.pop("rate"), rng=rng)
    return LAYER_CLASSES[name](**config)
