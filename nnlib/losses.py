"""Loss functions: how wrong is the network's output, and in which direction to change it.

Each loss class has the same three methods (lessons 02 and 03):

    forward(output, y) -> float        the loss, averaged over the N samples of the batch
    backward()         -> (N, ...)     d loss / d output, for the same batch (includes the 1/N)
    predict_proba(output)              turns the network output into probabilities

``forward`` caches what ``backward`` needs, exactly like a layer. Labels ``y`` may be integer
class ids of shape (N,) or one-hot rows of shape (N, C).

The plain functions ``mse``, ``binary_cross_entropy``, ``sigmoid_binary_cross_entropy``,
``cross_entropy`` and ``softmax_cross_entropy`` return **only the loss** (a float); use the classes for the gradient.

Which loss goes with which last layer:

    last layer            loss                      gradient wrt the layer's input
    Dense (logits)        SoftmaxCrossEntropy       (p - y) / N   -- fused, the stable choice
    Softmax               CrossEntropy              through the Softmax Jacobian
    Dense, 1 column       SigmoidBinaryCrossEntropy (sigmoid(z) - y) / N  -- fused, stable
    Sigmoid, 1 column     BinaryCrossEntropy        (a - y) / N after the Sigmoid layer
    anything              MSE                       (output - y) / N
"""

import numpy as np

from nnlib.activations import log_softmax, sigmoid

# Probabilities are clipped into [EPSILON, 1 - EPSILON] before taking a log, so that a
# confident wrong answer gives a large but finite loss instead of log(0) = -inf.
EPSILON = 1e-7


# --- label handling -----------------------------------------------------------------------------

def _as_2d_output(output, loss_name):
    output = np.asarray(output)
    if not np.issubdtype(output.dtype, np.floating):
        output = output.astype(np.float64)
    if output.ndim == 1:
        output = output[:, None]
    if output.ndim != 2:
        raise ValueError(
            f"{loss_name} expects the network output as an array (N, C), "
            f"got shape {output.shape}."
        )
    return output


def _targets_like(output, y, loss_name):
    """Return the targets as a float array shaped like ``output`` (N, C).

    y may be integer class ids (N,) -- turned into one-hot rows -- or already (N, C); with one
    output column, (N,) values are taken as the targets themselves (0/1 or regression values).
    """
    y = np.asarray(y)
    num_samples, num_columns = output.shape
    if y.shape[:1] != (num_samples,):
        raise ValueError(
            f"{loss_name}: the output has {num_samples} rows (samples) but y has shape "
            f"{y.shape}; give one label per sample."
        )
    if y.ndim == 1 and num_columns > 1:
        class_ids = _check_class_ids(y, num_columns, loss_name)
        targets = np.zeros_like(output)
        targets[np.arange(num_samples), class_ids] = 1
        return targets
    if y.ndim == 1:
        y = y[:, None]
    if y.shape != output.shape:
        raise ValueError(
            f"{loss_name}: y has shape {y.shape} but the output has shape {output.shape}; "
            f"give class ids (N,) or one-hot targets (N, {num_columns})."
        )
    return y.astype(output.dtype, copy=False)


def _check_class_ids(y, num_classes, loss_name):
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{loss_name}: labels of shape (N,) must be integer class ids, got dtype {y.dtype}; "
            f"convert them with y.astype(int), or pass one-hot targets (N, {num_classes})."
        )
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{loss_name}: class ids must lie in 0..{num_classes - 1} for an output with "
            f"{num_classes} columns, got values from {y.min()} to {y.max()}."
        )
    return y


# Rounding may put a probability a hair outside [0, 1]; anything further out is not one.
PROBABILITY_SLACK = 1e-6


def _check_probabilities(probabilities, loss_name, remedy):
    """Refuse outputs outside [0, 1]: a log of a clipped logit is a number, but not a loss.

    NaN is left alone here: during training it means divergence, which fit reports itself.
    """
    if probabilities.size == 0:
        return
    low, high = np.min(probabilities), np.max(probabilities)
    if low < -PROBABILITY_SLACK or high > 1 + PROBABILITY_SLACK:
        raise ValueError(
            f"{loss_name} expects probabilities in [0, 1], but the output has values from "
            f"{low:.4g} to {high:.4g}: these look like raw scores (logits). {remedy}"
        )


def _check_nonnegative_targets(targets, loss_name):
    if targets.size and np.min(targets) < 0:
        raise ValueError(
            f"{loss_name}: target rows must be probabilities >= 0 (one-hot rows, or rows scaled "
            f"by a sample weight), got a smallest value of {np.min(targets):.4g}."
        )


class Loss:
    """Base class: subclasses implement ``forward`` and ``backward``."""

    def forward(self, output, y):
        raise NotImplementedError

    def backward(self):
        raise NotImplementedError

    def predict_proba(self, output):
        """Probabilities from the network output. Identity unless the loss works on logits."""
        return np.asarray(output)

    def __call__(self, output, y):
        return self.forward(output, y)

    def get_config(self):
        """A JSON-able description: the class name and the constructor arguments."""
        return {"class_name": type(self).__name__}

    def __getstate__(self):
        """Pickles and copies leave out the cache of the last batch (outputs, labels)."""
        state = dict(self.__dict__)
        if "_cache" in state:
            state["_cache"] = None
        return state

    def __repr__(self):
        arguments = {k: v for k, v in self.get_config().items() if k != "class_name"}
        inside = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
        return f"{type(self).__name__}({inside})"

    def _require_forward(self, cache):
        if cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() was called before forward(); "
                f"compute the loss first."
            )


# --- mean squared error -------------------------------------------------------------------------

class MSE(Loss):
    """Mean squared error with a factor 1/2:

        L = 1/(2N) * sum_n sum_c (output_nc - y_nc)^2        dL/d output = (output - y) / N

    The 1/2 cancels the 2 of the derivative; the mean is over the N samples only (the C outputs
    of a sample are summed). Class ids (N,) with a C-column output are compared as one-hot rows.
    """

    def __init__(self):
        self._cache = None

    def forward(self, output, y):
        output_shape = np.shape(output)
        output = _as_2d_output(output, "MSE")
        difference = output - _targets_like(output, y, "MSE")
        self._cache = (difference, output_shape)
        return float(0.5 * np.sum(difference * difference) / output.shape[0])

    def backward(self):
        self._require_forward(self._cache)
        difference, output_shape = self._cache
        return (difference / difference.shape[0]).reshape(output_shape)


def mse(pred, target):
    """Mean squared error 1/(2N) sum (pred - target)^2 as a float (see ``MSE``)."""
    return MSE().forward(pred, target)


# --- binary cross-entropy -----------------------------------------------------------------------

class BinaryCrossEntropy(Loss):
    """Binary cross-entropy on probabilities p = sigmoid(z), for 0/1 labels (lesson 03):

        L = -1/N * sum_n [ y_n log p_n + (1 - y_n) log(1 - p_n) ]
        dL/dp = (p - y) / (p (1 - p)) / N

    p is clipped into [1e-7, 1 - 1e-7] so that the loss and the gradient stay finite. The price:
    a saturated, confidently wrong unit (p below 1e-7 for y = 1) gets a zero gradient through the
    Sigmoid layer and stops learning. ``SigmoidBinaryCrossEntropy`` on logits has no such floor.
    y: (N,) or (N, 1) of 0/1; output: (N,) or (N, 1). After a Sigmoid layer the chain rule
    turns the gradient into the simple (p - y) / N. Outputs outside [0, 1] (logits) and labels
    other than 0 and 1 are refused: they give numbers that are not a loss (even negative ones).
    """

    REMEDY = ("End the network with a Sigmoid() layer, whose outputs are probabilities, "
              "before BinaryCrossEntropy.")

    def __init__(self):
        self._cache = None

    def forward(self, output, y):
        probabilities = _as_2d_output(output, "BinaryCrossEntropy")
        _check_probabilities(probabilities, "BinaryCrossEntropy", self.REMEDY)
        targets = _targets_like(probabilities, y, "BinaryCrossEntropy")
        _check_binary_labels(targets)
        clipped = np.clip(probabilities, EPSILON, 1 - EPSILON)
        self._cache = (clipped, targets, np.shape(output))
        per_entry = targets * np.log(clipped) + (1 - targets) * np.log1p(-clipped)
        return float(0.0 - np.sum(per_entry) / clipped.shape[0])

    def backward(self):
        self._require_forward(self._cache)
        clipped, targets, output_shape = self._cache
        grad = (clipped - targets) / (clipped * (1 - clipped)) / clipped.shape[0]
        return grad.reshape(output_shape)

    def predict_proba(self, output):
        output = np.asarray(output)
        _check_probabilities(output, "BinaryCrossEntropy", self.REMEDY)
        return output


def _check_binary_labels(targets):
    is_binary = (targets == 0) | (targets == 1)
    if not is_binary.all():
        wrong = np.unique(targets[~is_binary])
        raise ValueError(
            f"BinaryCrossEntropy expects labels 0 or 1, got {wrong[:5].tolist()}; for more than "
            f"two classes use SoftmaxCrossEntropy with class ids 0..C-1 and one output per class."
        )


def binary_cross_entropy(probabilities, y):
    """Binary cross-entropy of probabilities against 0/1 labels, as a float."""
    return BinaryCrossEntropy().forward(probabilities, y)


# --- sigmoid and binary cross-entropy, fused ----------------------------------------------------

class SigmoidBinaryCrossEntropy(Loss):
    """Binary cross-entropy of p = sigmoid(z), computed from the logits z (lesson 02, section 8):

        L = 1/N * sum_n [ max(z_n, 0) - y_n z_n + log(1 + exp(-|z_n|)) ]
        dL/dz = (sigmoid(z) - y) / N

    The same loss as a Sigmoid layer followed by BinaryCrossEntropy, but never forms log(p): the
    formula above only exponentiates -|z| <= 0, so z = -1000 with y = 1 gives the exact loss 1000
    and the full gradient -1/N, where the clipped version gives about 16 and a zero gradient.
    End the network with Dense(..., 1) and no Sigmoid layer. y: (N,) or (N, 1) of 0/1.
    """

    def __init__(self):
        self._cache = None

    def forward(self, output, y):
        logits = _as_2d_output(output, "SigmoidBinaryCrossEntropy")
        targets = _targets_like(logits, y, "SigmoidBinaryCrossEntropy")
        _check_binary_labels(targets)
        self._cache = (logits, targets, np.shape(output))
        per_entry = np.maximum(logits, 0) - targets * logits + np.log1p(np.exp(-np.abs(logits)))
        return float(np.sum(per_entry) / logits.shape[0])

    def backward(self):
        self._require_forward(self._cache)
        logits, targets, output_shape = self._cache
        return ((sigmoid(logits) - targets) / logits.shape[0]).reshape(output_shape)

    def predict_proba(self, output):
        """sigmoid(z): the probability of class 1."""
        return sigmoid(np.asarray(output))


def sigmoid_binary_cross_entropy(logits, y):
    """Binary cross-entropy of sigmoid(logits) against 0/1 labels, as a float, without overflow."""
    return SigmoidBinaryCrossEntropy().forward(logits, y)


# --- categorical cross-entropy ------------------------------------------------------------------

class CrossEntropy(Loss):
    """Categorical cross-entropy on probabilities, e.g. the output of a Softmax layer (lesson 02):

        L = -1/N * sum_n sum_c y_nc log p_nc          dL/dp = -y / p / N

    p is clipped into [1e-7, 1] before the log and in the gradient, so both stay finite when a
    probability is exactly 0. Outputs outside [0, 1] (logits) are refused. Prefer
    ``SoftmaxCrossEntropy`` on logits: it is more accurate and its gradient is simpler.
    """

    REMEDY = ("End the network with a Softmax() layer, or drop it and use SoftmaxCrossEntropy(), "
              "which takes the logits directly.")

    def __init__(self):
        self._cache = None

    def forward(self, output, y):
        probabilities = _as_2d_output(output, "CrossEntropy")
        _check_probabilities(probabilities, "CrossEntropy", self.REMEDY)
        targets = _targets_like(probabilities, y, "CrossEntropy")
        _check_nonnegative_targets(targets, "CrossEntropy")
        clipped = np.clip(probabilities, EPSILON, 1.0)
        self._cache = (clipped, targets)
        return float(0.0 - np.sum(targets * np.log(clipped)) / clipped.shape[0])

    def backward(self):
        self._require_forward(self._cache)
        clipped, targets = self._cache
        return -targets / clipped / clipped.shape[0]

    def predict_proba(self, output):
        output = np.asarray(output)
        _check_probabilities(output, "CrossEntropy", self.REMEDY)
        return output


def cross_entropy(probabilities, y):
    """Categorical cross-entropy of probabilities (N, C) against labels, as a float."""
    return CrossEntropy().forward(probabilities, y)


# --- softmax + cross-entropy, fused -------------------------------------------------------------

class SoftmaxCrossEntropy(Loss):
    """Softmax followed by cross-entropy, on logits z (the output of the last Dense layer).

        p = softmax(z),    L = -1/N * sum_n sum_c y_nc log p_nc,    dL/dz = (p - y) / N

    Lesson 02 shows how the softmax Jacobian and the 1/p of the cross-entropy cancel into that
    short gradient. The loss uses log_softmax, so no log(0) can occur even for extreme logits.

    label_smoothing = s replaces the one-hot target by (1 - s) * y + s / C, which stops the
    network from pushing logits towards infinity to become ever more certain.

    Target rows (N, C) need not sum to 1: a row w * y weighs that sample's loss by w (this is how
    ``MLPClassifier`` applies ``sample_weight``). The gradient is then (p * w - w * y) / N, since
    the softmax's own sum is 1: in general dL/dz_n = (p_n * sum_c y_nc - y_n) / N.

    The output needs at least two columns: the softmax of one number is always 1, so a one-unit
    output would have loss 0 and learn nothing. For two classes, give the last Dense layer two
    units, or end with one Sigmoid unit and ``BinaryCrossEntropy``.
    """

    def __init__(self, label_smoothing=0.0):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}.")
        self.label_smoothing = float(label_smoothing)
        self._cache = None

    def forward(self, output, y):
        logits = _as_2d_output(output, "SoftmaxCrossEntropy")
        _check_several_columns(logits)
        num_samples, num_classes = logits.shape
        # log p = shifted - log(sum exp(shifted)), with shifted = z - max z: see log_softmax
        shifted = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted)
        sums = probabilities.sum(axis=1, keepdims=True)
        probabilities /= sums
        log_sums = np.log(sums)
        y = np.asarray(y)
        if y.ndim == 1 and num_classes > 1 and self.label_smoothing == 0.0:
            # Fast path for class ids: pick log p of the true class, no one-hot matrix needed.
            if y.shape[0] != num_samples:
                _targets_like(logits, y, "SoftmaxCrossEntropy")  # raises the shape error
            class_ids = _check_class_ids(y, num_classes, "SoftmaxCrossEntropy")
            self._cache = (probabilities, class_ids)
            picked = shifted[np.arange(num_samples), class_ids]
            return float((np.sum(log_sums) - np.sum(picked)) / num_samples)
        targets = _targets_like(logits, y, "SoftmaxCrossEntropy")
        _check_nonnegative_targets(targets, "SoftmaxCrossEntropy")
        if self.label_smoothing:
            targets = (1 - self.label_smoothing) * targets + self.label_smoothing / num_classes
        self._cache = (probabilities, targets)
        log_probabilities = shifted - log_sums
        return float(0.0 - np.sum(targets * log_probabilities) / num_samples)

    def backward(self):
        self._require_forward(self._cache)
        probabilities, targets = self._cache
        num_samples = probabilities.shape[0]
        if targets.ndim == 1:  # class ids: subtract 1 at the true class
            grad = probabilities.copy()
            grad[np.arange(num_samples), targets] -= 1
        else:  # rows of any total (sample weights): p * row total - y
            grad = probabilities * targets.sum(axis=1, keepdims=True)
            grad -= targets
        grad *= 1.0 / num_samples
        return grad

    def predict_proba(self, output):
        """The network outputs logits; the probabilities are their softmax."""
        _check_several_columns(_as_2d_output(output, "SoftmaxCrossEntropy"))
        return np.exp(log_softmax(output))

    def get_config(self):
        return {"class_name": type(self).__name__, "label_smoothing": self.label_smoothing}


def _check_several_columns(logits):
    if logits.shape[1] < 2:
        raise ValueError(
            "SoftmaxCrossEntropy needs at least two output columns (one per class), but the "
            "network gives 1: the softmax of a single number is always 1, so the loss would be 0 "
            "and every prediction the same. For two classes, either give the last Dense layer 2 "
            "units (labels 0/1 stay as they are), or end with Dense(..., 1) and Sigmoid() and use "
            "BinaryCrossEntropy()."
        )


def softmax_cross_entropy(logits, y):
    """Cross-entropy of softmax(logits) against labels, computed stably, as a float."""
    return SoftmaxCrossEntropy().forward(logits, y)


_LOSSES = {cls.__name__: cls for cls in (MSE, BinaryCrossEntropy, SigmoidBinaryCrossEntropy,
                                          CrossEntropy, SoftmaxCrossEntropy)}


def loss_from_config(config):
    """Rebuild a loss from ``loss.get_config()``."""
    config = dict(config)
    name = config.pop("class_name", None)
    if name not in _LOSSES:
        raise ValueError(f"Unknown loss {name!r}; known losses: {', '.join(sorted(_LOSSES))}.")
    return _LOSSES[name](**config)
