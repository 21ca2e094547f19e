"""Small data sets made up on the spot: XOR and three 2-D toy problems (lessons 03 and 05).

Each returns ``X`` of shape ``(N, 2)`` (float32 unless ``dtype`` says otherwise) and ``y`` of
shape ``(N,)`` with int64 class labels. Randomness comes from the ``rng`` you pass, a
``np.random.Generator``, so the same seed gives the same points. Importable from ``nnlib.data``.
"""

import numpy as np

from nnlib.batches import require_rng


def make_xor(dtype=np.float32):
    """The four XOR examples: X (4, 2) with every pair of 0/1 inputs, y (4,) int64 = a XOR b.

    No straight line separates the 1s from the 0s, so a network needs a hidden layer (lesson 03).
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return X, y


def _check_n(n, minimum, function):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{function}: n must be an integer >= {minimum}, got {n!r}")


def _check_noise(noise, function):
    if not noise >= 0:
        raise ValueError(f"{function}: noise is a standard deviation and must be >= 0, "
                         f"got {noise!r}")


def _shuffled(X, y, rng, dtype):
    """The points in random order, X as dtype and y as int64."""
    order = rng.permutation(len(y))
    return X[order].astype(dtype), y[order].astype(np.int64)


def make_moons(n=200, noise=0.1, rng=None, *, dtype=np.float32):
    """Two interleaving half circles ("moons"), in random order.

    Class 0 lies on the upper half of the unit circle, (cos t, sin t) for t in [0, pi];
    class 1 on the lower half circle (1 - cos t, 0.5 - sin t). Class 0 gets n // 2 points,
    class 1 the rest. Gaussian noise with standard deviation ``noise`` is added to every
    coordinate. The same points as scikit-learn's make_moons.

    Returns X (n, 2) as dtype and y (n,) int64.
    """
    require_rng(rng, "make_moons")
    _check_n(n, 2, "make_moons")
    _check_noise(noise, "make_moons")
    t_outer = np.linspace(0, np.pi, n // 2)
    t_inner = np.linspace(0, np.pi, n - n // 2)
    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = np.column_stack([1 - np.cos(t_inner), 0.5 - np.sin(t_inner)])
    X = np.concatenate([outer, inner]) + rng.normal(0, noise, size=(n, 2))
    y = np.repeat([0, 1], [len(outer), len(inner)])
    return _shuffled(X, y, rng, dtype)


def make_circles(n=200, noise=0.05, factor=0.5, rng=None, *, dtype=np.float32):
    """Two concentric circles, in random order.

    Class 0 on the unit circle, class 1 on a circle of radius ``factor`` (0 < factor < 1),
    points evenly spaced in angle; class 0 gets n // 2 points, class 1 the rest. Gaussian noise
    with standard deviation ``noise`` is added to every coordinate. The same points as
    scikit-learn's make_circles.

    Returns X (n, 2) as dtype and y (n,) int64.
    """
    require_rng(rng, "make_circles")
    _check_n(n, 2, "make_circles")
    _check_noise(noise, "make_circles")
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor is the inner radius and must lie in (0, 1), "
                         f"got {factor!r}")
    t_outer = np.linspace(0, 2 * np.pi, n // 2, endpoint=False)
    t_inner = np.linspace(0, 2 * np.pi, n - n // 2, endpoint=False)
    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = factor * np.column_stack([np.cos(t_inner), np.sin(t_inner)])
    X = np.concatenate([outer, inner]) + rng.normal(0, noise, size=(n, 2))
    y = np.repeat([0, 1], [len(outer), len(inner)])
    return _shuffled(X, y, rng, dtype)


def make_spirals(n=300, n_classes=3, noise=0.2, rng=None, *, dtype=np.float32):
    """Interleaved spiral arms, one per class, as in the CS231n notes; in random order.

    Arm k has points at radius r from 0 to 1 and angle t = 4 k + 4 r (+ noise):
    (r sin t, r cos t). ``noise`` is the standard deviation of Gaussian noise added to the
    *angle* (in radians), so the arms blur without leaving the unit disc. The n points are
    shared out as evenly as possible (the first n % n_classes arms get one more).

    Returns X (n, 2) as dtype and y (n,) int64 in 0..n_classes-1.
    """
    require_rng(rng, "make_spirals")
    _check_n(n_classes, 2, "make_spirals (n_classes)")
    _check_n(n, n_classes, "make_spirals")
    _check_noise(noise, "make_spirals")
    y = np.repeat(np.arange(n_classes), _share(n, n_classes))
    radius = np.concatenate([np.linspace(0, 1, count) for count in _share(n, n_classes)])
    angle = 4 * y + 4 * radius + rng.normal(0, noise, size=n)
    X = radius[:, None] * np.column_stack([np.sin(angle), np.cos(angle)])
    return _shuffled(X, y, rng, dtype)


def _share(n, parts):
    """n items shared out over parts: [n // parts + 1] * (n % parts) + [n // parts] * rest."""
    return [n // parts + (k < n % parts) for k in range(parts)]
