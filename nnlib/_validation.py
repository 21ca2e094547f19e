"""Checks of what is passed to nnlib's public functions, each failing with a message that says
what was wrong, what was expected and what to pass instead.

``Sequential.fit`` / ``predict`` / ``predict_proba`` / ``evaluate``, ``check_gradients`` and the
optimisers call these once per call, never inside the per-batch loop: a mistake is reported
where it was made, not as a traceback from deep inside NumPy, and training stays fast.
"""

import math
import numbers

import numpy as np

# --- numbers ------------------------------------------------------------------------------------


def check_positive_int(name, value):
    """A positive whole number (not a bool, not 2.5)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def check_positive_real(name, value, where, example="1e-3"):
    """A finite real number > 0 (not complex, not a bool, not NaN)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value <= 0):
        raise ValueError(
            f"{where}: {name} must be positive, a finite real number such as {example}; got "
            f"{value!r}."
        )
    return value


def check_real_in(name, value, low, high, where, *, low_open=False, high_open=False):
    """A finite real number in the interval from low to high (open ends as requested)."""
    inside = (not isinstance(value, bool) and isinstance(value, numbers.Real)
              and math.isfinite(value)
              and (value > low if low_open else value >= low)
              and (value < high if high_open else value <= high))
    if not inside:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{where}: {name} must be a real number in {interval}, got {value!r}.")
    return value


# --- arrays of samples --------------------------------------------------------------------------

def _is_sparse(value):
    # Duck typing, so that nnlib does not need to import SciPy.
    return type(value).__module__.startswith("scipy.sparse")


def as_samples(X, name="X", dtype=None):
    """X as a NumPy array (N, features) of real numbers: no sparse matrix, no scalar, at least
    one sample, no NaN or infinity; cast to ``dtype`` if given."""
    if _is_sparse(X):
        raise TypeError(
            f"{name} is a SciPy sparse matrix ({type(X).__name__}); nnlib computes with dense "
            f"NumPy arrays: pass {name}.toarray()."
        )
    try:
        array = np.asarray(X)
    except ValueError as error:  # e.g. rows of different lengths
        raise ValueError(
            f"{name} could not be turned into one array ({error}); every sample must have the "
            f"same number of features."
        ) from None
    if array.ndim == 0:
        raise ValueError(
            f"{name} is a single value ({X!r}), not a batch of samples; expected an array of "
            f"shape (N, features)."
        )
    if array.ndim == 1:
        raise ValueError(
            f"Expected a batch of samples (N, features), got a 1-D array of shape "
            f"{array.shape}; for a single sample use X.reshape(1, -1)."
        )
    if not _holds_real_numbers(array):
        raise TypeError(
            f"{name} has dtype {array.dtype}; expected real numbers (floats or ints). Convert "
            f"it with np.asarray({name}, dtype=np.float32) after replacing anything that is "
            f"not a number."
        )
    if len(array) == 0:
        raise ValueError(f"{name} has 0 samples (shape {array.shape}); give at least one sample.")
    if dtype is not None and array.dtype != dtype:
        with np.errstate(over="ignore"):  # a value too large for dtype becomes inf: reported below
            array = array.astype(dtype)
    check_finite(name, array)
    return array


def as_labels(y, num_samples, name="y", samples_name="X"):
    """y as a NumPy array of numbers with one entry (or row) per sample, all finite."""
    if y is None:
        raise ValueError(f"{name} is None; give one label per sample.")
    if _is_sparse(y):
        raise TypeError(f"{name} is a SciPy sparse matrix; pass {name}.toarray().")
    y = np.asarray(y)
    if y.ndim == 0:
        raise ValueError(
            f"{name} is a single value ({y!r}); give one label per sample, an array of shape "
            f"(N,) or (N, C)."
        )
    if not _holds_real_numbers(y):
        raise TypeError(
            f"{name} has dtype {y.dtype}; a network learns from numbers: class ids 0..C-1 of "
            f"shape (N,), or targets of shape (N, C). (A None or a string label gives this.)"
        )
    if len(y) != num_samples:
        raise ValueError(
            f"{samples_name} has {num_samples} samples but {name} has {len(y)} labels; they must "
            f"match one to one."
        )
    check_finite(name, y)
    return y


def check_finite(name, values):
    """Refuse NaN or infinite values, naming the first rows that hold them."""
    if not np.issubdtype(values.dtype, np.floating):
        return
    # One pass and no temporary array: the sum is finite exactly when every value is (short of
    # values near 1e308). inf + -inf would warn "invalid value"; here it only means "not finite".
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(values, dtype=np.float64)
    if not np.isfinite(total):
        bad_rows = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
        if bad_rows.size:
            raise ValueError(
                f"{name} contains NaN or infinite values in {bad_rows.size} rows (the first: "
                f"{bad_rows[:5].tolist()}); remove or replace those rows first (a value too "
                f"large for the network's dtype also becomes infinite)."
            )


# --- objects passed to fit ----------------------------------------------------------------------

def as_generator(rng, where):
    """A np.random.Generator: None gives a fresh one; a seed is refused with the way to pass it."""
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        advice = f"pass np.random.default_rng({rng})"
    else:
        advice = "pass np.random.default_rng(seed), e.g. np.random.default_rng(0)"
    raise TypeError(
        f"{where}: rng must be a np.random.Generator, got {rng!r}; {advice}. One generator "
        f"shared by the whole script keeps every run reproducible."
    )


# Constructors to suggest when an optimiser is given by name or as a class.
_OPTIMIZER_EXAMPLES = {"sgd": "SGD(0.01)", "momentum": "Momentum(0.01)", "adagrad": "AdaGrad(0.01)",
                       "rmsprop": "RMSProp(1e-3)", "adam": "Adam(1e-3)"}


def check_optimizer(optimizer, where):
    """An optimiser object (something with ``step``), not its name or its class."""
    if isinstance(optimizer, str):
        example = _OPTIMIZER_EXAMPLES.get(optimizer.lower(), "Adam(1e-3)")
        raise TypeError(
            f"{where}: optimizer must be an optimizer object, not the string {optimizer!r}; "
            f"pass {example} (from nnlib.optimizers import {example.split('(')[0]})."
        )
    if isinstance(optimizer, type):
        example = _OPTIMIZER_EXAMPLES.get(optimizer.__name__.lower(), f"{optimizer.__name__}(...)")
        raise TypeError(
            f"{where}: optimizer is the class {optimizer.__name__} itself; create an optimizer "
            f"from it and pass that: optimizer={example}."
        )
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(
            f"{where}: optimizer must be an optimizer from nnlib.optimizers such as Adam(1e-3) "
            f"(an object with a step(params, grads) method), got {optimizer!r}."
        )
    return optimizer


CALLBACK_HOOKS = ("on_train_begin", "on_batch_end", "on_epoch_end", "on_train_end")


def as_callbacks(callbacks, where):
    """A list of callback objects, each with every hook of ``nnlib.network.Callback``."""
    if all(hasattr(callbacks, hook) for hook in CALLBACK_HOOKS):
        raise TypeError(
            f"{where}: callbacks must be a list of callbacks, got a single one ({callbacks!r}); "
            f"wrap it in a list: callbacks=[{type(callbacks).__name__}(...)]."
        )
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise TypeError(
            f"{where}: callbacks must be a list of Callback objects, got {callbacks!r}."
        ) from None
    for index, callback in enumerate(callbacks):
        if isinstance(callback, type):
            raise TypeError(
                f"{where}: callbacks[{index}] is the class {callback.__name__}, not an object; "
                f"pass an instance: callbacks=[{callback.__name__}()]."
            )
        missing = [hook for hook in CALLBACK_HOOKS if not callable(getattr(callback, hook, None))]
        if missing:
            raise TypeError(
                f"{where}: callbacks[{index}] ({callback!r}) has no method {missing[0]}; derive "
                f"your callback from nnlib.network.Callback, which provides every hook."
            )
    return callbacks


def _holds_real_numbers(array):
    """True for arrays of ints, floats or bools: what a network can compute with."""
    return (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
            or array.dtype == bool)
