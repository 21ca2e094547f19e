"""nnlib.data: the IDX reader, the MNIST loaders and where they look, toy sets, batches.

The references: IDX bytes packed here with struct (from the format description), the published
MNIST figures (labels, class counts, SHA-256 of the files), scikit-learn's toy data sets and
closed forms. The download path is tested in test_data_download.py.
"""

import gzip
import hashlib
import os
import shutil
import socket
import struct
from pathlib import Path

import numpy as np
import platformdirs
import pytest
from sklearn import datasets as sklearn_datasets

from nnlib import data

# --- IDX files written by the tests -------------------------------------------------------------

BIG_ENDIAN_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def idx_bytes(values, type_code):
    """An IDX file as the format describes it: 0, 0, type, ndim, sizes (uint32), data."""
    values = np.asarray(values)
    header = struct.pack(">BBBB", 0, 0, type_code, values.ndim)
    header += struct.pack(f">{values.ndim}I", *values.shape)
    return header + values.astype(BIG_ENDIAN_TYPES[type_code]).tobytes()


def write_file(path, content, compress=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("type_code, values", [
    (0x08, np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10),
    (0x09, np.array([-128, -1, 0, 1, 127])),
    (0x0B, np.array([[-30000, 258], [7, -1]])),
    (0x0C, np.array([2**31 - 1, -2**31, 16909060])),
    (0x0D, np.array([[0.5, -1.25], [3.0e38, 1e-3]], dtype=np.float32)),
    (0x0E, np.array([np.pi, -np.e, 1e300])),
], ids=["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_read_idx_round_trip(tmp_path, type_code, values, compress):
    name = "values.idx.gz" if compress else "values.idx"
    path = write_file(tmp_path / name, idx_bytes(values, type_code), compress)
    loaded = data.read_idx(path)
    assert loaded.shape == values.shape
    assert loaded.dtype == np.dtype(BIG_ENDIAN_TYPES[type_code]).newbyteorder("=")
    np.testing.assert_array_equal(loaded, values)
    loaded[...] = 0  # writable, so that lessons can change it in place


def test_read_idx_hand_made_bytes(tmp_path):
    # int16 (0x0B), 1 dimension of size 2, then 0x0102 = 258 and 0xFFFE = -2, big-endian
    path = write_file(tmp_path / "two.idx", bytes.fromhex("00000B01 00000002 0102 FFFE"))
    np.testing.assert_array_equal(data.read_idx(path), [258, -2])


def test_read_idx_detects_gzip_by_content(tmp_path):
    path = write_file(tmp_path / "no-suffix", idx_bytes([1, 2, 3], 0x08), compress=True)
    np.testing.assert_array_equal(data.read_idx(path), [1, 2, 3])


@pytest.mark.parametrize("content, message", [
    (idx_bytes(np.zeros((10, 28, 28)), 0x08)[:1000],
     "expected 7840 bytes of uint8 data for shape (10, 28, 28), found 984: the file is truncated"),
    (idx_bytes(np.zeros(3), 0x0C) + b"\x00",
     "expected 12 bytes of int32 data for shape (3,), found 13: extra bytes at the end"),
    (b"\x01\x00" + idx_bytes([1], 0x08)[2:], "not an IDX file"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX type code 0x07"),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 60000), "announces 3 dimensions"),
    (b"\x00\x00", "too short for an IDX file"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
], ids=["truncated", "too-long", "wrong-magic", "unknown-type", "short-header", "tiny", "0-dim"])
def test_read_idx_rejects_bad_files_with_a_clear_message(tmp_path, content, message):
    path = write_file(tmp_path / "bad.idx", content)
    with pytest.raises(ValueError, match="bad.idx") as error:
        data.read_idx(path)
    assert message in str(error.value)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "not-gzip"])
def test_read_idx_rejects_a_bad_gzip_stream(tmp_path, damage):
    compressed = gzip.compress(idx_bytes(np.arange(5000) % 256, 0x08))
    if damage == "truncated":
        compressed = compressed[:len(compressed) // 2]
    elif damage == "flipped":
        compressed = compressed[:-12] + bytes(b ^ 0xFF for b in compressed[-12:])
    else:
        compressed = b"this is not gzip"
    path = write_file(tmp_path / "images.gz", compressed)
    with pytest.raises(ValueError, match=r"images\.gz: not a valid gzip file"):
        data.read_idx(path)


# --- the real data sets ----------------------------------------------------------------------
# They are found where the loader finds them (NNLIB_DATA_DIR, then the user cache, else a
# download); CI sets NNLIB_DATA_DIR. Without the files and offline these tests fail, as the
# lessons would: the README's "Working offline" says where to put them.

DATASETS = {"mnist": data.MNIST, "fashion-mnist": data.FASHION_MNIST}
# the loader's folders for the real files, read before any test changes NNLIB_DATA_DIR or the cache
REAL_DATA_FOLDERS = {folder: [place for place, _ in data.search_folders(dataset)]
                     for folder, dataset in DATASETS.items()}

# published with the data sets: SHA-256 of the decompressed files
PUBLISHED_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
MNIST_TRAIN_CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def shared_file(folder, name):
    """The real data set file ``name`` of ``folder``, from the place the loader reads it."""
    found = _find_real_file(folder, name)
    if found is None:
        split = next(split for split, names in data.SPLIT_FILES.items() if name in names)
        data.load_idx_dataset(DATASETS[folder], split)  # downloads the files if need be
        found = _find_real_file(folder, name)
    if found is None:
        pytest.fail(f"{name} of {folder} is in none of {REAL_DATA_FOLDERS[folder]}")
    return found


def _find_real_file(folder, name):
    for place in REAL_DATA_FOLDERS[folder]:
        found = data._find_file(place, name)
        if found is not None:
            return found
    return None


@pytest.fixture(scope="module")
def mnist_train():
    return data.load_mnist("train")


def test_mnist_train_shapes_values_and_labels(mnist_train):
    X, y = mnist_train
    assert X.shape == (60000, 784) and X.dtype == np.float32
    assert y.shape == (60000,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert y[:5].tolist() == [5, 0, 4, 1, 9]
    assert np.bincount(y).tolist() == MNIST_TRAIN_CLASS_COUNTS


def test_mnist_raw_pixels_match_the_normalized_ones(mnist_train):
    raw, y = data.load_mnist("train", normalize=False, flatten=False)
    assert raw.shape == (60000, 28, 28) and raw.dtype == np.uint8
    assert raw.max() == 255
    value_to_float = (np.arange(256) / 255).astype(np.float32)  # pixel value v -> v / 255
    assert np.array_equal(mnist_train[0], value_to_float[raw.reshape(60000, 784)])
    np.testing.assert_array_equal(y, mnist_train[1])


def test_mnist_test_split():
    X, y = data.load_mnist("test", dtype=np.float64)
    assert X.shape == (10000, 784) and X.dtype == np.float64
    assert 0 <= X.min() and X.max() <= 1
    assert y.shape == (10000,) and set(np.unique(y)) == set(range(10))
    assert data.MNIST_CLASSES == tuple("0123456789")


@pytest.mark.parametrize("folder", ["mnist", "fashion-mnist"])
def test_data_files_have_the_published_sha256(folder):
    for name, expected in PUBLISHED_SHA256[folder].items():
        path = shared_file(folder, name)
        content = path.read_bytes()
        if path.suffix == ".gz":
            content = gzip.decompress(content)
        assert hashlib.sha256(content).hexdigest() == expected, path
    dataset = {"mnist": data.MNIST, "fashion-mnist": data.FASHION_MNIST}[folder]
    assert dataset.sha256 == PUBLISHED_SHA256[folder]


def test_fashion_mnist_shapes_and_class_names():
    X, y = data.load_fashion_mnist("test", flatten=False)
    assert X.shape == (10000, 28, 28) and X.dtype == np.float32
    assert np.bincount(y).tolist() == [1000] * 10  # Fashion-MNIST is balanced
    assert data.FASHION_MNIST_CLASSES == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def test_mnist_file_in_the_fashion_folder_is_named_in_the_error(tmp_path):
    for name in data.SPLIT_FILES["test"]:
        source = shared_file("mnist", name)
        (tmp_path / "fashion-mnist").mkdir(exist_ok=True)
        shutil.copyfile(source, tmp_path / "fashion-mnist" / source.name)
    with pytest.raises(ValueError, match="it is MNIST's t10k-images-idx3-ubyte"):
        data.load_fashion_mnist("test", data_dir=tmp_path)


def test_env_naming_the_mnist_folder_itself_does_not_block_fashion_mnist(places, monkeypatch,
                                                                          caplog):
    for name in data.SPLIT_FILES["test"]:
        places["env"].mkdir(exist_ok=True)
        shutil.copyfile(shared_file("mnist", name), places["env"] / shared_file("mnist", name).name)
        (places["cache"] / "fashion-mnist").mkdir(parents=True, exist_ok=True)
        fashion = shared_file("fashion-mnist", name)
        shutil.copyfile(fashion, places["cache"] / "fashion-mnist" / fashion.name)
    monkeypatch.setenv(data.ENV_VAR, str(places["env"]))
    assert data.load_mnist("test")[1][:3].tolist() == [7, 2, 1]   # the first MNIST test labels
    _, y = data.load_fashion_mnist("test")                        # from the cache
    assert np.bincount(y).tolist() == [1000] * 10
    assert "it is MNIST's t10k-images-idx3-ubyte" in caplog.text and "looking further" in caplog.text


# --- where the loader looks ---------------------------------------------------------------------

def write_fake_mnist(folder, label, split="train", n=3, compress=True):
    """Small MNIST-shaped files in folder; every label is `label`, so a test can tell
    which folder the loader used."""
    images_name, labels_name = data.SPLIT_FILES[split]
    suffix = ".gz" if compress else ""
    pixels = np.full((n, 28, 28), 10 * label, dtype=np.uint8)
    write_file(folder / (images_name + suffix), idx_bytes(pixels, 0x08), compress)
    write_file(folder / (labels_name + suffix), idx_bytes(np.full(n, label), 0x08), compress)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Empty data_dir, env and cache folders; NNLIB_DATA_DIR unset; no download retries pause."""
    cache = tmp_path / "cache"
    monkeypatch.setattr(data, "default_cache_dir", lambda: cache)
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "RETRY_PAUSE", 0)
    return {"data_dir": tmp_path / "given", "env": tmp_path / "env", "cache": cache}


def loaded_label(**kwargs):
    """The label of the fake data set load_mnist finds (each place writes its own)."""
    _, y = data.load_mnist("train", verify=False, **kwargs)
    return int(y[0])


def test_data_dir_beats_env_beats_cache(places, monkeypatch):
    write_fake_mnist(places["data_dir"] / "mnist", label=1)
    write_fake_mnist(places["env"] / "mnist", label=2)
    write_fake_mnist(places["cache"] / "mnist", label=3)
    monkeypatch.setenv(data.ENV_VAR, str(places["env"]))
    assert loaded_label(data_dir=places["data_dir"]) == 1
    assert loaded_label() == 2
    monkeypatch.delenv(data.ENV_VAR)
    assert loaded_label() == 3


def test_data_dir_and_env_may_name_the_data_set_folder_itself(places, monkeypatch):
    write_fake_mnist(places["data_dir"], label=4, compress=False)
    write_fake_mnist(places["env"], label=5)
    monkeypatch.setenv(data.ENV_VAR, str(places["env"]))
    assert loaded_label(data_dir=places["data_dir"]) == 4
    assert loaded_label() == 5


def test_a_folder_with_only_one_of_the_two_files_is_skipped(places, monkeypatch, caplog):
    write_fake_mnist(places["data_dir"] / "mnist", label=1)
    (places["data_dir"] / "mnist" / "train-labels-idx1-ubyte.gz").unlink()
    write_fake_mnist(places["env"] / "mnist", label=2)
    monkeypatch.setenv(data.ENV_VAR, str(places["env"]))
    assert loaded_label(data_dir=places["data_dir"]) == 2
    assert "holds no MNIST train files" in caplog.text


def test_output_combinations(places):
    write_fake_mnist(places["data_dir"], label=7, n=4)
    kwargs = {"data_dir": places["data_dir"], "verify": False}
    X, y = data.load_mnist(normalize=False, **kwargs)
    assert X.shape == (4, 784) and X.dtype == np.uint8 and X.max() == 70
    X, _ = data.load_mnist(normalize=False, dtype=np.float64, flatten=False, **kwargs)
    assert X.shape == (4, 28, 28) and X.dtype == np.float64 and X.max() == 70
    X, _ = data.load_mnist(flatten=False, **kwargs)
    assert X.shape == (4, 28, 28) and X.dtype == np.float32
    np.testing.assert_allclose(X, 70 / 255, rtol=1e-6)
    assert y.tolist() == [7] * 4 and y.dtype == np.int64


def test_bad_arguments_get_clear_errors(places):
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'validation'"):
        data.load_mnist("validation")
    with pytest.raises(ValueError, match="needs a floating dtype"):
        data.load_mnist("train", dtype=np.uint8)


@pytest.mark.parametrize("images, labels, message", [
    (np.zeros((3, 28, 28)), np.zeros(4), "holds 3 images but .* holds 4 labels"),
    (np.zeros((3, 28, 27)), np.zeros(3), r"expected MNIST images of shape \(N, 28, 28\)"),
    (np.zeros((3, 28, 28)), np.full(3, 10), "label 10 found, but MNIST has only 10 classes"),
], ids=["count", "shape", "label"])
def test_files_that_do_not_fit_mnist_are_rejected(places, images, labels, message):
    images_name, labels_name = data.SPLIT_FILES["train"]
    write_file(places["data_dir"] / images_name, idx_bytes(images, 0x08))
    write_file(places["data_dir"] / labels_name, idx_bytes(labels, 0x08))
    with pytest.raises(ValueError, match=message):
        data.load_mnist("train", data_dir=places["data_dir"], verify=False)


def test_wrong_file_in_a_chosen_folder_raises(places):
    write_fake_mnist(places["data_dir"], label=1)
    with pytest.raises(data.ChecksumError, match="damaged or a different file") as error:
        data.load_mnist("train", data_dir=places["data_dir"])
    assert "train-images-idx3-ubyte.gz" in str(error.value)


def test_a_changed_file_is_hashed_again(places):
    """Hashes are remembered per file, size and modification time: a changed file is checked."""
    write_fake_mnist(places["data_dir"], label=1, compress=False)
    images = places["data_dir"] / "train-images-idx3-ubyte"
    labels = places["data_dir"] / "train-labels-idx1-ubyte"
    tiny = data.IdxDataset("Tiny", "tiny", [], {images.name: sha256_of(images),
                                               labels.name: sha256_of(labels)}, data.MNIST_CLASSES)
    data.load_idx_dataset(tiny, data_dir=places["data_dir"])
    modified = bytearray(images.read_bytes())
    modified[-1] ^= 0xFF
    images.write_bytes(modified)
    os.utime(images, ns=(images.stat().st_atime_ns, images.stat().st_mtime_ns + 10**9))
    with pytest.raises(data.ChecksumError, match="train-images-idx3-ubyte"):
        data.load_idx_dataset(tiny, data_dir=places["data_dir"])


def sha256_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_cache_dir_is_the_platform_cache():
    assert data.default_cache_dir() == Path(platformdirs.user_cache_dir("nnlib"))


def closed_port_url():
    """A URL on this machine where nothing listens: connecting fails at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def test_offline_error_lists_places_files_and_what_to_do(places, monkeypatch):
    url = closed_port_url()
    monkeypatch.setenv(data.ENV_VAR, str(places["env"]))
    with pytest.raises(data.DataNotFoundError) as error:
        data.load_mnist("train", data_dir=places["data_dir"], mirrors=[url])
    message = str(error.value)
    assert isinstance(error.value, FileNotFoundError)
    for folder in (places["data_dir"] / "mnist", places["data_dir"], places["env"] / "mnist",
                   places["env"], places["cache"] / "mnist"):
        assert f"    {folder}  (" in message
    for expected in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                     "t10k-images-idx3-ubyte.gz", "export NNLIB_DATA_DIR=",
                     f"{url}train-images-idx3-ubyte.gz: ", f"({data.DOWNLOAD_ATTEMPTS} tries)"):
        assert expected in message
    assert error.value.__cause__ is None and error.value.__suppress_context__
    assert not any(places["cache"].rglob("*.*")), "a failed download left files in the cache"


def test_offline_error_says_when_the_env_variable_is_not_set(places):
    with pytest.raises(data.DataNotFoundError, match="NNLIB_DATA_DIR is not set"):
        data.load_fashion_mnist("test", mirrors=[closed_port_url()])


# --- toy data sets ------------------------------------------------------------------------------

def test_make_xor():
    X, y = data.make_xor()
    assert X.shape == (4, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert y.tolist() == [0, 1, 1, 0]
    np.testing.assert_array_equal(y, np.logical_xor(X[:, 0], X[:, 1]))
    assert sorted(map(tuple, X.tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert data.make_xor(dtype=np.float64)[0].dtype == np.float64


def sorted_by_class_and_position(X, y):
    order = np.lexsort((X[:, 1], X[:, 0], y))
    return X[order], y[order]


@pytest.mark.parametrize("n", [101, 200])
def test_make_moons_matches_scikit_learn_without_noise(n):
    X, y = data.make_moons(n, noise=0.0, rng=np.random.default_rng(0))
    X_ref, y_ref = sklearn_datasets.make_moons(n, noise=0.0, shuffle=False)
    assert X.shape == (n, 2) and X.dtype == np.float32 and y.dtype == np.int64
    X, y = sorted_by_class_and_position(X, y)
    X_ref, y_ref = sorted_by_class_and_position(X_ref, y_ref)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(X, X_ref, atol=1e-6)


@pytest.mark.parametrize("factor", [0.3, 0.8])
def test_make_circles_matches_scikit_learn_without_noise(factor):
    X, y = data.make_circles(151, noise=0.0, factor=factor, rng=np.random.default_rng(1))
    X_ref, y_ref = sklearn_datasets.make_circles(151, noise=0.0, factor=factor, shuffle=False)
    X, y = sorted_by_class_and_position(X, y)
    X_ref, y_ref = sorted_by_class_and_position(X_ref, y_ref)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(X, X_ref, atol=1e-6)


def test_noise_is_the_standard_deviation_of_the_coordinates():
    X, y = data.make_circles(20000, noise=0.05, factor=0.5, rng=np.random.default_rng(2))
    radius_error = np.hypot(X[:, 0], X[:, 1]) - np.where(y == 0, 1.0, 0.5)
    assert abs(radius_error.std() - 0.05) < 0.003  # the radial part of the noise
    assert abs(radius_error.mean()) < 0.003


def test_make_spirals_geometry_and_class_sizes():
    X, y = data.make_spirals(301, n_classes=3, noise=0.0, rng=np.random.default_rng(3))
    assert X.shape == (301, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [101, 100, 100]
    radius = np.hypot(X[:, 0], X[:, 1])
    angle = np.arctan2(X[:, 0], X[:, 1])  # the arm is (r sin t, r cos t)
    for k, count in enumerate([101, 100, 100]):
        r = np.sort(radius[y == k])
        np.testing.assert_allclose(r, np.linspace(0, 1, count), atol=1e-6)
        on_arm = np.angle(np.exp(1j * (angle[y == k] - 4 * k - 4 * radius[y == k])))
        assert np.abs(on_arm[radius[y == k] > 1e-3]).max() < 1e-4


def test_toy_sets_are_reproducible_and_shuffled():
    for make in (data.make_moons, data.make_circles, data.make_spirals):
        X1, y1 = make(300, rng=np.random.default_rng(7))
        X2, y2 = make(300, rng=np.random.default_rng(7))
        X3, _ = make(300, rng=np.random.default_rng(8))
        np.testing.assert_array_equal(X1, X2)
        np.testing.assert_array_equal(y1, y2)
        assert not np.array_equal(X1, X3)
        assert not np.all(np.diff(y1) >= 0), f"{make.__name__} returned the classes in order"


@pytest.mark.parametrize("call, message", [
    (lambda: data.make_moons(100), "needs a random generator"),
    (lambda: data.make_circles(100, rng=0), "needs a random generator"),
    (lambda: data.make_circles(100, factor=1.5, rng=np.random.default_rng()), "factor"),
    (lambda: data.make_spirals(2, n_classes=3, rng=np.random.default_rng()), "n must be"),
    (lambda: data.make_moons(100, noise=-1, rng=np.random.default_rng()), "noise"),
])
def test_toy_sets_reject_bad_arguments(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


# --- one_hot, train_val_split, iterate_minibatches ----------------------------------------------

def test_one_hot_matches_rows_of_the_identity():
    y = np.array([2, 0, 1, 2, 4])
    np.testing.assert_array_equal(data.one_hot(y), np.eye(5)[y])
    encoded = data.one_hot(y, n_classes=7, dtype=np.float64)
    assert encoded.shape == (5, 7) and encoded.dtype == np.float64
    np.testing.assert_array_equal(encoded.argmax(axis=1), y)


@pytest.mark.parametrize("y, n_classes, message", [
    ([0, 3, 1], 3, r"label y\[1\] = 3 is outside 0..2"),
    ([0, -1], None, r"label y\[1\] = -1 is outside"),
    ([0.0, 1.0], None, "integer class labels"),
    ([[0, 1]], None, "shape"),
])
def test_one_hot_rejects_bad_labels(y, n_classes, message):
    with pytest.raises(ValueError, match=message):
        data.one_hot(y, n_classes)


def test_train_val_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [500, 300, 200])
    X = np.arange(len(y))[:, None] * np.ones((1, 3))  # row i holds i: rows can be traced
    X_train, X_val, y_train, y_val = data.train_val_split(X, y, 0.2, rng=np.random.default_rng(0))
    assert np.bincount(y_val).tolist() == [100, 60, 40]
    assert np.bincount(y_train).tolist() == [400, 240, 160]
    rows_train, rows_val = X_train[:, 0].astype(int), X_val[:, 0].astype(int)
    np.testing.assert_array_equal(y[rows_train], y_train)
    np.testing.assert_array_equal(y[rows_val], y_val)
    assert sorted(np.concatenate([rows_train, rows_val])) == list(range(len(y)))
    assert not np.all(np.diff(y_val) >= 0), "the validation set should be shuffled"


def test_train_val_split_needs_an_rng_and_a_fraction():
    X, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(TypeError, match="needs a random generator"):
        data.train_val_split(X, y)
    with pytest.raises(ValueError, match="val_fraction"):
        data.train_val_split(X, y, 1.0, rng=np.random.default_rng())
    with pytest.raises(ValueError, match="X has 10 rows and y has 9"):
        data.train_val_split(X, y[:9], rng=np.random.default_rng())


def test_minibatches_cover_the_data_once_in_random_order():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    batches = list(data.iterate_minibatches(X, y, 4, rng=np.random.default_rng(0)))
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen) == list(range(10)) and not np.array_equal(seen, np.arange(10))
    for X_batch, y_batch in batches:
        np.testing.assert_array_equal(X_batch, X[y_batch])


def test_minibatches_in_order_without_shuffle():
    X, y = np.arange(7)[:, None], np.arange(7)
    batches = list(data.iterate_minibatches(X, y, 3, shuffle=False))
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2], [3, 4, 5], [6]]


def test_minibatches_reject_bad_arguments_at_once():
    X, y = np.zeros((5, 2)), np.zeros(5)
    with pytest.raises(ValueError, match="shuffle=True needs a random generator"):
        data.iterate_minibatches(X, y, 2)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        data.iterate_minibatches(X, y, 0, shuffle=False)
    with pytest.raises(ValueError, match="X has 5 rows and y has 4"):
        data.iterate_minibatches(X, y[:4], 2, shuffle=False)


def test_an_idx_file_with_no_images_is_refused_naming_it(tmp_path):
    images = write_file(tmp_path / "mnist" / "train-images-idx3-ubyte",
                        idx_bytes(np.zeros((0, 28, 28)), 0x08))
    write_file(tmp_path / "mnist" / "train-labels-idx1-ubyte", idx_bytes(np.zeros(0), 0x08))
    with pytest.raises(ValueError, match="holds no images") as error:
        data.load_mnist("train", data_dir=tmp_path, verify=False)
    assert str(images) in str(error.value)
