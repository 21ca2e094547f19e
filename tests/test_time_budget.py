"""TimeBudgetCosine and fit(time_budget=..., augment=...), on a fake clock: every batch takes
exactly one 'second', so the tests are deterministic and take no real time."""

import math

import numpy as np
import pytest

from nnlib import Callback, Dense, ReLU, Sequential
from nnlib import network as network_module
from nnlib.losses import SoftmaxCrossEntropy
from nnlib.optimizers import SGD, Adam, TimeBudgetCosine


class FakeClock:
    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


class EveryBatchTakes(Callback):
    """Advances the fake clock after every batch, as if each took `seconds`."""

    def __init__(self, clock, seconds=1.0):
        self.clock, self.seconds = clock, seconds

    def on_batch_end(self, batch_index, loss):
        self.clock.now += self.seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(1000.0)
    monkeypatch.setattr(network_module, "_now", fake)
    return fake


def make_data(seed=0, n=64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def make_network(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential([Dense(4, 8, rng=rng), ReLU(), Dense(8, 2, rng=rng)],
                      loss=SoftmaxCrossEntropy())


# --- the schedule -------------------------------------------------------------------------------

def test_schedule_follows_its_closed_form():
    clock = FakeClock(50.0)
    schedule = TimeBudgetCosine(peak=2.0, budget_seconds=100, warmup_fraction=0.1, final=0.5,
                                clock=clock)
    schedule.start()
    expected = {0: 0.0, 5: 1.0, 10: 2.0, 55: 1.25, 100: 0.5, 250: 0.5,
                32.5: 0.5 + 1.5 * 0.5 * (1 + math.cos(math.pi * 0.25))}
    for seconds, rate in expected.items():
        clock.now = 50.0 + seconds
        assert schedule(step=12345) == pytest.approx(rate), seconds
        assert schedule.rate_at(seconds) == pytest.approx(rate)
    assert schedule.elapsed() == pytest.approx(32.5)


def test_schedule_starts_its_clock_at_the_first_call_without_start():
    clock = FakeClock(7.0)
    schedule = TimeBudgetCosine(1.0, 10, warmup_fraction=0.0, clock=clock)
    assert schedule.elapsed() == 0.0
    assert schedule(0) == pytest.approx(1.0)
    clock.now = 12.0
    assert schedule(1) == pytest.approx(0.5)


@pytest.mark.parametrize("kwargs, message", [
    ({"peak": 0.0, "budget_seconds": 10}, "peak"),
    ({"peak": 1e-3, "budget_seconds": -5}, "budget_seconds"),
    ({"peak": 1e-3, "budget_seconds": float("inf")}, "budget_seconds"),
    ({"peak": 1e-3, "budget_seconds": 10, "warmup_fraction": 1.0}, "warmup_fraction"),
    ({"peak": 1e-3, "budget_seconds": 10, "final": 1e-2}, "final"),
    ({"peak": 1e-3, "budget_seconds": 10, "clock": 5.0}, "clock"),
])
def test_schedule_refuses_bad_arguments(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        TimeBudgetCosine(**kwargs)


# --- fit with a time budget ---------------------------------------------------------------------

def test_budget_stops_after_the_batch_that_spends_it(clock):
    X, y = make_data()
    net, optimizer = make_network(), SGD(0.1)
    history = net.fit(X, y, batch_size=16, optimizer=optimizer, time_budget=10, verbose=0,
                      rng=np.random.default_rng(0), callbacks=[EveryBatchTakes(clock)])
    assert optimizer.iterations == 10                  # 10 batches of one second each
    assert history.epochs_done == pytest.approx(2.5)   # 4 batches per epoch
    assert history.epochs == 3 and len(history.loss) == 3   # the cut epoch is recorded too
    assert history.elapsed == pytest.approx(10.0)
    assert "time budget of 10 s" in history.stopped_reason


def test_epochs_still_limit_a_budgeted_run(clock):
    X, y = make_data()
    net, optimizer = make_network(), SGD(0.1)
    history = net.fit(X, y, epochs=2, batch_size=16, optimizer=optimizer, time_budget=100,
                      verbose=0, rng=np.random.default_rng(0),
                      callbacks=[EveryBatchTakes(clock)])
    assert optimizer.iterations == 8 and history.epochs_done == 2.0
    assert history.stopped_reason is None and history.elapsed == pytest.approx(8.0)


def test_without_budget_the_default_is_still_ten_epochs(clock):
    X, y = make_data()
    net, optimizer = make_network(), SGD(0.1)
    history = net.fit(X, y, batch_size=32, optimizer=optimizer, verbose=0,
                      rng=np.random.default_rng(0))
    assert history.epochs == 10 and optimizer.iterations == 20


def test_fit_starts_the_schedule_and_it_anneals_to_final_at_the_budget(clock):
    X, y = make_data()
    schedule = TimeBudgetCosine(0.5, budget_seconds=12, warmup_fraction=0.25, final=0.0,
                                clock=clock)
    schedule.start()           # a stale start, long before fit: fit must restart the clock
    clock.now += 500.0
    rates = []

    class RecordRate(Callback):   # the rate of the step just taken (the clock has not moved)
        def on_batch_end(self, batch_index, loss):
            rates.append(schedule(batch_index))

    optimizer = Adam(schedule)
    make_network().fit(X, y, batch_size=16, optimizer=optimizer, time_budget=12, verbose=0,
                       rng=np.random.default_rng(0),
                       callbacks=[RecordRate(), EveryBatchTakes(clock)])
    assert schedule.started_at == 1500.0
    expected = [schedule.rate_at(second) for second in range(12)]
    np.testing.assert_allclose(rates, expected)
    assert rates[3] == pytest.approx(0.5) and schedule.rate_at(12) == 0.0


def test_same_seed_same_weights_on_the_same_clock(monkeypatch):
    weights = []
    for _ in range(2):
        fake = FakeClock()
        monkeypatch.setattr(network_module, "_now", fake)
        X, y = make_data()
        net = make_network()
        net.fit(X, y, batch_size=16, time_budget=7, verbose=0, rng=np.random.default_rng(3),
                optimizer=Adam(TimeBudgetCosine(1e-2, 7, clock=fake)),
                callbacks=[EveryBatchTakes(fake)])
        weights.append(net.parameters()["0.W"].copy())
    np.testing.assert_array_equal(*weights)


# --- fit with augmentation ----------------------------------------------------------------------

def test_augment_transforms_every_training_batch_and_nothing_else():
    X, y = make_data()
    calls = []

    def blank(X_batch, rng):
        assert isinstance(rng, np.random.Generator)
        calls.append(X_batch.shape)
        return np.zeros_like(X_batch)

    net = make_network()
    first_weights = net.parameters()["0.W"].copy()
    history = net.fit(X, y, epochs=2, batch_size=16, optimizer=SGD(0.5), verbose=0,
                      rng=np.random.default_rng(0), augment=blank,
                      validation_data=(X, y))
    assert calls == [(16, 4)] * 8
    # on blank inputs dL/dW of the first layer is 0: its weights never moved
    np.testing.assert_array_equal(net.parameters()["0.W"], first_weights)
    assert net.evaluate(X, y)[1] == pytest.approx(history.val_accuracy[-1])


def test_augment_uses_fits_generator_reproducibly():
    X, y = make_data()

    def noise(X_batch, rng):
        return X_batch + rng.normal(scale=0.1, size=X_batch.shape)

    results = []
    for _ in range(2):
        net = make_network()
        net.fit(X, y, epochs=2, batch_size=16, verbose=0, rng=np.random.default_rng(1),
                augment=noise)
        results.append(net.parameters()["2.W"].copy())
    np.testing.assert_array_equal(*results)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"time_budget": 0}, ValueError, "time_budget"),
    ({"time_budget": -1.0}, ValueError, "time_budget"),
    ({"time_budget": "60"}, ValueError, "time_budget"),
    ({"time_budget": float("nan")}, ValueError, "time_budget"),
    ({"epochs": 0, "time_budget": 5}, ValueError, "epochs"),
    ({"augment": "shifts"}, TypeError, "augment"),
    ({"augment": lambda X_batch, rng: X_batch[:, :2]}, ValueError, "same shape"),
    ({"augment": lambda X_batch, rng: None}, ValueError, "same shape"),
])
def test_bad_arguments_get_clear_errors(kwargs, error, message):
    X, y = make_data()
    with pytest.raises(error, match=message):
        make_network().fit(X, y, batch_size=16, verbose=0, rng=np.random.default_rng(0),
                           **kwargs)
