"""Lesson 05's prose quotes numbers of its own runs; these tests keep the prose true.

The lesson's "Check yourself" cells hold only the checks a student learns from. The detailed
claims of its text (how far each optimizer gets on the valley, the regularisation table) are
checked here instead: the test executes the lesson as shipped in a kernel, then runs the claims
in the same kernel, on the lesson's own results.
"""

from pathlib import Path

import pytest
from test_your_turn import load, run_cells, source

LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "05_optimizers_and_regularization.ipynb"

VALLEY_CLAIMS = """
# the valley
y_paths = {name: np.abs(path[:, 1]) for name, path in valley_paths.items()}    # |y| per step
overshoot = {name: float(path[:, 0].max()) for name, path in valley_paths.items()}  # beyond x = 0
reached = {name: steps_to_reach((0, 0), path) for name, path in valley_paths.items()}
print("steps to get within 0.1:", reached)
print("furthest beyond x = 0:", {name: round(value, 2) for name, value in overshoot.items()})
sgd_needs = math.ceil(math.log(0.1 / 8) / math.log(1 - 0.03))     # |x_t| = 8 * 0.97^t < 0.1
assert sgd_needs == 144 and reached["SGD"] is None
assert math.isclose(distance_to((0, 0), valley_paths["SGD"]), 8 * 0.97 ** 60, rel_tol=1e-6)
assert y_paths["SGD"][1] > 0.1 and y_paths["SGD"][4:].max() < 0.01  # one visible crossing
assert reached["Momentum"] < 40 and reached["Nesterov"] < 20
assert 0.6 < overshoot["Momentum"] < 0.8 and 0.3 < overshoot["Nesterov"] < 0.5
assert y_paths["Nesterov"][10:].max() < 0.05                       # Nesterov's zigzag dies out...
assert y_paths["Momentum"][10:30].max() > 0.3                      # ...momentum's goes on
assert overshoot["AdaGrad"] <= 0 and overshoot["RMSProp"] <= 0      # straight along the floor
assert y_paths["AdaGrad"][10:].max() < 1e-3                         # AdaGrad stays there
assert 0.4 < y_paths["RMSProp"][-10:].max() < 0.8                   # RMSProp hops at the end
assert 1.5 < overshoot["Adam"] < 1.9                                # Adam's wide arc
assert 0.02 < distance_to((0, 0), valley_paths["Adam"]) < 0.05

# the banana
banana = {name: distance_to((1, 1), path) for name, path in rosenbrock_paths.items()}
assert banana["SGD"] > 0.5 and banana["AdaGrad"] > 0.5              # AdaGrad's steps died out
assert 0.05 < banana["RMSProp"] < 0.2
assert max(banana["Momentum"], banana["Nesterov"], banana["Adam"]) < 1e-3
"""

REGULARISATION_CLAIMS = """
assert gaps["dropout 0.5"] < gaps["none"] - 0.03
assert gaps["L2, λ = 0.01"] < gaps["none"] - 0.015
assert gaps["L2, λ = 0.03"] < gaps["L2, λ = 0.01"]                  # stronger, smaller gap...


def last_epochs(values, epochs=10):
    return float(np.mean(np.asarray(values)[-epochs:]))


# the plain run: memorised, best validation loss after about a dozen epochs
plain_val_loss = np.array(plain.history.val_loss)
assert plain.train_accuracy[-1] == 1.0 and plain.train_loss[-1] < 0.05
assert 10 <= plain_val_loss.argmin() + 1 <= 16 and plain_val_loss[-1] > 1.3 * plain_val_loss.min()
# the training against validation panels
train_loss = {name: last_epochs(run.train_loss) for name, run in regularised.items()}
loss_gap = {name: last_epochs(run.history.val_loss) - last_epochs(run.train_loss)
            for name, run in regularised.items()}
print("last 10 epochs, training loss:", ", ".join(f"{k} {v:.3f}" for k, v in train_loss.items()))
print("last 10 epochs, validation - training loss:",
      ", ".join(f"{k} {v:.2f}" for k, v in loss_gap.items()))
assert train_loss["none"] < 0.05
assert all(0.07 < loss < 0.45 for name, loss in train_loss.items() if name != "none")
assert math.isclose(loss_gap["none"], 0.75, abs_tol=0.05)
assert math.isclose(loss_gap["L1, λ₁ = 0.0003"], 0.55, abs_tol=0.05)
assert math.isclose(loss_gap["L2, λ = 0.01"], 0.43, abs_tol=0.05)
assert math.isclose(loss_gap["dropout 0.5"], 0.43, abs_tol=0.05)
assert math.isclose(loss_gap["L2, λ = 0.03"], 0.21, abs_tol=0.05)
assert min(loss_gap.values()) > 0.1 and min(gaps.values()) > 0.05   # none closes the gap
# accuracy: barely changed, except for the strongest penalty (...and a lower validation accuracy)
val_accuracy = {name: last_epochs(run.history.val_accuracy) for name, run in regularised.items()}
print("last 10 epochs, validation accuracy:",
      ", ".join(f"{k} {v:.1%}" for k, v in val_accuracy.items()))
assert math.isclose(val_accuracy["none"], 0.814, abs_tol=0.005)
assert all(abs(val_accuracy[name] - val_accuracy["none"]) < 0.015
           for name in ("L2, λ = 0.01", "L1, λ₁ = 0.0003", "dropout 0.5"))
assert val_accuracy["L2, λ = 0.03"] < val_accuracy["none"] - 0.02
# confidently wrong: how sure each network is of its wrong answers on the validation images
confidence_when_wrong = {}
for name in ("none", "L2, λ = 0.01"):
    probabilities = regularised[name].network.predict_proba(X_holdout)
    wrong = probabilities.argmax(axis=1) != y_holdout
    confidence_when_wrong[name] = float(probabilities[wrong].max(axis=1).mean())
    print(f"{name}: {wrong.mean():.1%} of the validation images wrong, with on average "
          f"{confidence_when_wrong[name]:.0%} probability for the wrong class")
assert math.isclose(confidence_when_wrong["none"], 0.79, abs_tol=0.02)
assert math.isclose(confidence_when_wrong["L2, λ = 0.01"], 0.66, abs_tol=0.02)



tail = {name: float(np.quantile(np.abs(first_layer_weights(regularised[name])), 0.99))
        for name in ("none", "L2, λ = 0.01", "L1, λ₁ = 0.0003")}
print("99th percentile of |W|:", ", ".join(f"{k} {v:.3f}" for k, v in tail.items()))
assert tail["L2, λ = 0.01"] < 0.5 * tail["none"]                     # L2 pulls everything in
assert tail["L1, λ₁ = 0.0003"] > 1.5 * tail["L2, λ = 0.01"]          # L1's tails reach further

assert 0.4 < sparse < 0.6                                           # about half
"""


@pytest.mark.slow  # executes lesson 05 (about a minute)
def test_the_numbers_in_lesson_05s_text_hold_for_its_runs():
    cells = [(source(cell), []) for cell in load(LESSON) if cell["cell_type"] == "code"]
    claims = [("import math\n" + VALLEY_CLAIMS, []), (REGULARISATION_CLAIMS, [])]
    results = run_cells(cells + claims)
    failures = [f"cell {index}: {error}" for index, (_, error) in enumerate(results) if error]
    assert failures == [], failures
