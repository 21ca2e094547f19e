"""Data for the course: MNIST and Fashion-MNIST from IDX files, toy data sets, mini-batches.

Everything is batch-first: inputs ``X`` have shape ``(N, D)`` (one row per example) and labels
``y`` shape ``(N,)`` with integer class indices (``one_hot`` turns them into ``(N, C)``).

Where ``load_mnist`` finds its files
------------------------------------
It looks for the standard IDX files (``train-images-idx3-ubyte`` and friends, gzip-compressed
with ``.gz`` or not) in this order, and uses the first folder that holds both files of a split:

1. the ``data_dir`` argument: the folder holding ``mnist/``, or the ``mnist`` folder itself;
2. the ``NNLIB_DATA_DIR`` environment variable, read the same way;
3. the user cache folder, ``platformdirs.user_cache_dir("nnlib")`` (``~/.cache/nnlib/mnist``
   on Linux).

If none has them, the ``.gz`` files are downloaded from the mirrors in ``MNIST.mirrors`` into the
cache folder. Without a connection, ``DataNotFoundError`` lists every folder tried and the file
names to put there. (Fashion-MNIST: the same with ``fashion-mnist/``.)

How the files are checked
-------------------------
Each data set description holds the SHA-256 of its four *decompressed* files. A download is
hashed before it is moved into the cache (written to a temporary file first, then renamed, so
an interrupted download never leaves a broken file behind). A file found on disk is hashed the
first time it is read in a Python session; later reads of the same, unchanged file (same size
and modification time) only check its IDX header and length, which costs nothing. A cached file
with the wrong hash is reported and downloaded again; a wrong file in a folder you chose raises
an error that says so. ``verify=False`` skips the hashing, e.g. for IDX files of your own.
"""

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from nnlib.batches import iterate_minibatches, one_hot, train_val_split
from nnlib.downloads import ChecksumError, DownloadFailed, download_verified, mismatch
from nnlib.idx_files import (
    GZIP_MAGIC,
    IDX_DTYPES,
    MAX_IDX_BYTES,
    parse_idx,
    read_contents,
    read_idx,
)
from nnlib.toy_sets import make_circles, make_moons, make_spirals, make_xor

__all__ = [  # re-exported from idx_files, toy_sets and batches too, as before the split
    "DOWNLOAD_ATTEMPTS", "DOWNLOAD_DEADLINE", "DOWNLOAD_TIMEOUT", "ENV_VAR", "FASHION_MNIST",
    "FASHION_MNIST_CLASSES", "GZIP_MAGIC", "IDX_DTYPES", "MAX_IDX_BYTES", "MNIST", "MNIST_CLASSES",
    "RETRY_PAUSE", "SPLIT_FILES", "ChecksumError", "DataNotFoundError", "IdxDataset",
    "OtherDatasetError", "default_cache_dir", "iterate_minibatches", "load_fashion_mnist",
    "load_idx_dataset", "load_mnist", "make_circles", "make_moons", "make_spirals", "make_xor",
    "one_hot", "parse_idx", "read_idx", "search_folders", "train_val_split",
]

logger = logging.getLogger(__name__)

ENV_VAR = "NNLIB_DATA_DIR"

DOWNLOAD_ATTEMPTS = 3      # tries per mirror before moving on to the next one
DOWNLOAD_TIMEOUT = 10      # seconds one read may wait for the server
DOWNLOAD_DEADLINE = 600    # seconds one try may take in all (9.9 MB at 17 kB/s)
RETRY_PAUSE = 0.5          # seconds between two tries of the same mirror


# --- the data sets ------------------------------------------------------------------------------

MNIST_CLASSES = tuple(str(digit) for digit in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# split -> (images file, labels file), as the mirrors name them (without ".gz")
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass
class IdxDataset:
    """Where an IDX image data set lives and how to check it.

    name         for messages, e.g. "MNIST"
    folder       its subfolder in a data directory and in the cache, e.g. "mnist"
    mirrors      base URLs tried in order; "<base>/<file name>.gz" is downloaded
    sha256       decompressed file name -> SHA-256 hex digest of its content
    classes      the class names; label k means classes[k]
    image_shape  (height, width) of one image
    sizes        decompressed file name -> its size in bytes, the most a download or a gzip
                 file is allowed to decompress to (None: MAX_IDX_BYTES)
    """

    name: str
    folder: str
    mirrors: list
    sha256: dict
    classes: tuple
    image_shape: tuple = (28, 28)
    sizes: dict = None

    def max_bytes(self, name):
        """The most the file ``name`` may hold once decompressed."""
        return (self.sizes or {}).get(name, MAX_IDX_BYTES)


def idx_file_sizes(n_train, n_test, image_shape=(28, 28)):
    """The byte size of each file of a split pair: header + one byte per pixel or label."""
    pixels = image_shape[0] * image_shape[1]
    return {"train-images-idx3-ubyte": 16 + n_train * pixels,
            "train-labels-idx1-ubyte": 8 + n_train,
            "t10k-images-idx3-ubyte": 16 + n_test * pixels,
            "t10k-labels-idx1-ubyte": 8 + n_test}


MNIST = IdxDataset(
    name="MNIST",
    folder="mnist",
    mirrors=["https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/"],
    sha256={
        "train-images-idx3-ubyte":
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte":
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte":
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte":
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    classes=MNIST_CLASSES,
    sizes=idx_file_sizes(60_000, 10_000),
)

FASHION_MNIST = IdxDataset(
    name="Fashion-MNIST",
    folder="fashion-mnist",
    mirrors=["https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
             "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    sha256={
        "train-images-idx3-ubyte":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    classes=FASHION_MNIST_CLASSES,
    sizes=idx_file_sizes(60_000, 10_000),
)


class DataNotFoundError(FileNotFoundError):
    """The data files are in none of the places searched, and downloading them failed."""


class OtherDatasetError(ChecksumError):
    """The file is intact but belongs to another data set (or is another file of this one)."""


def load_mnist(split="train", *, data_dir=None, normalize=True, flatten=True, dtype=None,
               verify=True, mirrors=None):
    """Load the MNIST handwritten digits (60,000 train and 10,000 test images, 28 x 28).

    Returns ``(X, y)``; what ``X`` looks like depends on two switches:

        normalize  flatten   X
        True       True      (N, 784)     float32 in [0, 1]   (the default, ready for a network)
        True       False     (N, 28, 28)  float32 in [0, 1]   (for pictures)
        False      True      (N, 784)     uint8 in 0..255     (the raw pixels)
        False      False     (N, 28, 28)  uint8 in 0..255

    ``dtype`` changes the type of X: a floating type when normalize=True (e.g. np.float64 for
    gradient checks); with normalize=False the raw 0..255 values are converted to it.
    ``y`` has shape (N,), dtype int64, values 0..9.

    ``split`` is "train" or "test". For where the files are looked for (``data_dir``, then the
    NNLIB_DATA_DIR environment variable, then the cache, then a download from ``mirrors``,
    default ``MNIST.mirrors``) and what ``verify`` does, see the module docstring.
    """
    return load_idx_dataset(MNIST, split, data_dir=data_dir, normalize=normalize,
                            flatten=flatten, dtype=dtype, verify=verify, mirrors=mirrors)


def load_fashion_mnist(split="train", *, data_dir=None, normalize=True, flatten=True,
                       dtype=None, verify=True, mirrors=None):
    """Load Zalando's Fashion-MNIST: clothing images with the same shapes as MNIST.

    Works exactly like ``load_mnist`` (files in ``fashion-mnist/``); label k is
    ``FASHION_MNIST_CLASSES[k]``, e.g. 9 is "Ankle boot".
    """
    return load_idx_dataset(FASHION_MNIST, split, data_dir=data_dir, normalize=normalize,
                            flatten=flatten, dtype=dtype, verify=verify, mirrors=mirrors)


def load_idx_dataset(dataset, split="train", *, data_dir=None, normalize=True, flatten=True,
                     dtype=None, verify=True, mirrors=None):
    """Load a split of any ``IdxDataset``; ``load_mnist`` documents the arguments."""
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}. For a validation "
                         f"set, split the training set with train_val_split.")
    dtype = _pixel_dtype(normalize, dtype)
    mirrors = dataset.mirrors if mirrors is None else list(mirrors)
    (images, images_path), (labels, labels_path) = _read_split(dataset, split, data_dir,
                                                               verify, mirrors)
    _check_images_and_labels(dataset, images, images_path, labels, labels_path)
    X = images.reshape(len(images), -1) if flatten else images
    if normalize:
        X = X.astype(dtype)
        X /= 255  # pixel values 0..255 -> [0, 1]
    elif dtype != X.dtype:
        X = X.astype(dtype)
    return X, labels.astype(np.int64)


def _pixel_dtype(normalize, dtype):
    """The dtype of the returned images: float32 / uint8 unless asked otherwise."""
    if dtype is None:
        return np.dtype(np.float32) if normalize else np.dtype(np.uint8)
    dtype = np.dtype(dtype)
    if normalize and not np.issubdtype(dtype, np.floating):
        raise ValueError(f"normalize=True scales pixels into [0, 1], which needs a floating "
                         f"dtype such as np.float32, got {dtype}; for the raw 0..255 values "
                         f"pass normalize=False")
    return dtype


def _check_images_and_labels(dataset, images, images_path, labels, labels_path):
    """Make sure the two files hold matching images and labels of the expected shapes."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != dataset.image_shape:
        raise ValueError(f"{images_path}: expected {dataset.name} images of shape "
                         f"(N, {dataset.image_shape[0]}, {dataset.image_shape[1]}) and type "
                         f"uint8, found {images.shape} {images.dtype}")
    if len(images) == 0:
        raise ValueError(f"{images_path}: the file holds no images (its header says "
                         f"{images.shape[0]} x {images.shape[1]} x {images.shape[2]}); replace "
                         f"it with a complete copy of {dataset.name}'s file")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected labels of shape (N,) and type uint8, "
                         f"found {labels.shape} {labels.dtype}")
    if len(images) != len(labels):
        raise ValueError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                         f"{len(labels)} labels; the two files do not belong together")
    if labels.size and labels.max() >= len(dataset.classes):
        raise ValueError(f"{labels_path}: label {labels.max()} found, but {dataset.name} has "
                         f"only {len(dataset.classes)} classes")


# --- finding the files --------------------------------------------------------------------------

def default_cache_dir():
    """The folder where nnlib keeps downloads: platformdirs.user_cache_dir("nnlib")."""
    return Path(platformdirs.user_cache_dir("nnlib"))


def search_folders(dataset, data_dir=None):
    """The folders searched for a data set, in order, as (folder, where it comes from) pairs.

    ``data_dir`` and NNLIB_DATA_DIR may be the folder holding ``<dataset.folder>/`` or the data
    set folder itself, so both are listed; the cache always has a subfolder per data set.
    """
    places = []
    if data_dir is not None:
        base = Path(data_dir).expanduser()
        places += [(base / dataset.folder, "data_dir argument"), (base, "data_dir argument")]
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        base = Path(from_env).expanduser()
        places += [(base / dataset.folder, ENV_VAR), (base, ENV_VAR)]
    places.append((default_cache_dir() / dataset.folder, "user cache"))
    return places


def _find_file(folder, name):
    """``folder/name`` or else ``folder/name.gz`` if it exists, otherwise None."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_split(dataset, split, data_dir, verify, mirrors):
    """Read (images, path) and (labels, path) from the first place that has both files.

    A folder given as "the data set folder itself" that turns out to hold the other data set
    (NNLIB_DATA_DIR pointing at ``mnist/`` while Fashion-MNIST is asked for, say) is passed
    over with a warning; a wrong file in a folder named for this data set is an error.
    """
    names = SPLIT_FILES[split]
    *own_folders, (cache_folder, _) = search_folders(dataset, data_dir)
    candidates = _folders_with(names, own_folders)
    if data_dir is not None and all(origin != "data_dir argument" for _, origin in candidates):
        logger.warning("data_dir %s holds no %s %s files; looking further",
                       data_dir, dataset.name, split)
    for paths, _ in candidates:
        try:
            return [(_read_dataset_file(path, dataset, name, verify), path)
                    for path, name in zip(paths, names)]
        except OtherDatasetError as wrong_data_set:
            if paths[0].parent.name == dataset.folder:
                raise
            logger.warning("%s; looking further", wrong_data_set)
    try:
        return [_read_cached_or_download(dataset, name, cache_folder, verify, mirrors)
                for name in names]
    except DownloadFailed as failure:
        message = _not_found_message(dataset, split, data_dir, failure.reasons)
        raise DataNotFoundError(message) from None


def _folders_with(names, places):
    """[(paths, origin)] for each of the (folder, origin) places that has all the files."""
    found = []
    for folder, origin in places:
        paths = [_find_file(folder, name) for name in names]
        if all(paths):
            found.append((paths, origin))
    return found


_verified = set()  # (path, size, mtime_ns, sha256) of files hashed correctly in this session


def _read_dataset_file(path, dataset, name, verify):
    """Read one data set file, checking its SHA-256 the first time this session sees it.

    With ``verify``, the file may not hold or decompress to more than its published size.
    """
    expected_sha256 = dataset.sha256[name]
    if verify:
        content = read_contents(path, dataset.max_bytes(name),
                                f"the size of {dataset.name}'s {name}")
    else:
        content = read_contents(path)
    if verify:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, expected_sha256)
        if key not in _verified:
            digest = hashlib.sha256(content).hexdigest()
            if digest != expected_sha256:
                error = OtherDatasetError if _is_known_file(digest) else ChecksumError
                raise error(f"{path}: {mismatch(digest, expected_sha256)}; "
                            f"{_what_file_is_this(digest)}")
            _verified.add(key)
    return parse_idx(content, source=str(path))


def _is_known_file(digest):
    return any(digest in dataset.sha256.values() for dataset in (MNIST, FASHION_MNIST))


def _what_file_is_this(digest):
    """Explain a wrong hash: a known file in the wrong place, or a damaged file."""
    for dataset in (MNIST, FASHION_MNIST):
        for name, known in dataset.sha256.items():
            if digest == known:
                return (f"it is {dataset.name}'s {name}: point data_dir or {ENV_VAR} at the "
                        f"folder that holds {MNIST.folder}/ and {FASHION_MNIST.folder}/")
    return ("the file is damaged or a different file: replace it with a fresh copy "
            "(pass verify=False only for IDX files of your own)")


def _read_cached_or_download(dataset, name, cache_folder, verify, mirrors):
    """Read a file from the cache, downloading it first if it is missing or damaged."""
    path = _find_file(cache_folder, name)
    if path is not None:
        try:
            return _read_dataset_file(path, dataset, name, verify), path
        except ValueError as problem:
            logger.warning("%s. Downloading it again.", problem)
            _remove_damaged(path)
    path = download_verified(name, mirrors, cache_folder, dataset.sha256[name],
                             dataset.max_bytes(name), attempts=DOWNLOAD_ATTEMPTS,
                             timeout=DOWNLOAD_TIMEOUT, deadline=DOWNLOAD_DEADLINE,
                             retry_pause=RETRY_PAUSE)
    return _read_dataset_file(path, dataset, name, verify), path


def _remove_damaged(path):
    """Delete a damaged file from the cache (nnlib's own folder), or say why it cannot."""
    try:
        path.unlink()
    except OSError as error:
        raise PermissionError(
            f"{path} is damaged and nnlib cannot delete it ({error.strerror}); delete it "
            f"yourself, or set {ENV_VAR} to a folder holding the data set files."
        ) from None


def _not_found_message(dataset, split, data_dir, download_failures):
    """The DataNotFoundError text: every place tried, what failed, and how to fix it."""
    names = SPLIT_FILES[split]
    lines = [f"Could not find the {dataset.name} {split} files, and could not download them.",
             "Looked in:"]
    for folder, origin in search_folders(dataset, data_dir):
        lines.append(f"    {folder}  ({origin}): {_folder_status(folder, names)}")
    if not os.environ.get(ENV_VAR):
        lines.append(f"    (the environment variable {ENV_VAR} is not set)")
    lines.append("Download failed:")
    lines += [f"    {reason}" for reason in download_failures]
    other_split = "test" if split == "train" else "train"
    other_files = " and ".join(f"{name}.gz" for name in SPLIT_FILES[other_split])
    lines.append("To work offline, put these files (gzip-compressed as below, or decompressed "
                 "without '.gz') in one of the folders above:")
    lines += [f"    {name}.gz" for name in names]
    lines.append(f"(the {other_split} split needs {other_files}),")
    lines.append(f"or set {ENV_VAR} to a folder that holds {dataset.folder}/ with them, e.g.")
    lines.append(f"    export {ENV_VAR}=/path/to/data    "
                 f"# with /path/to/data/{dataset.folder}/{names[0]}.gz")
    return "\n".join(lines)


def _folder_status(folder, names):
    """What a searched folder lacks, in a few words."""
    if not folder.is_dir():
        return "no such folder"
    missing = [name for name in names if _find_file(folder, name) is None]
    if missing:
        return "missing " + ", ".join(f"{name}[.gz]" for name in missing)
    return "has both files"


