"""WeightAverage against its closed form: sum_k (1 - d) d^(t-k) p_k / (1 - d^t)."""

import numpy as np
import pytest

from nnlib import Dense, ReLU, Sequential
from nnlib.averaging import WeightAverage
from nnlib.losses import SoftmaxCrossEntropy
from nnlib.optimizers import SGD


def make_network(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential([Dense(3, 5, rng=rng, dtype=np.float64), ReLU(),
                       Dense(5, 2, rng=rng, dtype=np.float64)], loss=SoftmaxCrossEntropy())


def test_average_matches_the_closed_form():
    net, decay = make_network(), 0.7
    average = WeightAverage(net, decay=decay)
    rng = np.random.default_rng(1)
    history = []
    for _ in range(6):
        for value in net.parameters().values():
            value[...] = rng.normal(size=value.shape)
        history.append({name: value.copy() for name, value in net.parameters().items()})
        average.update()
    t = len(history)
    weights = [(1 - decay) * decay ** (t - k) / (1 - decay ** t) for k in range(1, t + 1)]
    assert sum(weights) == pytest.approx(1.0)
    for name, averaged in average.averaged_parameters().items():
        expected = sum(w * snapshot[name] for w, snapshot in zip(weights, history))
        np.testing.assert_allclose(averaged, expected, rtol=1e-12)


def test_constant_weights_average_to_themselves():
    net = make_network()
    average = WeightAverage(net, decay=0.999)
    for _ in range(3):
        average.update()
    for name, averaged in average.averaged_parameters().items():
        np.testing.assert_allclose(averaged, net.parameters()[name], rtol=1e-12)


def test_applied_swaps_the_weights_in_and_back_and_apply_keeps_them():
    X = np.random.default_rng(2).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    net = make_network()
    average = WeightAverage(net, decay=0.9)
    optimizer = SGD(0.5)
    net.fit(X, y, epochs=3, batch_size=8, optimizer=optimizer, callbacks=[average], verbose=0,
            rng=np.random.default_rng(0))
    assert average.updates == optimizer.iterations == 15
    own = {name: value.copy() for name, value in net.parameters().items()}
    averaged = average.averaged_parameters()
    assert not np.allclose(own["0.W"], averaged["0.W"])
    with average.applied():
        for name, value in net.parameters().items():
            np.testing.assert_array_equal(value, averaged[name])
        inside = net.predict_proba(X)
    for name, value in net.parameters().items():
        np.testing.assert_array_equal(value, own[name])
    average.apply()
    np.testing.assert_array_equal(net.predict_proba(X), inside)


def test_bad_use_gets_clear_errors():
    net = make_network()
    for decay in (0.0, 1.0, True, "0.9"):
        with pytest.raises(ValueError, match="decay"):
            WeightAverage(net, decay=decay)
    with pytest.raises(TypeError, match="Sequential"):
        WeightAverage("net")
    with pytest.raises(ValueError, match="no update yet"):
        WeightAverage(net).apply()
    X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="another network"):
        make_network(1).fit(X, y, epochs=1, verbose=0, callbacks=[WeightAverage(net)],
                            rng=np.random.default_rng(0))
    average = WeightAverage(net)
    average.update()
    net.layers.append(Dense(2, 2, dtype=np.float64))
    with pytest.raises(ValueError, match="reset"):
        average.update()
