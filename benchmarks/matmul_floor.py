"""The matmul floor: the seconds that the matrix products of one training epoch take alone.

For an MLP with layer sizes (784, h1, ..., 10), every training step needs, per layer, one
forward product and one weight-gradient product, and one input-gradient product for every
layer but the first (nobody needs dL/d images). ``matmul_floor_epoch`` runs exactly those
products in float32 on the shuffled batches of one epoch, gathered beforehand, and nothing else:
no NumPy program that trains this network can be faster. Benchmarks report their training time
as a multiple of this floor, measured in the same run, because only ratios measured side by
side mean something on a shared machine.
"""

import itertools
import time

import numpy as np


def matmul_floor_epoch(X, sizes, batch_size, rng):
    """Seconds for the matrix products of every training step of one epoch over X (N, 784)."""
    weights = [rng.standard_normal((a, b), dtype=np.float32) * np.float32(0.05)
               for a, b in itertools.pairwise(sizes)]
    order = rng.permutation(len(X))
    batches = [X[order[start:start + batch_size]] for start in range(0, len(X), batch_size)]
    started = time.perf_counter()
    for x in batches:
        activations = [x]
        for weight in weights:
            activations.append(activations[-1] @ weight)
        grad = activations[-1]                         # stands in for dL/d logits
        for index in reversed(range(len(weights))):
            _ = activations[index].T @ grad            # dL/dW of layer index
            if index > 0:
                grad = grad @ weights[index].T         # dL/d input of layer index
    return time.perf_counter() - started


def median_floor(X, sizes, batch_size, rng, repeats=3):
    """Median of ``repeats`` floor epochs (after one short warm-up)."""
    matmul_floor_epoch(X[:4096], sizes, batch_size, rng)
    return float(np.median([matmul_floor_epoch(X, sizes, batch_size, rng)
                            for _ in range(repeats)]))
