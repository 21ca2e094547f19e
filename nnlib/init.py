"""Weight initialisers: random starting weights of the right size (lesson 05).

If the weights start too small, the signal shrinks layer after layer; too large, and it
explodes (or saturates sigmoid/tanh units). The classic recipes pick the spread so that the
variance of the activations stays about the same from layer to layer:

    name                 std of a normal draw          for
    he (Kaiming)         sqrt(2 / fan_in)              ReLU and its variants
    xavier / glorot      sqrt(2 / (fan_in + fan_out))  tanh, sigmoid
    lecun                sqrt(1 / fan_in)              SELU, and tanh in older papers
    normal               0.01                          the old "small random numbers"

The uniform variants draw from [-limit, limit] with limit = sqrt(3) * std, which has the same
variance. Every function takes the random number generator explicitly, so that the same seed
always gives the same weights; and returns a (fan_in, fan_out) array of the requested dtype.
"""

import math

import numpy as np


def _normal(std, fan_in, fan_out, rng, dtype):
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.float64):  # draw directly in the target precision
        weights = rng.standard_normal((fan_in, fan_out), dtype=dtype)
    else:
        weights = rng.standard_normal((fan_in, fan_out))
    weights *= std
    return weights.astype(dtype, copy=False)


def _uniform(limit, fan_in, fan_out, rng, dtype):
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(dtype)


def he_normal(fan_in, fan_out, rng, dtype=np.float32):
    """He et al. (2015): normal with std sqrt(2 / fan_in). Shape (fan_in, fan_out)."""
    return _normal(math.sqrt(2.0 / fan_in), fan_in, fan_out, rng, dtype)


def he_uniform(fan_in, fan_out, rng, dtype=np.float32):
    """He et al. (2015), uniform on [-limit, limit] with limit = sqrt(6 / fan_in)."""
    return _uniform(math.sqrt(6.0 / fan_in), fan_in, fan_out, rng, dtype)


def xavier_normal(fan_in, fan_out, rng, dtype=np.float32):
    """Glorot and Bengio (2010): normal with std sqrt(2 / (fan_in + fan_out))."""
    return _normal(math.sqrt(2.0 / (fan_in + fan_out)), fan_in, fan_out, rng, dtype)


def xavier_uniform(fan_in, fan_out, rng, dtype=np.float32):
    """Glorot and Bengio (2010), uniform with limit sqrt(6 / (fan_in + fan_out))."""
    return _uniform(math.sqrt(6.0 / (fan_in + fan_out)), fan_in, fan_out, rng, dtype)


def lecun_normal(fan_in, fan_out, rng, dtype=np.float32):
    """LeCun et al. (1998): normal with std sqrt(1 / fan_in)."""
    return _normal(math.sqrt(1.0 / fan_in), fan_in, fan_out, rng, dtype)


def lecun_uniform(fan_in, fan_out, rng, dtype=np.float32):
    """LeCun et al. (1998), uniform with limit sqrt(3 / fan_in)."""
    return _uniform(math.sqrt(3.0 / fan_in), fan_in, fan_out, rng, dtype)


def small_normal(fan_in, fan_out, rng, dtype=np.float32):
    """Normal with the fixed std 0.01, whatever the layer size (works only for shallow nets)."""
    return _normal(0.01, fan_in, fan_out, rng, dtype)


INITIALIZERS = {
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "xavier": xavier_normal,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "glorot": xavier_normal,
    "glorot_normal": xavier_normal,
    "glorot_uniform": xavier_uniform,
    "lecun": lecun_normal,
    "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform,
    "normal": small_normal,
}


def get_initializer(name):
    """Return the initialiser function called ``name`` (e.g. "he"), or ``name`` if it is callable."""
    if callable(name):
        return name
    try:
        return INITIALIZERS[str(name).lower()]
    except KeyError:
        valid = ", ".join(repr(key) for key in INITIALIZERS)
        raise ValueError(f"Unknown initialiser {name!r}; choose one of {valid}.") from None
