"""nnlib.data downloads, for real: a small HTTP server on this machine plays the mirrors.

The server serves a tiny MNIST-shaped data set made here, whose SHA-256 the tests compute and
hand to the loader. Its mirrors misbehave on purpose: one serves a wrong file, one cuts the
transfer off half way (announcing more bytes than it sends), one answers 404. After each
download the cache folder must hold only complete, verified files.
"""

import gzip
import hashlib
import http.server
import re
import struct
import threading
import urllib.error
import urllib.request
from collections import Counter
from typing import ClassVar

import numpy as np
import pytest

from nnlib import data

N_IMAGES = 6


def idx_bytes(values):
    """A uint8 IDX file as the format describes it: 0, 0, 0x08, ndim, sizes, data."""
    values = np.asarray(values, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, values.ndim)
    return header + struct.pack(f">{values.ndim}I", *values.shape) + values.tobytes()


def make_tiny_files():
    rng = np.random.default_rng(42)
    images = rng.integers(0, 256, size=(N_IMAGES, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=N_IMAGES, dtype=np.uint8)
    names = data.SPLIT_FILES["train"]
    return {names[0]: idx_bytes(images), names[1]: idx_bytes(labels)}, images, labels


TINY_FILES, TINY_IMAGES, TINY_LABELS = make_tiny_files()
TINY_SHA256 = {name: hashlib.sha256(content).hexdigest() for name, content in TINY_FILES.items()}


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """GET /<behaviour>/<file name>.gz, where behaviour is good, wrong, cut or missing."""

    requests: ClassVar[Counter] = Counter()  # (behaviour, file name) -> number of GETs

    def do_GET(self):
        _, behaviour, file_name = self.path.split("/")
        self.requests[behaviour, file_name] += 1
        name = file_name.removesuffix(".gz")
        if behaviour == "missing" or name not in TINY_FILES:
            self.send_error(404)
            return
        content = TINY_FILES[name]
        if behaviour == "wrong":  # a valid gzip of the wrong content
            content = content[:-1] + bytes([content[-1] ^ 0xFF])
        body = gzip.compress(content)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if behaviour == "cut":  # announce the full length, send half, hang up
            self.wfile.write(body[:len(body) // 2])
            self.close_connection = True
        else:
            self.wfile.write(body)

    def log_message(self, *args):
        pass  # keep the test output clean


@pytest.fixture
def mirror():
    """Start the server; returns a function behaviour -> mirror URL, and the request counts."""
    MirrorHandler.requests = Counter()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield (lambda behaviour: f"{base}/{behaviour}/"), MirrorHandler.requests
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder, no NNLIB_DATA_DIR, and no pause between download tries."""
    monkeypatch.setattr(data, "default_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "RETRY_PAUSE", 0)
    return tmp_path / "cache" / "tiny"


def tiny_dataset(mirrors):
    return data.IdxDataset(name="Tiny", folder="tiny", mirrors=mirrors, sha256=TINY_SHA256,
                           classes=data.MNIST_CLASSES)


def files_in(folder):
    """Every file in folder, hidden temporary files included."""
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def decompressed_sha256(path):
    return hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()


def assert_cache_holds_the_verified_files(folder):
    expected = sorted(f"{name}.gz" for name in TINY_FILES)
    assert files_in(folder) == expected
    for name in TINY_FILES:
        assert decompressed_sha256(folder / f"{name}.gz") == TINY_SHA256[name]


def test_download_moves_past_a_wrong_and_a_cut_off_mirror(mirror, cache, caplog):
    url, requests = mirror
    tiny = tiny_dataset([url("wrong"), url("cut"), url("good")])
    X, y = data.load_idx_dataset(tiny, "train", normalize=False, flatten=False)
    np.testing.assert_array_equal(X, TINY_IMAGES)
    np.testing.assert_array_equal(y, TINY_LABELS)
    assert_cache_holds_the_verified_files(cache)
    for name in TINY_FILES:
        assert requests["wrong", f"{name}.gz"] == 1  # a wrong file is not asked for again
        assert requests["cut", f"{name}.gz"] == data.DOWNLOAD_ATTEMPTS
        assert requests["good", f"{name}.gz"] == 1
    assert (f"could not download {url('wrong')}train-images-idx3-ubyte.gz: serves a "
            f"different file") in caplog.text


def test_the_next_load_reads_the_cache(mirror, cache):
    url, requests = mirror
    tiny = tiny_dataset([url("good")])
    first = data.load_idx_dataset(tiny, "train")
    second = data.load_idx_dataset(tiny, "train")
    assert sum(requests.values()) == 2  # one GET per file, both during the first load
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_allclose(first[0], TINY_IMAGES.reshape(N_IMAGES, 784) / 255, rtol=1e-6)


def test_when_every_mirror_fails_the_cache_stays_empty(mirror, cache):
    url, requests = mirror
    tiny = tiny_dataset([url("wrong"), url("cut"), url("missing")])
    with pytest.raises(data.DataNotFoundError) as error:
        data.load_idx_dataset(tiny, "train")
    message = str(error.value)
    assert (f"{url('wrong')}train-images-idx3-ubyte.gz: serves a different file: the SHA-256 "
            f"of the decompressed content is") in message
    cut_off = f"{url('cut')}train-images-idx3-ubyte.gz: the transfer stopped after"
    assert cut_off in message and f"bytes ({data.DOWNLOAD_ATTEMPTS} tries)" in message
    assert f"{url('missing')}train-images-idx3-ubyte.gz: HTTP 404 Not Found\n" in message
    assert requests["missing", "train-images-idx3-ubyte.gz"] == 1  # 404: asking again is useless
    assert files_in(cache) == []


def test_a_damaged_cached_file_is_reported_and_fetched_again(mirror, cache, caplog):
    url, requests = mirror
    images, labels = (f"{name}.gz" for name in TINY_FILES)
    cache.mkdir(parents=True)
    (cache / labels).write_bytes(gzip.compress(TINY_FILES[labels[:-3]]))  # a good file
    (cache / images).write_bytes(gzip.compress(TINY_FILES[images[:-3]])[:100])  # truncated
    X, y = data.load_idx_dataset(tiny_dataset([url("good")]), "train", normalize=False,
                                 flatten=False)
    np.testing.assert_array_equal(X, TINY_IMAGES)
    np.testing.assert_array_equal(y, TINY_LABELS)
    assert "not a valid gzip file" in caplog.text and "Downloading it again" in caplog.text
    assert requests["good", images] == 1 and requests["good", labels] == 0
    assert_cache_holds_the_verified_files(cache)


def test_a_cached_file_with_the_wrong_hash_is_replaced(mirror, cache, caplog):
    url, _ = mirror
    images = data.SPLIT_FILES["train"][0]
    cache.mkdir(parents=True)
    (cache / images).write_bytes(idx_bytes(np.zeros((N_IMAGES, 28, 28))))  # valid IDX, wrong
    X, _ = data.load_idx_dataset(tiny_dataset([url("good")]), "train", normalize=False)
    np.testing.assert_array_equal(X, TINY_IMAGES.reshape(N_IMAGES, 784))
    assert "damaged or a different file" in caplog.text
    assert files_in(cache) == sorted(f"{name}.gz" for name in TINY_FILES)
    assert decompressed_sha256(cache / f"{images}.gz") == TINY_SHA256[images]


def test_load_mnist_takes_a_mirror_list(mirror, cache, monkeypatch):
    """The real hash table rejects the tiny files: the error names the mirror that was used."""
    url, requests = mirror
    with pytest.raises(data.DataNotFoundError, match="SHA-256"):
        data.load_mnist("train", mirrors=[url("good")])
    assert requests["good", "train-images-idx3-ubyte.gz"] == 1
    monkeypatch.setattr(data.MNIST, "mirrors", [url("missing")])
    with pytest.raises(data.DataNotFoundError, match="HTTP 404"):
        data.load_mnist("train")


def test_a_damaged_cached_file_that_cannot_be_deleted_is_explained(mirror, cache, monkeypatch):
    url, requests = mirror
    images = data.SPLIT_FILES["train"][0]
    cache.mkdir(parents=True)
    (cache / images).write_bytes(b"not an IDX file")

    def refuse(path, missing_ok=False):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(data.Path, "unlink", refuse)  # root may delete anything: simulate
    with pytest.raises(PermissionError, match=r"is damaged and nnlib cannot delete it "
                                              r"\(Permission denied\); delete it yourself"):
        data.load_idx_dataset(tiny_dataset([url("good")]), "train")
    assert requests["good", f"{images}.gz"] == 0  # nothing was downloaded over it


# --- hostile mirrors, with urllib's opener replaced (the real-server probes that need a memory
# limit or a timeout are in test_hostile_files.py) -------------------------------------------

class FakeResponse:
    """What urlopen returns, announcing ``length`` bytes and sending ``body``."""

    def __init__(self, body, length):
        self.body, self.headers = body, {"Content-Length": str(length)}

    def read(self, size=-1):
        chunk, self.body = self.body[:size], self.body[size:]
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


def test_https_mirrors_are_tried_first(cache, monkeypatch):
    asked = []

    def refuse(url, timeout):
        asked.append(url)
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    tiny = tiny_dataset(["http://one.invalid/", "https://two.invalid/", "http://three.invalid/"])
    with pytest.raises(data.DataNotFoundError):
        data.load_idx_dataset(tiny, "train")
    first = {url.split("/")[2] for url in asked[:data.DOWNLOAD_ATTEMPTS]}
    assert first == {"two.invalid"}, asked
    assert [url.split("/")[2] for url in asked[data.DOWNLOAD_ATTEMPTS:]][::3] == \
        ["one.invalid", "three.invalid"]
    for dataset in (data.MNIST, data.FASHION_MNIST):
        assert dataset.mirrors[0].startswith("https://")


def test_a_mirror_announcing_more_than_the_file_can_take_is_not_read(cache, monkeypatch):
    responses = []

    def huge(url, timeout):
        responses.append(FakeResponse(b"\x1f\x8b" + bytes(100), length=10**10))
        return responses[-1]

    monkeypatch.setattr(urllib.request, "urlopen", huge)
    sizes = {name: len(content) for name, content in TINY_FILES.items()}
    tiny = data.IdxDataset(name="Tiny", folder="tiny", mirrors=["http://big.invalid/"],
                           sha256=TINY_SHA256, classes=data.MNIST_CLASSES, sizes=sizes)
    with pytest.raises(data.DataNotFoundError) as error:
        data.load_idx_dataset(tiny, "train")
    cap = re.search(r"announces 10,000,000,000 bytes, more than the ([\d,]+) that the file "
                    r"asked for can take", str(error.value))
    assert cap and sizes["train-images-idx3-ubyte"] < int(cap[1].replace(",", "")) < 2**20
    assert len(responses) == 1  # not asked again
    assert responses[0].body == b"\x1f\x8b" + bytes(100)  # and not a byte of it was read
    assert files_in(cache) == []
