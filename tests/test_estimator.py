"""nnlib.estimator.MLPClassifier: scikit-learn's own estimator checks, and real use on digits."""

import inspect
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from nnlib import io
from nnlib.estimator import MLPClassifier
from nnlib.network import Sequential


def float32_rounding(estimator):
    """Weights equal repetitions to the rounding of the model's dtype; the check asks 1e-7."""
    if np.dtype(estimator.dtype) == np.float64:
        return {}
    return {"check_sample_weight_equivalence_on_dense_data":
            "float32 weights: equal to repeated samples up to float32 rounding (about 3e-7)"}


def with_checks_listed(parametrize_mark):
    """The same ``parametrize`` mark with its checks materialised into a list.

    scikit-learn before 1.8 hands pytest a generator of checks, which pytest 9 deprecates
    (``PytestRemovedIn10Warning``, an error here); later versions already pass a list.
    """
    names, checks = parametrize_mark.args
    return pytest.mark.parametrize(names, list(checks), **parametrize_mark.kwargs)


@with_checks_listed(parametrize_with_checks([
    MLPClassifier(random_state=0),
    MLPClassifier(hidden_layer_sizes=(8, 8), activation="tanh", optimizer="momentum",
                  learning_rate=0.05, batch_size="auto", epochs=30, alpha=1e-4, dtype="float64",
                  random_state=0),
], expected_failed_checks=float32_rounding))
def test_scikit_learn_estimator_checks(estimator, check, monkeypatch):
    # scikit-learn runs its array-API check (NumPy inputs with array-API dispatch on) only when
    # SciPy's array-API mode is switched on; switch it on so that no check is skipped.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


# --- data ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    """The 8x8 digits of scikit-learn, split 70/30 with every class in both parts."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def small_problem():
    """A quick 3-class problem, already on a scale the network can learn from."""
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    return X, y


def quick(**params):
    """A small, fast classifier for tests that are about behaviour, not accuracy."""
    return MLPClassifier(**{"hidden_layer_sizes": (16,), "epochs": 5, "learning_rate": 0.01,
                            "random_state": 0, **params})


# --- accuracy against an independent reference --------------------------------------------------

@pytest.mark.parametrize("scaler", [StandardScaler, MinMaxScaler])
def test_digits_accuracy_is_high_and_close_to_scikit_learns_mlp(digits, scaler):
    X_train, X_test, y_train, y_test = digits
    ours = make_pipeline(scaler(), MLPClassifier(random_state=0)).fit(X_train, y_train)
    reference = make_pipeline(
        scaler(),
        SklearnMLPClassifier(hidden_layer_sizes=(100,), batch_size=32, tol=1e-2, max_iter=200,
                             random_state=0),
    ).fit(X_train, y_train)
    our_accuracy = ours.score(X_test, y_test)
    reference_accuracy = reference.score(X_test, y_test)
    assert our_accuracy >= 0.95
    assert abs(our_accuracy - reference_accuracy) <= 0.03, (our_accuracy, reference_accuracy)


def test_cross_val_score_in_a_pipeline(digits):
    X_train, _, y_train, _ = digits
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(epochs=10, random_state=0))
    scores = cross_val_score(pipeline, X_train, y_train, cv=3)
    assert scores.shape == (3,)
    assert scores.min() >= 0.9


def test_grid_search_picks_the_better_setting(digits):
    X_train, X_test, y_train, y_test = digits
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(epochs=5, random_state=0))
    # A learning rate of 1e-6 barely moves the weights in 5 epochs: it must lose.
    search = GridSearchCV(pipeline, {"mlpclassifier__learning_rate": [1e-6, 1e-2]}, cv=3)
    search.fit(X_train, y_train)
    assert search.best_params_ == {"mlpclassifier__learning_rate": 1e-2}
    assert search.score(X_test, y_test) >= 0.9


# --- labels -------------------------------------------------------------------------------------

def test_string_labels_give_the_same_model_as_their_integer_codes(small_problem):
    X, y = small_problem
    names = np.array(["ant", "bee", "cat"])  # sorted like 0, 1, 2
    with_ids = quick().fit(X, y)
    with_names = quick().fit(X, names[y])
    assert list(with_names.classes_) == ["ant", "bee", "cat"]
    assert np.array_equal(with_names.predict(X), names[with_ids.predict(X)])
    assert np.array_equal(with_names.predict_proba(X), with_ids.predict_proba(X))


def test_probability_columns_follow_classes_(small_problem):
    X, y = small_problem
    labels = np.array([30, -5, 12])[y]  # classes_ sorted: -5, 12, 30
    model = quick(epochs=20).fit(X, labels)
    assert list(model.classes_) == [-5, 12, 30]
    probabilities = model.predict_proba(X)
    assert probabilities.shape == (len(X), 3)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-6)
    assert np.array_equal(model.classes_[probabilities.argmax(axis=1)], model.predict(X))
    assert model.score(X, labels) == np.mean(model.predict(X) == labels) > 0.6  # chance: 1/3


def test_a_binary_problem_uses_two_softmax_outputs(small_problem):
    X, y = small_problem
    labels = np.where(y == 0, "yes", "no")
    model = quick(epochs=20).fit(X, labels)
    assert model.predict_proba(X).shape == (len(X), 2)
    assert model.network_.layers[-1].out_features == 2
    assert model.score(X, labels) > 0.8


def test_a_single_class_is_refused_with_a_clear_message(small_problem):
    X, _ = small_problem
    with pytest.raises(ValueError, match=r"at least 2 classes.*only one class"):
        quick().fit(X, np.zeros(len(X)))


def test_continuous_targets_are_refused(small_problem):
    X, _ = small_problem
    with pytest.raises(ValueError, match="Unknown label type"):
        quick().fit(X, np.linspace(0, 1, len(X)))


# --- the fitted attributes ----------------------------------------------------------------------

def test_fitted_attributes_describe_the_training(small_problem):
    X, y = small_problem
    model = MLPClassifier(hidden_layer_sizes=(12, 7), epochs=8, random_state=0).fit(X, y)
    assert model.n_features_in_ == 6
    assert isinstance(model.network_, Sequential)
    dense_sizes = [(layer.in_features, layer.out_features) for layer in model.network_.layers
                   if hasattr(layer, "out_features")]
    assert dense_sizes == [(6, 12), (12, 7), (7, 3)]
    assert model.n_iter_ == model.history_.epochs == len(model.loss_curve_) == 8
    assert model.loss_curve_ == model.history_.loss
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert all(param.dtype == np.float32 for param in model.network_.parameters().values())


def test_same_random_state_same_model_different_state_different_model(small_problem):
    X, y = small_problem
    first = quick(random_state=7).fit(X, y).predict_proba(X)
    again = quick(random_state=7).fit(X, y).predict_proba(X)
    other = quick(random_state=8).fit(X, y).predict_proba(X)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_a_generator_is_accepted_as_random_state(small_problem):
    X, y = small_problem
    first = quick(random_state=np.random.default_rng(3)).fit(X, y).predict_proba(X)
    again = quick(random_state=np.random.default_rng(3)).fit(X, y).predict_proba(X)
    assert np.array_equal(first, again)


def test_weight_decay_shrinks_the_weights(small_problem):
    X, y = small_problem

    def weight_norm(model):
        return sum(np.sum(layer.params["W"] ** 2) for layer in model.network_.layers
                   if "W" in layer.params)

    plain = quick(epochs=20, alpha=0.0).fit(X, y)
    decayed = quick(epochs=20, alpha=0.1).fit(X, y)
    assert weight_norm(decayed) < 0.8 * weight_norm(plain)


def test_dtype_float64_trains_in_float64(small_problem):
    X, y = small_problem
    model = quick(dtype=np.float64).fit(X, y)
    assert all(param.dtype == np.float64 for param in model.network_.parameters().values())
    assert model.predict_proba(X).dtype == np.float64


def test_the_fitted_network_saves_and_loads_with_nnlib_io(small_problem, tmp_path):
    X, y = small_problem
    model = quick().fit(X, y)
    io.save(model.network_, tmp_path / "model.npz")
    restored = io.load(tmp_path / "model.npz")
    assert np.array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(pickle.loads(pickle.dumps(model)).predict_proba(X),
                          model.predict_proba(X))


# --- partial_fit --------------------------------------------------------------------------------

def test_partial_fit_steps_are_the_epochs_of_fit(small_problem):
    X, y = small_problem
    fitted = quick(epochs=3).fit(X, y)
    stepped = quick()
    for _ in range(3):
        stepped.partial_fit(X, y, classes=np.unique(y))
    assert stepped.n_iter_ == 3 and len(stepped.loss_curve_) == 3
    assert stepped.loss_curve_ == fitted.loss_curve_
    assert np.array_equal(stepped.predict_proba(X), fitted.predict_proba(X))


def test_partial_fit_continues_after_fit(small_problem):
    X, y = small_problem
    model = quick(epochs=2).fit(X, y)
    model.partial_fit(X, y)
    assert model.n_iter_ == 3 and len(model.loss_curve_) == 3


def test_partial_fit_needs_the_classes_on_the_first_call(small_problem):
    X, y = small_problem
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        quick().partial_fit(X, y)


def test_partial_fit_accepts_a_batch_missing_some_classes(small_problem):
    X, y = small_problem
    model = quick().partial_fit(X[y == 0], y[y == 0], classes=[0, 1, 2])
    assert list(model.classes_) == [0, 1, 2]
    model.partial_fit(X[y != 0], y[y != 0])
    assert model.predict_proba(X).shape == (len(X), 3)


def test_partial_fit_refuses_new_labels_and_changed_classes(small_problem):
    X, y = small_problem
    model = quick().partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"labels \[7\] that are not among the classes"):
        model.partial_fit(X[:3], np.array([0, 7, 1]))
    with pytest.raises(ValueError, match="cannot change between calls"):
        model.partial_fit(X, y, classes=[0, 1, 2, 3])


# --- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, value", [
    ("hidden_layer_sizes", (10, 0)),
    ("hidden_layer_sizes", "100"),
    ("activation", "softplus"),
    ("optimizer", "lbfgs"),
    ("learning_rate", 0.0),
    ("learning_rate", "fast"),
    ("batch_size", 0),
    ("batch_size", "max"),
    ("epochs", 2.5),
    ("alpha", -1.0),
    ("dtype", np.int32),
    ("dtype", "half"),
    ("random_state", "seed"),
])
def test_bad_hyperparameters_are_named_when_fitting(small_problem, name, value):
    X, y = small_problem
    model = quick(**{name: value})  # scikit-learn convention: __init__ does not check
    assert model.get_params()[name] is value
    with pytest.raises(ValueError, match=name):
        model.fit(X, y)


def test_standard_scikit_learn_errors_for_bad_input(small_problem):
    X, y = small_problem
    with pytest.raises(NotFittedError):
        quick().predict(X)
    model = quick().fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features, but MLPClassifier is expecting 6"):
        model.predict(X[:, :5])
    with_nan = X.copy()
    with_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        quick().fit(with_nan, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        quick().fit(X, y[:-1])


def test_a_diverging_training_raises_with_advice(small_problem):
    X, y = small_problem
    with pytest.raises(ValueError, match="learning rate"):
        quick(learning_rate=1e30, optimizer="sgd").fit(X * 1e6, y)


def test_verbose_0_prints_nothing_and_verbose_1_shows_progress(small_problem, capsys):
    X, y = small_problem
    quick(verbose=0).fit(X, y)
    silent = capsys.readouterr()
    assert silent.out == "" and silent.err == ""
    quick(verbose=1).fit(X, y)
    shown = capsys.readouterr()
    assert "epoch" in shown.out + shown.err


# --- hardening (issue 8) --------------------------------------------------------------------------

def essential_bytes(model):
    """What a fitted model must store: parameters, their gradient buffers, the optimiser state."""
    network = model.network_
    arrays = [*network.parameters().values(), *network.gradients().values()]
    arrays += [array for state in model._optimizer.state.values() for array in state.values()]
    return sum(array.nbytes for array in arrays)


def test_a_pickled_model_carries_no_forward_caches():
    # Today the layers keep the last predicted batch (up to 1,024 rows) and the last labels.
    X, y = make_classification(n_samples=3000, n_features=40, n_informative=10, n_classes=3,
                               random_state=1)
    model = quick(hidden_layer_sizes=(64,), epochs=1).fit(X[:200], y[:200])
    after_fit = len(pickle.dumps(model))
    model.predict_proba(X)
    after_predict = len(pickle.dumps(model))
    assert after_predict == after_fit
    assert after_fit < essential_bytes(model) + 20_000, (after_fit, essential_bytes(model))
    restored = pickle.loads(pickle.dumps(model))
    assert np.array_equal(restored.predict_proba(X), model.predict_proba(X))
    restored.partial_fit(X[:200], y[:200])  # and it trains on
    assert restored.n_iter_ == 2


@pytest.mark.parametrize("labels", [[0, 1, None, 2, None], [0.0, 1.0, np.nan, 2.0, np.nan],
                                    ["a", "b", None, "c", None]])
def test_a_missing_label_is_named(small_problem, labels):
    X, _ = small_problem
    with pytest.raises(ValueError, match=r"no label \(None or NaN\) for 2 samples \(the first at "
                                         r"positions \[2, 4\]\).*drop those samples"):
        quick().fit(X[:5], np.array(labels, dtype=object if None in labels else None))


def full_batch(**params):
    """One batch holding all the data, in float64: weighted and repeated data give one gradient."""
    return quick(**{"batch_size": 1000, "epochs": 20, "dtype": np.float64, **params})


def test_integer_sample_weights_equal_repeated_samples(small_problem):
    X, y = small_problem
    weights = np.random.default_rng(0).integers(0, 4, size=len(X))
    weighted = full_batch().fit(X, y, sample_weight=weights)
    repeated = full_batch().fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-9)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)
    # ... and the first epoch's loss is the closed form: the weighted mean of the per-sample losses
    untrained = full_batch(epochs=1, learning_rate=1e-12).fit(X, y, sample_weight=weights)
    probabilities = untrained.predict_proba(X)[np.arange(len(X)), y]
    expected = np.sum(weights * -np.log(probabilities)) / np.sum(weights)
    assert untrained.loss_curve_[0] == pytest.approx(expected, rel=1e-9)


def test_equal_weights_change_nothing_and_zero_weights_remove_samples(small_problem):
    X, y = small_problem
    plain = quick().fit(X, y)
    np.testing.assert_array_equal(quick().fit(X, y, sample_weight=np.full(len(X), 3.0))
                                  .predict_proba(X), plain.predict_proba(X))
    keep = np.arange(len(X)) % 3 != 0
    removed = full_batch().fit(X[keep], y[keep])
    zeroed = full_batch().fit(X, y, sample_weight=keep.astype(float))
    np.testing.assert_allclose(zeroed.predict_proba(X), removed.predict_proba(X), rtol=1e-9)


def test_partial_fit_accepts_sample_weight(small_problem):
    X, y = small_problem
    weights = np.random.default_rng(1).integers(1, 3, size=len(X))
    stepped = full_batch()
    for _ in range(3):
        stepped.partial_fit(X, y, classes=[0, 1, 2], sample_weight=weights)
    fitted = full_batch(epochs=3).fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(stepped.predict_proba(X), fitted.predict_proba(X))


def test_upweighting_a_rare_class_shifts_predictions_like_scikit_learns_mlp():
    from sklearn.utils.class_weight import compute_sample_weight

    if "sample_weight" not in inspect.signature(SklearnMLPClassifier.fit).parameters:
        pytest.skip("scikit-learn's own MLP takes sample_weight from version 1.7 on")
    X, y = make_classification(n_samples=600, n_features=8, n_informative=4, weights=[0.9, 0.1],
                               flip_y=0.05, class_sep=0.6, random_state=3)
    balanced = compute_sample_weight("balanced", y)
    shares = {}
    for name, make in [("ours", lambda: MLPClassifier(hidden_layer_sizes=(16,), epochs=40,
                                                      learning_rate=0.01, random_state=0)),
                       ("sklearn", lambda: SklearnMLPClassifier(
                           hidden_layer_sizes=(16,), batch_size=32, learning_rate_init=0.01,
                           tol=1e-3, max_iter=400, random_state=0))]:
        plain = make().fit(X, y).predict(X).mean()
        weighted = make().fit(X, y, sample_weight=balanced).predict(X).mean()
        shares[name] = (plain, weighted)
    for plain, weighted in shares.values():  # share of samples predicted as the rare class
        assert weighted > plain + 0.05, shares
    assert abs(shares["ours"][1] - shares["sklearn"][1]) < 0.1, shares


@pytest.mark.parametrize("sample_weight, message", [
    (np.ones(5), r"shape \(150,\)"),
    (-np.ones(150), ">= 0"),
    (np.full(150, np.nan), ">= 0"),
    (np.zeros(150), "zero for every sample"),
])
def test_bad_sample_weights_are_explained(small_problem, sample_weight, message):
    X, y = small_problem
    with pytest.raises(ValueError, match=message):
        quick().fit(X, y, sample_weight=sample_weight)
