"""Sequential: gradients, training (XOR, MNIST), reproducibility, early stop, callbacks, API."""

import os

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss

from nnlib import (
    Callback,
    Dense,
    Dropout,
    History,
    LeakyReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    gradcheck,
)
from nnlib.gradcheck import numerical_gradient, relative_error
from nnlib.losses import MSE, BinaryCrossEntropy, CrossEntropy, SoftmaxCrossEntropy
from nnlib.optimizers import SGD, Adam, CosineWithWarmup

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def signed_inputs(rng, shape):
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def small_network(rng, dtype=np.float32):
    return Sequential([Dense(3, 5, rng=rng, dtype=dtype), ReLU(),
                       Dense(5, 4, rng=rng, dtype=dtype), Tanh(),
                       Dense(4, 3, rng=rng, dtype=dtype)], loss=SoftmaxCrossEntropy())


# --- gradients ----------------------------------------------------------------------------------

NETWORKS = {
    "relu-tanh-softmax_ce": lambda rng: small_network(rng),
    "leaky-dropout-softmax_ce": lambda rng: Sequential(
        [Dense(3, 6, rng=rng), LeakyReLU(0.1), Dropout(0.3, rng=rng), Dense(6, 3, rng=rng)],
        loss=SoftmaxCrossEntropy(label_smoothing=0.1)),
    "sigmoid-softmax-cross_entropy": lambda rng: Sequential(
        [Dense(3, 4, rng=rng, init="xavier"), Sigmoid(), Dense(4, 3, rng=rng), Softmax()],
        loss=CrossEntropy()),
    "tanh-sigmoid-bce": lambda rng: Sequential(
        [Dense(3, 4, rng=rng, init="xavier"), Tanh(), Dense(4, 1, rng=rng), Sigmoid()],
        loss=BinaryCrossEntropy()),
    "tanh-mse": lambda rng: Sequential(
        [Dense(3, 4, rng=rng, init="xavier"), Tanh(), Dense(4, 3, rng=rng)], loss=MSE()),
}


def check_network(name, seed):
    rng = np.random.default_rng(seed)
    network = NETWORKS[name](rng)
    X = signed_inputs(rng, (4, 3))
    y = rng.integers(0, 2, size=4) if name.endswith("bce") else np.array([0, 2, 1, 2])
    if name.endswith("mse"):
        y = rng.normal(size=(4, 3))
    return network, gradcheck.check_gradients(network, X, y)


@pytest.mark.parametrize("name", NETWORKS)
def test_whole_networks_pass_a_gradient_check(name):
    network, report = check_network(name, seed=5)
    assert report.passed(1e-7), str(report)
    assert set(report.errors) == set(network.parameters())


@pytest.mark.parametrize("name", NETWORKS)
def test_gradient_checks_of_random_networks_stay_far_below_bug_level(name):
    # Central differences resolve a gradient to about 1e-10 in absolute terms (rounding in a
    # loss of size ~1, divided by 2 eps): entries that happen to be ~1e-4 small then show
    # relative errors near 1e-7 even when the backward pass is right. A bug gives > 1e-3.
    errors = [check_network(name, seed)[1].max_error for seed in range(8)]
    assert max(errors) < 1e-5, errors
    assert np.median(errors) < 1e-7, errors


def test_backward_returns_the_input_gradient():
    rng = np.random.default_rng(12)
    network = small_network(rng, dtype=np.float64)
    X, y = signed_inputs(rng, (4, 3)), np.array([0, 1, 2, 1])
    output = network.forward(X, training=True)
    network.loss.forward(output, y)
    grad_input = network.backward(network.loss.backward())
    numerical = numerical_gradient(lambda x: network.loss.forward(network.forward(x), y), X.copy())
    assert relative_error(grad_input, numerical) < 1e-7
    assert network.backward(network.loss.backward(), input_grad=False) is None


def test_parameters_and_gradients_are_named_by_layer_index_and_live():
    rng = np.random.default_rng(0)
    network = small_network(rng)
    params = network.parameters()
    assert list(params) == ["0.W", "0.b", "2.W", "2.b", "4.W", "4.b"]
    assert params["2.W"] is network.layers[2].params["W"]
    X = rng.normal(size=(2, 3))
    before = network.forward(X)
    params["4.b"] += 1.0  # changing the returned array changes the network
    np.testing.assert_allclose(network.forward(X), before + 1.0, rtol=1e-6)
    network.loss_and_gradients(X, [0, 1])
    grads = network.gradients()
    assert list(grads) == list(params)
    assert all(grads[name].shape == params[name].shape for name in params)


# --- training -----------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_xor_is_learned_with_binary_cross_entropy(seed):
    rng = np.random.default_rng(seed)
    network = Sequential([Dense(2, 8, rng=rng, init="xavier"), Tanh(),
                          Dense(8, 1, rng=rng, init="xavier"), Sigmoid()],
                         loss=BinaryCrossEntropy())
    history = network.fit(XOR_X, XOR_Y, epochs=400, batch_size=4, optimizer=Adam(0.05),
                          rng=rng, verbose=0)
    np.testing.assert_array_equal(network.predict(XOR_X), XOR_Y)
    assert history.accuracy[-1] == 1.0 and history.loss[-1] < 0.05


@pytest.mark.parametrize("seed", range(3))
def test_xor_is_learned_with_softmax_cross_entropy(seed):
    rng = np.random.default_rng(100 + seed)
    network = Sequential([Dense(2, 8, rng=rng), ReLU(), Dense(8, 2, rng=rng)],
                         loss=SoftmaxCrossEntropy())
    network.fit(XOR_X, XOR_Y, epochs=300, batch_size=4, optimizer=Adam(0.05), rng=rng,
                verbose=0)
    np.testing.assert_array_equal(network.predict(XOR_X), XOR_Y)
    assert network.evaluate(XOR_X, XOR_Y)[1] == 1.0


@pytest.mark.skipif("NNLIB_DATA_DIR" not in os.environ,
                    reason="set NNLIB_DATA_DIR to the folder holding mnist/ to run this test")
def test_mnist_mlp_reaches_97_percent_in_two_epochs():
    from nnlib.data import load_mnist

    X, y = load_mnist("train")
    X_test, y_test = load_mnist("test")
    rng = np.random.default_rng(0)
    network = Sequential([Dense(784, 128, rng=rng), ReLU(), Dense(128, 64, rng=rng), ReLU(),
                          Dense(64, 10, rng=rng)], loss=SoftmaxCrossEntropy())
    steps = 2 * int(np.ceil(len(X) / 128))
    history = network.fit(X, y, epochs=2, batch_size=128, rng=rng, verbose=0,
                          optimizer=Adam(CosineWithWarmup(3e-3, steps, warmup_steps=100)))
    _, accuracy = network.evaluate(X_test, y_test)
    assert accuracy >= 0.97, f"test accuracy {accuracy:.4f} after {history.epochs} epochs"
    assert network.parameters()["0.W"].dtype == np.float32


def test_same_seed_gives_bit_identical_weights():
    def train(seed):
        rng = np.random.default_rng(seed)
        network = Sequential([Dense(4, 16, rng=rng), ReLU(), Dropout(0.2),
                              Dense(16, 3, rng=rng)], loss=SoftmaxCrossEntropy())
        X, y = rng.normal(size=(200, 4)).astype(np.float32), rng.integers(0, 3, size=200)
        network.fit(X, y, epochs=3, batch_size=16, rng=rng, verbose=0)
        return network.parameters()

    first, again, other = train(1), train(1), train(2)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.array_equal(first["0.W"], other["0.W"])


def test_fit_updates_the_layers_own_arrays():
    rng = np.random.default_rng(3)
    network = small_network(rng)
    weights = network.layers[0].params["W"]
    start = weights.copy()
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 3, size=64)
    network.fit(X, y, epochs=2, batch_size=8, rng=rng, verbose=0)
    assert network.layers[0].params["W"] is weights  # same array, new values
    assert not np.array_equal(weights, start)
    assert weights.dtype == np.float32  # the float64 inputs did not change the network's dtype
    assert network.gradients()["0.W"] is network.layers[0].grads["W"]


def test_diverging_training_stops_with_advice_and_no_warning(capsys):
    rng = np.random.default_rng(4)
    network = Sequential([Dense(5, 32, rng=rng), ReLU(), Dense(32, 32, rng=rng), ReLU(),
                          Dense(32, 1, rng=rng)], loss=MSE())
    X = rng.normal(size=(256, 5)).astype(np.float32) * 100
    y = X.sum(axis=1, keepdims=True)
    history = network.fit(X, y, epochs=20, batch_size=32, optimizer=SGD(10.0), rng=rng,
                          verbose=0)
    assert history.epochs < 20
    assert "learning rate" in history.stopped_reason
    assert "smaller" in history.stopped_reason
    assert "initial weights" in history.stopped_reason   # the other usual cause is named too
    assert history.stopped_reason in capsys.readouterr().out


def test_history_records_every_epoch_with_validation():
    rng = np.random.default_rng(5)
    network = small_network(rng)
    X, y = rng.normal(size=(90, 3)), rng.integers(0, 3, size=90)
    history = network.fit(X, y, epochs=3, batch_size=32, validation_data=(X[:30], y[:30]),
                          rng=rng, verbose=0)
    assert isinstance(history, History) and history.epochs == 3
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds"):
        assert len(history.as_dict()[key]) == 3
    assert history.stopped_reason is None
    assert history.val_loss[-1] == pytest.approx(network.evaluate(X[:30], y[:30])[0])


class Recorder(Callback):
    def __init__(self, stop_after=None):
        self.calls, self.stop_after = [], stop_after

    def on_train_begin(self, network, epochs):
        self.network = network
        self.calls.append(("begin", epochs))

    def on_batch_end(self, batch_index, loss):
        self.calls.append(("batch", batch_index))

    def on_epoch_end(self, epoch, history):
        self.calls.append(("epoch", epoch, history.epochs))
        if self.stop_after is not None and epoch + 1 >= self.stop_after:
            self.network.stop_training = True

    def on_train_end(self, history):
        self.calls.append(("end", history.epochs))


def test_callbacks_see_every_hook_in_order():
    rng = np.random.default_rng(6)
    network = small_network(rng)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    recorder = Recorder()
    network.fit(X, y, epochs=2, batch_size=8, rng=rng, verbose=0, callbacks=[recorder])
    assert recorder.calls == [
        ("begin", 2), ("batch", 0), ("batch", 1), ("batch", 2), ("epoch", 0, 1),
        ("batch", 3), ("batch", 4), ("batch", 5), ("epoch", 1, 2), ("end", 2)]


def test_a_callback_can_stop_training():
    rng = np.random.default_rng(7)
    network = small_network(rng)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    history = network.fit(X, y, epochs=10, batch_size=8, rng=rng, verbose=0,
                          callbacks=[Recorder(stop_after=2)])
    assert history.epochs == 2 and "callback" in history.stopped_reason


# --- prediction and evaluation ------------------------------------------------------------------

def test_predict_evaluate_agree_with_sklearn():
    rng = np.random.default_rng(8)
    network = small_network(rng, dtype=np.float64)
    X, y = rng.normal(size=(50, 3)), rng.integers(0, 3, size=50)
    probabilities = network.predict_proba(X)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_allclose(network.predict_proba(X, batch_size=7), probabilities)
    np.testing.assert_array_equal(network.predict(X), probabilities.argmax(axis=1))
    loss, accuracy = network.evaluate(X, y, batch_size=16)
    assert loss == pytest.approx(log_loss(y, probabilities, labels=[0, 1, 2]), rel=1e-10)
    assert accuracy == pytest.approx(accuracy_score(y, network.predict(X)))
    assert network.evaluate(X, np.eye(3)[y]) == pytest.approx((loss, accuracy))


def test_single_output_predictions_use_a_threshold_of_one_half():
    rng = np.random.default_rng(9)
    network = Sequential([Dense(2, 3, rng=rng), Tanh(), Dense(3, 1, rng=rng), Sigmoid()],
                         loss=BinaryCrossEntropy())
    probabilities = network.predict_proba(XOR_X)
    assert probabilities.shape == (4, 1)
    np.testing.assert_array_equal(network.predict(XOR_X), (probabilities[:, 0] >= 0.5))


# --- description and errors ---------------------------------------------------------------------

def test_summary_and_repr():
    network = Sequential([Dense(784, 128), ReLU(), Dense(128, 10)], loss=SoftmaxCrossEntropy())
    summary = network.summary()
    assert "Dense(784 -> 128)" in summary and "(N, 128)" in summary and "(N, 10)" in summary
    assert "100,480" in summary and "1,290" in summary
    assert f"{784 * 128 + 128 + 128 * 10 + 10:,}" in summary and "float32" in summary
    assert network.num_parameters() == sum(p.size for p in network.parameters().values())
    assert repr(network).startswith("Sequential([\n    Dense(784 -> 128),")


def test_layers_that_do_not_fit_together_are_refused():
    with pytest.raises(ValueError, match=r"Dense\(784 -> 128\) gives 128 features but the next "
                                         r"Dense\(64 -> 10\) expects 64"):
        Sequential([Dense(784, 128), ReLU(), Dense(64, 10)])
    with pytest.raises(TypeError, match="not a layer"):
        Sequential([Dense(2, 2), "relu"])


def test_input_of_the_wrong_width_names_the_layer():
    network = Sequential([Dense(784, 16), ReLU(), Dense(16, 10)], loss=SoftmaxCrossEntropy())
    with pytest.raises(ValueError, match=r"Dense\(784 -> 16\) expected input of shape "
                                         r"\(N, 784\), got \(32, 783\)"):
        network.predict(np.zeros((32, 783)))
    with pytest.raises(ValueError, match="reshape"):
        network.predict(np.zeros(784))


def test_training_errors_are_explained():
    rng = np.random.default_rng(10)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 3, size=10)
    with pytest.raises(ValueError, match="needs a loss"):
        Sequential([Dense(3, 3)]).fit(X, y, verbose=0)
    with pytest.raises(ValueError, match="10 samples but y has 9"):
        small_network(rng).fit(X, y[:9], verbose=0)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        small_network(rng).fit(X, y, epochs=0, verbose=0)
    X[[3, 7], 1] = [np.nan, np.inf]
    with pytest.raises(ValueError, match=r"NaN or infinite values in 2 rows \(the first: \[3, 7\]\)"):
        small_network(rng).fit(X, y, verbose=0)


# --- hardening: silent wrong answers and misuse are refused (issue 8) -----------------------------

def test_a_layer_object_used_twice_is_refused_with_its_positions():
    relu = ReLU()
    with pytest.raises(ValueError, match=r"same ReLU\(\) object is used at positions \[1, 3\].*"
                                         r"create a new instance for each position"):
        Sequential([Dense(2, 4), relu, Dense(4, 4), relu, Dense(4, 2)], loss=SoftmaxCrossEntropy())
    dense = Dense(4, 4)
    with pytest.raises(ValueError, match=r"positions \[0, 1\].*Dense\(\.\.\.\)"):
        Sequential([dense, dense])


def test_a_layer_shared_after_construction_is_refused_by_fit_and_the_gradient_check():
    # Today's symptom: the first ReLU's gradient comes from the second one's cache, fit trains on
    # it silently, and a layer-by-layer copy in the checker un-shares the layers and says PASSED.
    rng = np.random.default_rng(20)
    network = Sequential([Dense(3, 4, rng=rng, dtype=np.float64), ReLU(),
                          Dense(4, 4, rng=rng, dtype=np.float64), ReLU(),
                          Dense(4, 3, rng=rng, dtype=np.float64)], loss=SoftmaxCrossEntropy())
    network.layers[3] = network.layers[1]
    X, y = signed_inputs(rng, (6, 3)), rng.integers(0, 3, size=6)
    with pytest.raises(ValueError, match=r"positions \[1, 3\]"):
        network.fit(X, y, epochs=1, verbose=0, rng=rng)
    with pytest.raises(ValueError, match=r"positions \[1, 3\]"):
        gradcheck.check_gradients(network, X, y)


def test_softmax_cross_entropy_on_one_output_unit_is_refused_with_the_alternatives():
    rng = np.random.default_rng(21)
    network = Sequential([Dense(2, 4, rng=rng), Tanh(), Dense(4, 1, rng=rng)],
                         loss=SoftmaxCrossEntropy())
    message = r"at least two output columns.*2 units.*Sigmoid\(\).*BinaryCrossEntropy\(\)"
    with pytest.raises(ValueError, match=message):
        network.fit(XOR_X, XOR_Y, epochs=1, verbose=0, rng=rng)
    with pytest.raises(ValueError, match=message):
        network.predict(XOR_X)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "evaluate"])
def test_prediction_refuses_non_finite_inputs_and_names_the_rows(method):
    rng = np.random.default_rng(22)
    network = small_network(rng)
    X = rng.normal(size=(6, 3))
    X[1, 0], X[4, 2] = np.nan, -np.inf
    arguments = (X, rng.integers(0, 3, size=6)) if method == "evaluate" else (X,)
    with pytest.raises(ValueError, match=r"NaN or infinite values in 2 rows \(the first: \[1, 4\]\)"):
        getattr(network, method)(*arguments)


@pytest.mark.parametrize("method", ["predict", "evaluate"])
def test_a_nan_weight_is_reported_instead_of_predicting_class_0(method):
    rng = np.random.default_rng(23)
    network = small_network(rng)
    network.parameters()["2.W"][0, 0] = np.nan
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    arguments = (X, y) if method == "evaluate" else (X,)
    with pytest.raises(ValueError, match=r"parameters \['2.W'\] contain NaN"):
        getattr(network, method)(*arguments)


def test_probability_losses_refuse_logits_in_predict_proba():
    rng = np.random.default_rng(24)
    network = Sequential([Dense(3, 4, rng=rng), Tanh(), Dense(4, 3, rng=rng)], loss=CrossEntropy())
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*Softmax\(\)"):
        network.predict_proba(5 * rng.normal(size=(8, 3)))


def test_nan_in_the_validation_labels_is_refused():
    rng = np.random.default_rng(25)
    network = Sequential([Dense(3, 4, rng=rng), Tanh(), Dense(4, 1, rng=rng)], loss=MSE())
    X, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 1))
    y_val = y[:4].copy()
    y_val[2] = np.nan
    with pytest.raises(ValueError, match=r"validation y contains NaN or infinite values in 1 rows "
                                         r"\(the first: \[2\]\)"):
        network.fit(X, y, epochs=1, validation_data=(X[:4], y_val), verbose=0, rng=rng)


def test_fit_on_zero_samples_is_explained():
    rng = np.random.default_rng(26)
    with pytest.raises(ValueError, match=r"X has 0 samples.*at least one"):
        small_network(rng).fit(np.zeros((0, 3)), np.zeros(0, dtype=int), verbose=0, rng=rng)


def test_an_optimizer_that_trained_one_network_is_refused_for_another_until_reset():
    rng = np.random.default_rng(27)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    optimizer = Adam(1e-2)
    first, second = small_network(rng), small_network(rng)
    first.fit(X, y, epochs=1, optimizer=optimizer, verbose=0, rng=rng)
    first.fit(X, y, epochs=1, optimizer=optimizer, verbose=0, rng=rng)  # continuing is fine
    with pytest.raises(ValueError, match=r"already taken 2 steps for another network.*"
                                         r"own optimizer.*reset\(\)"):
        second.fit(X, y, epochs=1, optimizer=optimizer, verbose=0, rng=rng)
    # After reset the second network trains exactly as with a brand-new optimizer.
    twin, again = small_network(np.random.default_rng(1)), small_network(np.random.default_rng(1))
    optimizer.reset()
    again.fit(X, y, epochs=2, optimizer=optimizer, verbose=0, rng=np.random.default_rng(5))
    twin.fit(X, y, epochs=2, optimizer=Adam(1e-2), verbose=0, rng=np.random.default_rng(5))
    for name, value in twin.parameters().items():
        np.testing.assert_array_equal(again.parameters()[name], value)


class NoSteps:
    """Stands for anything that is not an optimizer."""


@pytest.mark.parametrize("arguments, error, message", [
    ({"rng": 42}, TypeError, r"pass np\.random\.default_rng\(42\)"),
    ({"rng": np.random.RandomState(0)}, TypeError, r"np\.random\.default_rng\(seed\)"),
    ({"optimizer": "adam"}, TypeError, r"not the string 'adam'; pass Adam\(1e-3\)"),
    ({"optimizer": "sgd"}, TypeError, r"pass SGD\(0\.01\)"),
    ({"optimizer": Adam}, TypeError, r"class Adam itself.*optimizer=Adam\(1e-3\)"),
    ({"optimizer": NoSteps()}, TypeError, r"an object with a step\(params, grads\) method"),
    ({"callbacks": Callback()}, TypeError, r"a list of callbacks.*callbacks=\[Callback\(\.\.\.\)\]"),
    ({"callbacks": [Callback]}, TypeError, r"callbacks\[0\] is the class Callback.*Callback\(\)"),
    ({"callbacks": [NoSteps()]}, TypeError, r"has no method on_train_begin.*nnlib\.network\.Callback"),
    ({"batch_size": 2.5}, ValueError, r"batch_size must be a positive integer, got 2\.5"),
    ({"batch_size": True}, ValueError, r"batch_size must be a positive integer, got True"),
    ({"validation_data": np.zeros((3, 3))}, ValueError, r"a pair \(X_val, y_val\)"),
])
def test_misuse_of_fit_is_explained(arguments, error, message):
    rng = np.random.default_rng(28)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 3, size=10)
    with pytest.raises(error, match=message):
        small_network(rng).fit(X, y, epochs=1, verbose=0, **{"rng": rng, **arguments})


@pytest.mark.parametrize("method", ["predict", "predict_proba", "evaluate"])
@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_a_bad_batch_size_in_prediction_is_explained(method, batch_size):
    rng = np.random.default_rng(29)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 3, size=10)
    arguments = (X, y) if method == "evaluate" else (X,)
    with pytest.raises(ValueError, match=f"batch_size must be a positive integer, got {batch_size}"):
        getattr(small_network(rng), method)(*arguments, batch_size=batch_size)


def test_sparse_scalar_and_non_numeric_inputs_are_explained():
    from scipy import sparse

    rng = np.random.default_rng(30)
    network = small_network(rng)
    with pytest.raises(TypeError, match=r"SciPy sparse matrix.*X\.toarray\(\)"):
        network.predict(sparse.csr_matrix(np.eye(3)))
    with pytest.raises(TypeError, match=r"SciPy sparse matrix.*X\.toarray\(\)"):
        network.fit(sparse.csr_matrix(np.eye(3)), [0, 1, 2], verbose=0, rng=rng)
    with pytest.raises(ValueError, match=r"single value \(3\.0\).*\(N, features\)"):
        network.predict(3.0)
    with pytest.raises(TypeError, match=r"y has dtype object.*None"):
        network.fit(np.eye(3), [0, None, 2], verbose=0, rng=rng)
    with pytest.raises(TypeError, match="expected real numbers"):
        network.predict(np.array([["a", "b", "c"]]))
