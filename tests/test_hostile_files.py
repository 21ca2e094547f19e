"""Hostile files cost bounded time and memory, and every refusal says why.

Model files (nnlib.io), IDX data files and downloads (nnlib.data). The files are built here
byte by byte (a zip archive is a list of members with a directory at
the end; an .npy member is a short text header and the raw values), so each one can lie in
exactly one place. Probes that could exhaust memory or hang run in a fresh Python process
under an address-space limit (``resource.setrlimit(RLIMIT_AS)``) and a timeout: a regression
then ends in a quick MemoryError or a timeout instead of hurting the machine.
"""

import gzip
import hashlib
import http.server
import json
import os
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from functools import cache
from io import BytesIO
from typing import ClassVar

import numpy as np
import pytest

from nnlib import io
from nnlib.layers import Dense, ReLU
from nnlib.network import Sequential

resource = pytest.importorskip("resource")  # setrlimit: POSIX only

MEMORY_LIMIT = 512 * 2**20   # address space of a probe process: numpy needs ~120 MiB of it
PROBE_TIMEOUT = 60           # seconds; every probe here answers in well under 5
MEBIBYTE = 2**20


# --- building .npy members and zip archives by hand ---------------------------------------------

def npy_header(shape, descr="<f8"):
    """The .npy (version 1.0) header of an array, without its values: magic, length, dict."""
    text = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    padding = -(10 + len(text) + 1) % 64  # numpy aligns the data on 64 bytes
    text = (text + " " * padding + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def npy_bytes(array):
    buffer = BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def stored(name, content, **overrides):
    """A zip member stored without compression; overrides fake its directory entry."""
    return {"name": name, "data": content, "crc": zlib.crc32(content), "size": len(content),
            "method": 0, "flags": 0, **overrides}


def zip_archive(members):
    """The bytes of a zip archive: local headers and data, then the central directory."""
    body, directory = bytearray(), bytearray()
    for member in members:
        name = member["name"].encode()
        fields = (member["flags"], member["method"], 0, 0, member["crc"], len(member["data"]),
                  member["size"], len(name), 0)
        offset = len(body)
        body += struct.pack("<4sH2H2H3I2H", b"PK\x03\x04", 20, *fields) + name + member["data"]
        directory += struct.pack("<4s2H2H2H3I5HII", b"PK\x01\x02", 20, 20, *fields,
                                 0, 0, 0, 0, offset) + name
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(directory), len(body), 0)
    return bytes(body + directory + end)


def architecture_member(layers, loss=None):
    architecture = {"format": "nnlib.Sequential", "format_version": 1, "nnlib_version": "0.1.0",
                    "dtype": "float64", "layers": layers, "loss": loss}
    text = np.frombuffer(json.dumps(architecture).encode(), np.uint8)
    return stored("__architecture__.npy", npy_bytes(text))


def model_file(path, layers, parameters):
    """A model file as nnlib.io.save writes it: version, architecture, then the members given."""
    members = [stored("__format_version__.npy", npy_bytes(np.array(1, np.int64))),
               architecture_member(layers), *parameters]
    path.write_bytes(zip_archive(members))
    return path


def dense(n_in, n_out, dtype="float64"):
    return {"class_name": "Dense", "in_features": n_in, "out_features": n_out, "init": "he",
            "dtype": dtype}


@cache
def zeros_deflated(header, n_mebibytes):
    """(raw deflate stream, CRC-32) of ``header`` followed by n MiB of zero bytes.

    Compressing a GiB takes seconds, so one MiB is compressed once, with a full flush before and
    after it (which makes the compressor forget its history), and that block is repeated.
    """
    chunk = bytes(MEBIBYTE)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(header)
    for _ in range(n_mebibytes):
        crc = zlib.crc32(chunk, crc)
    return start + block * n_mebibytes + compressor.flush(), crc


def zip_bomb_member(name, shape, declared_size=None):
    """A deflated float64 member of the given shape, all zeros: ~1 KiB per MiB of values.

    ``declared_size`` overrides the uncompressed size that the zip directory announces.
    """
    header = npy_header(shape)
    n_bytes = int(np.prod(shape)) * 8
    assert n_bytes % MEBIBYTE == 0
    data, crc = zeros_deflated(header, n_bytes // MEBIBYTE)
    size = len(header) + n_bytes if declared_size is None else declared_size
    return {"name": name, "data": data, "crc": crc, "size": size, "method": 8, "flags": 0}


# --- running a probe in a process of its own ----------------------------------------------------

PROBE = """
import json, resource, sys, time
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
start = time.perf_counter()
outcome = {"error": None, "message": ""}
try:
    exec(sys.argv[2])
except BaseException as error:
    outcome = {"error": type(error).__name__, "message": str(error)}
outcome["seconds"] = time.perf_counter() - start
try:  # VmHWM: the peak of this program; ru_maxrss would include the parent's before exec
    status = open("/proc/self/status").read()
    outcome["peak_rss_mib"] = int(status.split("VmHWM:")[1].split()[0]) / 1024
except OSError:  # no /proc (macOS): the memory limit alone guards
    outcome["peak_rss_mib"] = None
print(json.dumps(outcome))
"""


def run_probe(code, memory_limit=MEMORY_LIMIT, timeout=PROBE_TIMEOUT):
    """Run ``code`` in a fresh interpreter with limited memory; its outcome as a dict.

    The dict has "error" (the exception's class name, or None), "message", "seconds" and
    "peak_rss_mib". A probe that outlives ``timeout`` fails the test: it hung.
    """
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    try:
        finished = subprocess.run(
            [sys.executable, "-c", PROBE, str(memory_limit), textwrap.dedent(code)],
            capture_output=True, text=True, timeout=timeout, env=environment, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the probe did not finish within {timeout} s (it hangs):\n{code}")
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout.strip().splitlines()[-1])


def load_in_probe(path, **limits):
    return run_probe(f"from nnlib import io\nio.load({str(path)!r})", **limits)


def assert_small_peak(outcome, limit_mib=200):
    """The probe's peak resident memory stayed small (where the system reports it)."""
    assert outcome["peak_rss_mib"] is None or outcome["peak_rss_mib"] < limit_mib, outcome


def assert_refused(outcome, *phrases):
    assert outcome["error"] == "ModelFileError", outcome
    for phrase in phrases:
        assert phrase in outcome["message"], outcome


# --- 9: the architecture is checked against the stored headers before anything is built ---------

@pytest.mark.parametrize("n_in, n_out", [(10_000, 10_000), (1_000_000, 1_000_000)],
                         ids=["800MB", "8TB"])
def test_a_tiny_file_declaring_a_huge_layer_is_refused_before_allocating(tmp_path, n_in, n_out):
    path = model_file(tmp_path / "model.npz", [dense(n_in, n_out)],
                      [stored("0.W.npy", npy_bytes(np.zeros((2, 2)))),
                       stored("0.b.npy", npy_bytes(np.zeros(2)))])
    assert path.stat().st_size < 2000
    outcome = load_in_probe(path)
    assert_refused(outcome, "'0.W'", f"({n_in}, {n_out})", "(2, 2)")
    assert_small_peak(outcome)


def test_a_zip_bomb_is_refused_by_the_size_cap_without_inflating(tmp_path):
    """1 MiB on disk, 1 GiB of float64 zeros inside, announced honestly by every header."""
    shape = (8192, 16384)
    path = model_file(tmp_path / "bomb.npz", [dense(*shape)],
                      [zip_bomb_member("0.W.npy", shape),
                       stored("0.b.npy", npy_bytes(np.zeros(shape[1])))])
    assert path.stat().st_size < 2 * MEBIBYTE
    with np.load(path) as archive:  # np.load reads the small arrays only
        small = sum(archive[name].nbytes for name in archive.files if name != "0.W")
    total = 8192 * 16384 * 8 + small
    outcome = load_in_probe(path)
    assert_refused(outcome, f"hold {total:,} bytes", "max_bytes", f"{io.MAX_LOAD_BYTES:,}",
                   "io.load(path, max_bytes=2**31)")
    assert_small_peak(outcome)


def test_an_npy_header_announcing_more_than_its_member_holds_is_refused(tmp_path):
    """The .npy header says 1 GiB, the zip directory 16 bytes: np.load allocates the 1 GiB."""
    header = npy_header((8192, 16384))
    member = stored("0.W.npy", header + bytes(16))
    path = model_file(tmp_path / "model.npz", [dense(8192, 16384)],
                      [member, stored("0.b.npy", npy_bytes(np.zeros(16384)))])
    outcome = load_in_probe(path)
    assert_refused(outcome, "'0.W'", "(8192, 16384)", "16 bytes of data", "truncated")
    assert "pickle" not in outcome["message"]


def test_a_member_inflating_beyond_its_directory_entry_is_cut_off(tmp_path):
    """The directory announces 4 floats; the deflate stream would go on for 1 GiB."""
    header = npy_header((4,))
    bomb = zip_bomb_member("0.b.npy", (8192, 16384), declared_size=len(header) + 32)
    data, _ = zeros_deflated(header, 1024)
    bomb.update(data=data)
    path = model_file(tmp_path / "model.npz", [dense(2, 4)],
                      [stored("0.W.npy", npy_bytes(np.zeros((2, 4)))), bomb])
    outcome = load_in_probe(path)
    assert_refused(outcome, "'0.b.npy' is damaged", "CRC")
    assert_small_peak(outcome)


def test_the_size_cap_is_a_keyword_argument(tmp_path):
    network = Sequential([Dense(100, 100, rng=np.random.default_rng(0), dtype=np.float64),
                          ReLU()])
    path = io.save(network, tmp_path / "model.npz")
    with np.load(path) as archive:
        total = sum(archive[name].nbytes for name in archive.files)  # W, b, version, JSON
    assert 80_800 < total < 2**17
    with pytest.raises(io.ModelFileError, match=rf"{total:,} bytes, more than the 50,000 "
                                                r"\(max_bytes\).*max_bytes=2\*\*17"):
        io.load(path, max_bytes=50_000)
    loaded = io.load(path, max_bytes=total)
    np.testing.assert_array_equal(loaded.layers[0].params["W"], network.layers[0].params["W"])


# --- 10: every failure is a ModelFileError with the true reason ---------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    pipe = tmp_path / "model.npz"
    os.mkfifo(pipe)
    outcome = load_in_probe(pipe, timeout=20)
    assert_refused(outcome, "named pipe (FIFO)", "not a regular file")


def saved_members(tmp_path):
    """The members of a real saved network, as (name, .npy bytes) pairs."""
    path = io.save(Sequential([Dense(3, 2, rng=np.random.default_rng(0)), ReLU()]),
                   tmp_path / "saved.npz")
    with np.load(path) as archive:
        return [(f"{name}.npy", npy_bytes(archive[name])) for name in archive.files]


def test_deeply_nested_json_is_refused(tmp_path):
    text = np.frombuffer(b"[" * 100_000 + b"]" * 100_000, np.uint8)
    members = [stored(name, npy_bytes(text) if name.startswith("__arch") else content)
               for name, content in saved_members(tmp_path)]
    path = tmp_path / "deep.npz"
    path.write_bytes(zip_archive(members))
    with pytest.raises(io.ModelFileError, match="nested too deeply"):
        io.load(path)


@pytest.mark.parametrize("overrides, reason", [
    ({"flags": 0x1}, r"'0\.W\.npy' is encrypted"),
    ({"method": 99}, r"'0\.W\.npy' uses zip compression method 99"),
    ({"method": 12}, r"method 12, but NumPy writes only stored or deflate"),  # bzip2
], ids=["encrypted", "unknown-compression", "bzip2"])
def test_zip_members_numpy_never_writes_are_refused(tmp_path, overrides, reason):
    members = [stored(name, content, **(overrides if name == "0.W.npy" else {}))
               for name, content in saved_members(tmp_path)]
    path = tmp_path / "odd.npz"
    path.write_bytes(zip_archive(members))
    with pytest.raises(io.ModelFileError, match=reason):
        io.load(path)


def test_a_truncated_member_is_called_truncated_not_a_pickle(tmp_path):
    members = []
    for name, content in saved_members(tmp_path):
        if name == "0.W.npy":
            content = content[:-8]  # the last float32 pair is missing
        members.append(stored(name, content))
    path = tmp_path / "short.npz"
    path.write_bytes(zip_archive(members))
    with pytest.raises(io.ModelFileError, match="truncated") as error:
        io.load(path)
    assert "pickle" not in str(error.value)


def test_a_file_cut_off_in_the_middle_is_damaged(tmp_path):
    path = io.save(Sequential([Dense(30, 20, rng=np.random.default_rng(0))]), tmp_path / "m.npz")
    path.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(io.ModelFileError, match="damaged"):
        io.load(path)


def test_the_hand_made_files_are_valid_when_nothing_lies(tmp_path):
    """The builders above are right: an honest file built with them loads."""
    W, b = np.arange(8.0).reshape(2, 4), np.arange(4.0)
    path = model_file(tmp_path / "honest.npz", [dense(2, 4)],
                      [stored("0.W.npy", npy_bytes(W)), stored("0.b.npy", npy_bytes(b))])
    network = io.load(path)
    np.testing.assert_array_equal(network.layers[0].params["W"], W)
    np.testing.assert_array_equal(network.layers[0].params["b"], b)
    bomb_path = model_file(tmp_path / "small_bomb.npz", [dense(128, 1024)],
                           [zip_bomb_member("0.W.npy", (128, 1024)),
                            stored("0.b.npy", npy_bytes(np.zeros(1024)))])
    with np.load(bomb_path) as archive:  # numpy reads it: a valid (if very compressible) npz
        assert archive["0.W"].shape == (128, 1024) and not archive["0.W"].any()
    assert not io.load(bomb_path).layers[0].params["W"].any()


# --- 12 and 14: data files and downloads --------------------------------------------------------

def idx_bytes(values):
    values = np.asarray(values, np.uint8)
    return (struct.pack(">BBBB", 0, 0, 0x08, values.ndim)
            + struct.pack(f">{values.ndim}I", *values.shape) + values.tobytes())


def gzip_bomb(header, n_mebibytes):
    """A gzip file of ``header`` and n MiB of zeros, built from one compressed MiB."""
    data, crc = zeros_deflated(header, n_mebibytes)
    size = (len(header) + n_mebibytes * MEBIBYTE) % 2**32
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + data + struct.pack("<II", crc, size)


MNIST_IMAGES_HEADER = struct.pack(">BBBBIII", 0, 0, 0x08, 3, 60_000, 28, 28)


def test_the_gzip_bomb_builder_makes_a_valid_gzip_file():
    assert gzip.decompress(gzip_bomb(b"head", 2)) == b"head" + bytes(2 * MEBIBYTE)


def test_a_gzip_bomb_in_a_data_folder_is_refused_before_it_is_inflated(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip_bomb(MNIST_IMAGES_HEADER, 1024))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(60_000))))
    outcome = run_probe(f"from nnlib import data\ndata.load_mnist(data_dir={str(tmp_path)!r})")
    assert outcome["error"] == "ValueError", outcome
    assert "train-images-idx3-ubyte.gz: decompresses to more than the 47,040,016 bytes " \
           "expected (the size of MNIST's train-images-idx3-ubyte)" in outcome["message"]
    assert_small_peak(outcome, 250)  # at most the 47 MB of the real file are held


class Mirror(http.server.BaseHTTPRequestHandler):
    """GET /<behaviour>/<file>.gz serves ``files[<file>]``: "good", "trickle" or "bomb"."""

    files: ClassVar[dict] = {}
    trickle_pause = 0.25  # seconds between two bytes

    def do_GET(self):
        _, behaviour, file_name = self.path.split("/")
        body = self.files.get(behaviour, {}).get(file_name.removesuffix(".gz"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if behaviour == "trickle":
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(self.trickle_pause)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: that is what the test wants

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror():
    """A local HTTP server playing the mirrors; yields the base URL."""
    tiny_images = np.random.default_rng(0).integers(0, 256, (6, 28, 28))
    good = {"train-images-idx3-ubyte": gzip.compress(idx_bytes(tiny_images)),
            "train-labels-idx1-ubyte": gzip.compress(idx_bytes(np.arange(6)))}
    Mirror.files = {"good": good, "trickle": good,
                    "bomb": {"train-images-idx3-ubyte": gzip_bomb(MNIST_IMAGES_HEADER, 1024)}}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_trickling_mirror_is_abandoned_at_the_deadline(mirror, tmp_path):
    files = {name: gzip.decompress(body) for name, body in Mirror.files["good"].items()}
    sha256 = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    code = f"""
        import os
        from pathlib import Path
        from nnlib import data
        os.environ.pop(data.ENV_VAR, None)
        data.default_cache_dir = lambda: Path({str(tmp_path)!r})
        data.DOWNLOAD_DEADLINE, data.RETRY_PAUSE = 1.0, 0
        tiny = data.IdxDataset(name="Tiny", folder="tiny", sha256={sha256!r},
                               classes=data.MNIST_CLASSES,
                               mirrors=[{mirror + "/trickle/"!r}, {mirror + "/good/"!r}])
        X, y = data.load_idx_dataset(tiny, "train", data_dir={str(tmp_path / "none")!r})
        assert X.shape == (6, 784), X.shape
    """
    outcome = run_probe(code, timeout=30)
    assert outcome["error"] is None, outcome
    assert outcome["seconds"] < 20, outcome  # two files, each abandoned after about 1 s


def test_a_gzip_bomb_from_a_mirror_is_refused_while_it_is_hashed(mirror, tmp_path):
    code = f"""
        import os
        from pathlib import Path
        from nnlib import data
        os.environ.pop(data.ENV_VAR, None)
        data.default_cache_dir = lambda: Path({str(tmp_path)!r})
        data.load_mnist(data_dir={str(tmp_path / "none")!r}, mirrors=[{mirror + "/bomb/"!r}])
    """
    outcome = run_probe(code)
    assert outcome["error"] == "DataNotFoundError", outcome
    assert "decompresses to more than the 47,040,016 bytes expected" in outcome["message"]
    assert list((tmp_path / "mnist").iterdir()) == []  # nothing kept
    assert_small_peak(outcome)
