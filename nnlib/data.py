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

import gzip
import hashlib
import http.client
import logging
import math
import os
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

logger = logging.getLogger(__name__)

ENV_VAR = "NNLIB_DATA_DIR"


# --- reading IDX files --------------------------------------------------------------------------

# IDX type code (third byte of the file) -> NumPy dtype of the values, all big-endian (">")
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"  # every gzip stream starts with these two bytes


def read_idx(path):
    """Read an IDX file, raw or gzip-compressed, into a NumPy array.

    The IDX layout (all numbers big-endian):

        bytes 0-1    two zero bytes
        byte  2      type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                     0x0D float32, 0x0E float64
        byte  3      number of dimensions d
        4 * d bytes  the size of each dimension, one uint32 each
        the rest     the values, row after row (C order)

    MNIST's ``train-images-idx3-ubyte`` starts with 00 00 08 03, then 60000, 28, 28.

    Returns a writable array of shape ``(size_1, ..., size_d)`` in the machine's byte order.
    Raises ``ValueError`` naming the file if it is not a valid gzip stream, not IDX, or its
    length does not match its header (a truncated download, for example).
    """
    path = Path(path)
    return parse_idx(_read_contents(path), source=str(path))


def parse_idx(content, source="IDX data"):
    """Turn the bytes of an (uncompressed) IDX file into an array; see ``read_idx``.

    ``source`` names the data in error messages, usually the file path.
    """
    if len(content) < 4:
        raise ValueError(f"{source}: only {len(content)} bytes, too short for an IDX file "
                         f"(its header alone has at least 4 bytes)")
    if content[:2] != b"\x00\x00":
        raise ValueError(f"{source}: not an IDX file: it starts with the bytes "
                         f"{content[:4].hex(' ')}, but an IDX file starts with two zero bytes "
                         f"(e.g. 00 00 08 03 for MNIST images)")
    type_code, n_dims = content[2], content[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X} ({dtype.name})" for code, dtype in IDX_DTYPES.items())
        raise ValueError(f"{source}: unknown IDX type code 0x{type_code:02X}; known: {known}")
    if n_dims == 0:
        raise ValueError(f"{source}: the IDX header says the data has 0 dimensions")
    header_size = 4 + 4 * n_dims
    if len(content) < header_size:
        raise ValueError(f"{source}: the header announces {n_dims} dimensions, which needs "
                         f"{header_size} bytes, but the file has only {len(content)} bytes: "
                         f"it is truncated")
    shape = tuple(int(size) for size in np.frombuffer(content, ">u4", count=n_dims, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize
    found = len(content) - header_size
    if found != expected:
        problem = "the file is truncated" if found < expected else "extra bytes at the end"
        raise ValueError(f"{source}: expected {expected} bytes of {dtype.name} data for shape "
                         f"{shape}, found {found}: {problem}")
    values = np.frombuffer(content, dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a copy: writable, native byte order


def _read_contents(path):
    """The bytes of a file, decompressed first if it is gzip-compressed."""
    content = path.read_bytes()
    if path.suffix == ".gz" or content[:2] == GZIP_MAGIC:
        return _gunzip(content, source=str(path))
    return content


def _gunzip(content, source):
    """Decompress gzip bytes; a damaged or incomplete stream raises a ValueError naming source."""
    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
        raise ValueError(f"{source}: not a valid gzip file ({error}): it is damaged or "
                         f"incomplete") from None


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
    """

    name: str
    folder: str
    mirrors: list
    sha256: dict
    classes: tuple
    image_shape: tuple = (28, 28)


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
)

FASHION_MNIST = IdxDataset(
    name="Fashion-MNIST",
    folder="fashion-mnist",
    mirrors=["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
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
)


class DataNotFoundError(FileNotFoundError):
    """The data files are in none of the places searched, and downloading them failed."""


class ChecksumError(ValueError):
    """A file's content does not have the SHA-256 that the data set publishes."""


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
            return [(_read_dataset_file(path, dataset.sha256[name], verify), path)
                    for path, name in zip(paths, names)]
        except OtherDatasetError as wrong_data_set:
            if paths[0].parent.name == dataset.folder:
                raise
            logger.warning("%s; looking further", wrong_data_set)
    try:
        return [_read_cached_or_download(dataset, name, cache_folder, verify, mirrors)
                for name in names]
    except _DownloadFailed as failure:
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


def _read_dataset_file(path, expected_sha256, verify):
    """Read one data set file, checking its SHA-256 the first time this session sees it."""
    content = _read_contents(path)
    if verify:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, expected_sha256)
        if key not in _verified:
            digest = hashlib.sha256(content).hexdigest()
            if digest != expected_sha256:
                error = OtherDatasetError if _is_known_file(digest) else ChecksumError
                raise error(f"{path}: {_mismatch(digest, expected_sha256)}; "
                            f"{_what_file_is_this(digest)}")
            _verified.add(key)
    return parse_idx(content, source=str(path))


def _mismatch(digest, expected_sha256):
    return (f"the SHA-256 of the decompressed content is {digest[:16]}..., "
            f"expected {expected_sha256[:16]}...")


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
            return _read_dataset_file(path, dataset.sha256[name], verify), path
        except ValueError as problem:
            logger.warning("%s. Downloading it again.", problem)
            _remove_damaged(path)
    path = _download_file(name, mirrors, cache_folder, dataset.sha256[name])
    return _read_dataset_file(path, dataset.sha256[name], verify), path


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


# --- downloading --------------------------------------------------------------------------------

DOWNLOAD_ATTEMPTS = 3      # tries per mirror before moving on to the next one
DOWNLOAD_TIMEOUT = 10      # seconds to wait for the server before a try counts as failed
RETRY_PAUSE = 0.5          # seconds between two tries of the same mirror


class _DownloadFailed(Exception):
    """Every mirror failed; ``reasons`` says how, one line per mirror."""

    def __init__(self, reasons):
        super().__init__("\n".join(reasons))
        self.reasons = reasons


def _download_file(name, mirrors, folder, expected_sha256):
    """Download ``<mirror>/<name>.gz`` into ``folder``, trying the mirrors in order.

    The file counts only if the SHA-256 of its decompressed content is ``expected_sha256``.
    A mirror is tried up to DOWNLOAD_ATTEMPTS times when the transfer fails; a wrong file
    moves on to the next mirror at once. Returns the path of the verified ``.gz`` file; raises
    ``_DownloadFailed`` with one reason per mirror (``load_mnist`` turns it into a
    ``DataNotFoundError`` that also lists the folders searched).
    """
    destination = Path(folder) / f"{name}.gz"
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _DownloadFailed([f"cannot create the folder {destination.parent}: {error}"]) from None
    reasons = []
    for number, mirror in enumerate(mirrors, start=1):
        url = mirror.rstrip("/") + "/" + destination.name
        failure = _try_mirror(url, destination, expected_sha256)
        if failure is None:
            return destination
        reasons.append(f"{url}: {failure}")
        if number < len(mirrors):
            logger.warning("could not download %s: %s; trying the next mirror", url, failure)
    if not mirrors:
        reasons.append("no mirror to download from (the mirror list is empty)")
    raise _DownloadFailed(reasons)


def _try_mirror(url, destination, expected_sha256):
    """Download from one mirror, again after a failed transfer; None, or why it failed."""
    failures = []
    for attempt in range(DOWNLOAD_ATTEMPTS):
        if attempt > 0:
            time.sleep(RETRY_PAUSE)
        try:
            _download_verified(url, destination, expected_sha256)
            return None
        except ChecksumError as error:
            return str(error)  # the mirror serves a different file: asking again will not help
        except (OSError, ValueError, http.client.HTTPException) as error:
            failures.append(_reason(error))
            if isinstance(error, urllib.error.HTTPError) and error.code < 500:
                break  # 404 and the like: asking again will not help
    if len(set(failures)) == 1:
        tries = f" ({len(failures)} tries)" if len(failures) > 1 else ""
        return failures[0] + tries
    return "; ".join(f"try {number}: {failure}" for number, failure in enumerate(failures, 1))


def _reason(error):
    """A one-line reason for a failed download, without a traceback."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__


def _download_verified(url, destination, expected_sha256):
    """Download url into a scratch folder next to destination, check it, then move it there.

    os.replace is atomic: destination is either the old file or the complete, verified new
    one, never half a download. The scratch folder is removed whatever happens.
    """
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".download-") as scratch:
        temporary = Path(scratch) / destination.name
        with temporary.open("wb") as file:
            _copy_url_to_file(url, file, description=destination.name)
        content = _gunzip(temporary.read_bytes(), source="the downloaded file")
        digest = hashlib.sha256(content).hexdigest()
        if digest != expected_sha256:
            raise ChecksumError(f"serves a different file: {_mismatch(digest, expected_sha256)}")
        os.replace(temporary, destination)


def _copy_url_to_file(url, file, description):
    """Stream the body of url into an open file, with a progress bar."""
    from tqdm.auto import tqdm  # imported here: only downloads need it, and it is slow to load

    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
        announced = response.headers.get("Content-Length")
        total = int(announced) if announced is not None else None
        received = 0
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                  desc=description) as progress:
            while chunk := response.read(1 << 16):
                file.write(chunk)
                received += len(chunk)
                progress.update(len(chunk))
    if total is not None and received != total:
        raise ConnectionError(f"the transfer stopped after {received} of {total} bytes")


# --- small data sets ----------------------------------------------------------------------------

def make_xor(dtype=np.float32):
    """The four XOR examples: X (4, 2) with every pair of 0/1 inputs, y (4,) int64 = a XOR b.

    No straight line separates the 1s from the 0s, so a network needs a hidden layer (lesson 03).
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return X, y


def _require_rng(rng, function):
    """Raise a helpful error unless rng is a np.random.Generator."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{function} needs a random generator, e.g. "
                        f"rng=np.random.default_rng(0); got {rng!r}")


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
    _require_rng(rng, "make_moons")
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
    _require_rng(rng, "make_circles")
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
    _require_rng(rng, "make_spirals")
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


# --- labels, splits and batches -----------------------------------------------------------------

def one_hot(y, n_classes=None, dtype=np.float32):
    """Integer labels (N,) -> one-hot rows (N, C): row i is all zeros except a 1 at y[i].

    ``n_classes`` (C) defaults to max(y) + 1; pass it when a batch may lack the last classes.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"one_hot expects labels of shape (N,), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"one_hot expects integer class labels, got dtype {y.dtype}; if they "
                         f"are whole numbers stored as floats, use y.astype(int)")
    if n_classes is None:
        if y.size == 0:
            raise ValueError("one_hot cannot guess n_classes from no labels; pass n_classes")
        n_classes = int(y.max()) + 1
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    out_of_range = (y < 0) | (y >= n_classes)
    if out_of_range.any():
        index = int(np.argmax(out_of_range))
        raise ValueError(f"label y[{index}] = {y[index]} is outside 0..{n_classes - 1} "
                         f"(n_classes = {n_classes})")
    encoded = np.zeros((len(y), n_classes), dtype=dtype)
    encoded[np.arange(len(y)), y] = 1
    return encoded


def _check_same_length(X, y):
    if len(X) != len(y):
        raise ValueError(f"X and y must have one row per example, but X has {len(X)} rows "
                         f"and y has {len(y)}")


def train_val_split(X, y, val_fraction=0.1, rng=None):
    """Split (X, y) into training and validation sets with the same class proportions.

    Stratified: from each class, round(count * val_fraction) randomly chosen examples go to the
    validation set, so every class keeps its share. Both parts come out shuffled.

    Returns X_train, X_val, y_train, y_val (the order of scikit-learn's train_test_split).
    """
    _require_rng(rng, "train_val_split")
    X, y = np.asarray(X), np.asarray(y)
    _check_same_length(X, y)
    if y.ndim != 1:
        raise ValueError(f"train_val_split expects labels of shape (N,), got {y.shape}; "
                         f"for one-hot labels pass y.argmax(axis=1)")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie between 0 and 1, got {val_fraction!r}")
    val_parts = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        val_parts.append(members[:round(len(members) * val_fraction)])
    is_val = np.zeros(len(y), dtype=bool)
    is_val[np.concatenate(val_parts)] = True
    train = rng.permutation(np.flatnonzero(~is_val))
    val = rng.permutation(np.flatnonzero(is_val))
    return X[train], X[val], y[train], y[val]


def iterate_minibatches(X, y, batch_size, rng=None, shuffle=True):
    """Yield (X_batch, y_batch) pairs that cover the data once (one epoch).

    Batches hold ``batch_size`` rows; the last one holds the rest and may be smaller. With
    shuffle=True (the default) the rows come in a new random order drawn from ``rng``;
    shuffle=False keeps their order.
    """
    X, y = np.asarray(X), np.asarray(y)
    _check_same_length(X, y)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if shuffle:
        if rng is None:
            raise ValueError("shuffle=True needs a random generator: pass "
                             "rng=np.random.default_rng(seed), or shuffle=False")
        _require_rng(rng, "iterate_minibatches")
        order = rng.permutation(len(X))
    else:
        order = np.arange(len(X))
    return _batches(X, y, order, batch_size)


def _batches(X, y, order, batch_size):
    """The generator behind iterate_minibatches (kept apart so that bad arguments fail at once)."""
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        yield X[rows], y[rows]
