"""MLPClassifier: nnlib's Sequential network as a scikit-learn classifier.

scikit-learn's tools -- ``Pipeline``, ``GridSearchCV``, ``cross_val_score`` -- work with any
object that follows its estimator conventions: hyper-parameters stored unchanged by
``__init__``, learning in ``fit``, results in attributes ending with "_". This class wraps
the network built in the lessons in those conventions, so that the course's own
from-scratch MLP can be tuned and compared with scikit-learn's (lesson 06).

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), epochs=30,
                                                          random_state=0))
    model.fit(X_train, y_train)
    model.score(X_test, y_test)

The network is Dense -> activation -> ... -> Dense(n_classes), trained with the fused
softmax cross-entropy on the logits, also for two classes. Labels may be of any type (ints,
strings, ...): ``classes_`` holds them sorted, and the network sees their positions 0..C-1.

``sample_weight`` (in ``fit`` and ``partial_fit``, as in scikit-learn's MLPClassifier) weighs each
sample's loss. The weights are divided by their mean, and each target row becomes
w_n * one_hot(y_n), so the loss of a batch is (1/N) sum_n w_n l_n (see ``SoftmaxCrossEntropy``).
With one batch holding all the data this is scikit-learn's weighted mean sum w l / sum w exactly,
and a weight of 2 is the same as the sample appearing twice; with smaller batches it equals
scikit-learn's batch by batch in expectation (scikit-learn divides each batch by its own weight
sum). Samples of weight 0 are left out. The training accuracy in ``history_`` counts samples,
unweighted.
"""

import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from nnlib import optimizers
from nnlib.layers import Dense, LeakyReLU, ReLU, Sigmoid, Tanh
from nnlib.losses import SoftmaxCrossEntropy
from nnlib.network import History, Sequential

ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "leaky_relu": LeakyReLU}
OPTIMIZERS = {"sgd": optimizers.SGD, "momentum": optimizers.Momentum,
              "adagrad": optimizers.AdaGrad, "rmsprop": optimizers.RMSProp,
              "adam": optimizers.Adam}
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
AUTO_BATCH_SIZE = 200  # batch_size="auto" means min(200, n_samples), as in scikit-learn


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """A multilayer perceptron classifier trained with mini-batch gradient descent.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Number of units of each hidden layer; ``()`` gives a softmax regression.
    activation : {"relu", "tanh", "sigmoid", "leaky_relu"}, default="relu"
        Activation after every hidden Dense layer.
    optimizer : {"sgd", "momentum", "adagrad", "rmsprop", "adam"}, default="adam"
        Update rule, from ``nnlib.optimizers``.
    learning_rate : float, default=1e-3
        Step size of the optimiser.
    batch_size : int or "auto", default=32
        Samples per update; "auto" means min(200, n_samples).
    epochs : int, default=20
        Passes over the training data in ``fit`` (``partial_fit`` makes one pass).
    alpha : float, default=0.0
        L2 weight decay: the optimiser adds ``alpha * W`` to the gradient of every weight
        matrix (biases are not decayed). Note that scikit-learn's own MLPClassifier divides
        its ``alpha`` by the batch size, so equal values are not equal penalties.
    init : str, default="he"
        Weight initialiser, a name from ``nnlib.init.INITIALIZERS``.
    dtype : np.float32 or np.float64 (or their names), default=np.float32
        Floating-point type of the weights and of the computation.
    random_state : int, np.random.Generator or None, default=None
        Seeds the weights and the shuffling: the same int gives the same model every time.
    verbose : int, default=0
        0 trains silently, 1 shows a progress bar.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)            the class labels, sorted
    n_features_in_ : int                       number of features seen in fit
    network_ : nnlib.network.Sequential        the trained network (outputs logits)
    history_ : nnlib.network.History           per-epoch loss, accuracy and time
    loss_curve_ : list of float                training loss after each epoch
    n_iter_ : int                              number of epochs trained
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", optimizer="adam",
                 learning_rate=1e-3, batch_size=32, epochs=20, alpha=0.0, init="he",
                 dtype=np.float32, random_state=None, verbose=0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.alpha = alpha
        self.init = init
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # --- training -------------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Train a new network on X (n_samples, n_features) and labels y (n_samples,).

        ``sample_weight`` (n_samples,) of numbers >= 0 weighs each sample's loss (see the module
        docstring). Every call starts from fresh weights drawn from ``random_state``. Returns self.
        """
        self._check_hyperparameters()
        X, y = self._validate_training_data(X, y, reset=True)
        sample_weight = _check_sample_weight(sample_weight, len(X))
        self._start(np.unique(y))
        self._train(X, y, self.epochs, sample_weight)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one pass over X, y, continuing from the current weights. Returns self.

        The first call (before any ``fit``) must list every class in ``classes``, since the
        size of the output layer depends on it; later batches may hold only some classes.
        ``sample_weight`` as in ``fit``.
        """
        first_call = not hasattr(self, "network_")
        if first_call:
            self._check_hyperparameters()
        X, y = self._validate_training_data(X, y, reset=first_call)
        sample_weight = _check_sample_weight(sample_weight, len(X))
        if first_call:
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit, e.g. "
                    "partial_fit(X, y, classes=np.unique(y_all)): the output layer needs one "
                    "unit per class, including classes missing from this batch."
                )
            self._start(np.unique(classes))
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={list(classes)} differs from the classes {self.classes_.tolist()} "
                "that this model was first trained with; they cannot change between calls."
            )
        self._train(X, y, 1, sample_weight)
        return self

    def _start(self, classes):
        """Set up the classes, a fresh network and optimiser, and an empty history."""
        check_classification_targets(classes)
        if len(classes) < 2:
            raise ValueError(
                f"MLPClassifier needs at least 2 classes to learn to tell apart, but y has "
                f"only one class: {classes[0]!r}."
            )
        self.classes_ = classes
        self._rng = _generator(self.random_state)
        self.network_ = self._build_network(self.n_features_in_, len(classes))
        self._optimizer = OPTIMIZERS[self.optimizer](self.learning_rate, weight_decay=self.alpha)
        self.history_ = History()
        self.loss_curve_ = []
        self.n_iter_ = 0

    def _build_network(self, n_features, n_classes):
        """Dense -> activation for every hidden size, then Dense(n_classes) giving logits."""
        layers = []
        fan_in = n_features
        for size in self._hidden_sizes():
            layers += [self._dense(fan_in, size), ACTIVATIONS[self.activation]()]
            fan_in = size
        layers.append(self._dense(fan_in, n_classes))
        return Sequential(layers, loss=SoftmaxCrossEntropy())

    def _dense(self, fan_in, fan_out):
        return Dense(fan_in, fan_out, rng=self._rng, init=self.init, dtype=self.dtype)

    def _train(self, X, y, epochs, sample_weight=None):
        """Run ``epochs`` passes of the network's fit loop and record the history."""
        targets = self._class_ids(y)
        if sample_weight is not None:
            X, targets = self._weighted_targets(X, targets, sample_weight)
        batch_size = self.batch_size
        if batch_size == "auto":
            batch_size = min(AUTO_BATCH_SIZE, len(X))
        history = self.network_.fit(X, targets, epochs=epochs, batch_size=batch_size,
                                    optimizer=self._optimizer, rng=self._rng,
                                    verbose=self.verbose)
        for name in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds"):
            getattr(self.history_, name).extend(getattr(history, name))
        self.history_.stopped_reason = history.stopped_reason
        self.loss_curve_ = list(self.history_.loss)
        self.n_iter_ += history.epochs
        if history.stopped_reason is not None:
            raise ValueError(
                f"{history.stopped_reason} Scaling the inputs (e.g. StandardScaler in a "
                "Pipeline) also helps."
            )

    def _weighted_targets(self, X, class_ids, sample_weight):
        """Drop the samples of weight 0; targets w_n / mean(w) * one_hot(class_n), (n, C)."""
        keep = sample_weight > 0
        X, class_ids, weights = X[keep], class_ids[keep], sample_weight[keep]
        targets = np.zeros((len(X), len(self.classes_)), dtype=self.network_.dtype)
        targets[np.arange(len(X)), class_ids] = weights / weights.mean()
        return X, targets

    def _class_ids(self, y):
        """Positions of the labels y in ``classes_``: the integer targets of the network."""
        class_ids = np.searchsorted(self.classes_, y)
        found = class_ids < len(self.classes_)
        found[found] = self.classes_[class_ids[found]] == y[found]
        if not found.all():
            unknown = np.unique(y[~found])
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not among the classes "
                f"{self.classes_.tolist()} given on the first call to partial_fit."
            )
        return class_ids

    # --- prediction -----------------------------------------------------------------------------

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self.network_.dtype)
        return self.network_.predict_proba(X)

    def predict(self, X):
        """The most probable class label of each sample (n_samples,)."""
        probabilities = self.predict_proba(X)  # first: it checks that the model is fitted
        return self.classes_[np.argmax(probabilities, axis=1)]

    # --- checks ---------------------------------------------------------------------------------

    def _validate_training_data(self, X, y, reset):
        _check_no_missing_labels(y)
        X, y = validate_data(self, X, y, reset=reset, dtype=np.dtype(self.dtype))
        check_classification_targets(y)
        return X, y

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if not all(isinstance(size, numbers.Integral) and size >= 1 for size in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, e.g. (100,) or (64, 32); "
                f"got {self.hidden_layer_sizes!r}."
            )
        return sizes

    def _check_hyperparameters(self):
        """Check the constructor arguments (scikit-learn checks them in fit, not __init__)."""
        self._hidden_sizes()
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if not (isinstance(self.learning_rate, numbers.Real) and self.learning_rate > 0):
            raise ValueError(
                f"learning_rate must be a positive number, got {self.learning_rate!r}."
            )
        if self.batch_size != "auto" and not _is_positive_int(self.batch_size):
            raise ValueError(
                f"batch_size must be a positive integer or 'auto', got {self.batch_size!r}."
            )
        if not _is_positive_int(self.epochs):
            raise ValueError(f"epochs must be a positive integer, got {self.epochs!r}.")
        if not (isinstance(self.alpha, numbers.Real) and self.alpha >= 0):
            raise ValueError(f"alpha must be a number >= 0, got {self.alpha!r}.")
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be np.float32 or np.float64, got {self.dtype!r}.")


def _check_no_missing_labels(y):
    """Refuse None (or NaN) labels, naming where they are, before scikit-learn's generic error."""
    if y is None:
        return  # scikit-learn's own message says that y is required
    try:
        labels = np.asarray(y).reshape(-1)
    except ValueError:
        return  # ragged: scikit-learn explains it
    if labels.dtype == object:
        missing = [index for index, label in enumerate(labels)
                   if label is None or (isinstance(label, numbers.Real) and math.isnan(label))]
    elif np.issubdtype(labels.dtype, np.floating):
        missing = np.flatnonzero(np.isnan(labels)).tolist()
    else:
        missing = []
    if missing:
        raise ValueError(
            f"y has no label (None or NaN) for {len(missing)} samples (the first at positions "
            f"{missing[:5]}); every sample needs its class: drop those samples or fill in their "
            f"labels."
        )


def _check_sample_weight(sample_weight, num_samples):
    """None, or a float64 array (num_samples,) of finite weights >= 0, not all 0."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        sample_weight = np.full(num_samples, sample_weight, dtype=np.float64)
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"sample_weight must be numbers, one per sample, got {sample_weight!r}."
        ) from None
    if weights.shape != (num_samples,):
        raise ValueError(
            f"sample_weight must have shape ({num_samples},), one weight per sample, got shape "
            f"{weights.shape}."
        )
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample_weight must hold finite numbers >= 0 (no NaN, inf or negative).")
    if not (weights > 0).any():
        raise ValueError(
            "sample_weight is zero for every sample: there is nothing to learn from. Give at "
            "least one sample a positive weight."
        )
    return weights


def _check_choice(name, value, choices):
    if not (isinstance(value, str) and value in choices):
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}.")


def _is_positive_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def _generator(random_state):
    """A np.random.Generator from random_state: None (fresh entropy), an int seed, a Generator
    (used as it is), or a legacy np.random.RandomState (which seeds a new Generator)."""
    if random_state is None or isinstance(random_state, numbers.Integral):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        f"random_state must be None, an int or a np.random.Generator, got {random_state!r}."
    )
