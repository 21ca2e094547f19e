"""How long does load_mnist("train") take, and how close is it to the bare minimum?

Run from the repository root, with the MNIST files where load_mnist finds them, e.g.

    NNLIB_DATA_DIR=path/to/data python benchmarks/load_mnist.py

It prints the first load of the session (which also hashes the files), the median of five
further loads, and, for reference, the median time of the bare steps on the same files:
reading + decompressing, np.frombuffer of the decompressed bytes (a view: no work at all),
and the smallest full job, reading + decompressing + converting to float32 in [0, 1].
"""

import gzip
import statistics
import time
from pathlib import Path

import numpy as np

from nnlib import data

REPEATS = 5


def seconds(function):
    """Wall-clock time of one call."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def median_seconds(function, repeats=REPEATS):
    return statistics.median(seconds(function) for _ in range(repeats))


def mnist_train_files():
    """The two files load_mnist("train") reads, found the way it finds them."""
    names = data.SPLIT_FILES["train"]
    for folder, _ in data.search_folders(data.MNIST):
        paths = [data._find_file(folder, name) for name in names]
        if all(paths):
            return paths
    raise SystemExit("MNIST not found: set NNLIB_DATA_DIR (see the README, 'Working offline')")


def read_bytes(path):
    content = Path(path).read_bytes()
    return gzip.decompress(content) if path.suffix == ".gz" else content


def main():
    images_path, labels_path = mnist_train_files()
    print(f"files: {images_path}, {labels_path}")

    first = seconds(lambda: data.load_mnist("train"))
    loader = median_seconds(lambda: data.load_mnist("train"))

    def decompress_only():
        return read_bytes(images_path), read_bytes(labels_path)

    images_bytes, labels_bytes = decompress_only()
    io_floor = median_seconds(decompress_only)
    view = median_seconds(lambda: (np.frombuffer(images_bytes, np.uint8, offset=16),
                                   np.frombuffer(labels_bytes, np.uint8, offset=8)))

    def smallest_full_job():
        pixels, labels = decompress_only()
        X = np.frombuffer(pixels, np.uint8, offset=16).reshape(-1, 784).astype(np.float32)
        X /= 255
        return X, np.frombuffer(labels, np.uint8, offset=8).astype(np.int64)

    floor = median_seconds(smallest_full_job)

    print(f"load_mnist('train'), first call (hashes the files):  {first:.3f} s "
          f"(also pays for fresh memory)")
    print(f"load_mnist('train'), median of {REPEATS}:                {loader:.3f} s")
    print(f"reference: read + decompress:                       {io_floor:.3f} s")
    print(f"reference: bare np.frombuffer of those bytes:       {view * 1e6:.1f} us")
    print(f"reference: read + decompress + frombuffer + scale:  {floor:.3f} s")
    print(f"ratio load_mnist / bare np.frombuffer:              {loader / view:,.0f}x "
          f"(a view costs nothing; the time is in decompressing and converting)")
    print(f"ratio load_mnist / read + decompress:               {loader / io_floor:.2f}x")
    print(f"ratio load_mnist / smallest full job:               {loader / floor:.2f}x")


if __name__ == "__main__":
    main()
