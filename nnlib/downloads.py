"""Verified downloads: fetch a gzip file from a list of mirrors, keep it only if its hash is right.

``download_verified`` tries the mirrors in order (``https://`` ones first) and moves a file into
place only when the SHA-256 of its *decompressed* content is the published one. A hostile or
broken mirror costs bounded time and memory:

- each try has an overall deadline, not only a timeout per read, so a server that trickles a
  byte every few seconds is abandoned;
- the transfer stops when it exceeds the size a gzip file of the expected content can have;
- the file is decompressed a chunk at a time while it is hashed, and refused as soon as it
  grows past the expected size (a "gzip bomb" is never inflated in memory).

The written file appears atomically (a temporary file is renamed), so an interrupted download
never leaves half a file. ``nnlib.data`` holds the settings (tries, timeouts) and calls this.
"""

import hashlib
import http.client
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from nnlib.idx_files import decompressed_chunks

logger = logging.getLogger(__name__)


class ChecksumError(ValueError):
    """A file's content does not have the SHA-256 that the data set publishes."""


class DownloadFailed(Exception):
    """Every mirror failed; ``reasons`` says how, one line per mirror."""

    def __init__(self, reasons):
        super().__init__("\n".join(reasons))
        self.reasons = reasons


class _GiveUpOnMirror(OSError):
    """A failure that asking the same mirror again would not cure (too slow, too large)."""


def https_first(mirrors):
    """The mirrors with the https:// ones first, otherwise in their order."""
    return sorted(mirrors, key=lambda url: not url.lower().startswith("https://"))


def _open_url(url, timeout):
    """urllib's opener; a function of its own so that tests can replace it."""
    return urllib.request.urlopen(url, timeout=timeout)


def download_verified(name, mirrors, folder, expected_sha256, max_bytes, *, attempts, timeout,
                      deadline, retry_pause):
    """Download ``<mirror>/<name>.gz`` into ``folder``; returns the path of the verified file.

    Args:
        name: the decompressed file name, e.g. "train-images-idx3-ubyte".
        mirrors: base URLs, tried https first, then in order.
        expected_sha256: hex digest of the decompressed content.
        max_bytes: the size of the decompressed content (or an upper bound on it).
        attempts: tries per mirror when a transfer breaks off.
        timeout: seconds one read may wait for the server.
        deadline: seconds one try may take in all.
        retry_pause: seconds between two tries of the same mirror.
    Raises ``DownloadFailed`` with one reason per mirror.
    """
    destination = Path(folder) / f"{name}.gz"
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadFailed([f"cannot create the folder {destination.parent}: {error}"]) \
            from None
    limits = {"attempts": attempts, "timeout": timeout, "deadline": deadline,
              "retry_pause": retry_pause, "max_bytes": max_bytes}
    reasons = []
    mirrors = https_first(mirrors)
    for number, mirror in enumerate(mirrors, start=1):
        url = mirror.rstrip("/") + "/" + destination.name
        failure = _try_mirror(url, destination, expected_sha256, **limits)
        if failure is None:
            return destination
        reasons.append(f"{url}: {failure}")
        if number < len(mirrors):
            logger.warning("could not download %s: %s; trying the next mirror", url, failure)
    if not mirrors:
        reasons.append("no mirror to download from (the mirror list is empty)")
    raise DownloadFailed(reasons)


def _try_mirror(url, destination, expected_sha256, *, attempts, retry_pause, **limits):
    """Download from one mirror, again after a broken transfer; None, or why it failed."""
    failures = []
    for attempt in range(attempts):
        if attempt > 0:
            time.sleep(retry_pause)
        try:
            _download_once(url, destination, expected_sha256, **limits)
            return None
        except ChecksumError as error:
            return str(error)  # the mirror serves a different file: asking again will not help
        except (OSError, ValueError, http.client.HTTPException) as error:
            failures.append(_reason(error))
            if isinstance(error, _GiveUpOnMirror) or (
                    isinstance(error, urllib.error.HTTPError) and error.code < 500):
                break  # too slow, too large, 404 and the like: asking again will not help
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


def _download_once(url, destination, expected_sha256, *, max_bytes, timeout, deadline):
    """Download url into a scratch folder next to destination, check it, then move it there.

    os.replace is atomic: destination is either the old file or the complete, verified new
    one, never half a download. The scratch folder is removed whatever happens.
    """
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".download-") as scratch:
        temporary = Path(scratch) / destination.name
        with temporary.open("wb") as file:
            _copy_url_to_file(url, file, destination.name, max_download_bytes(max_bytes),
                              timeout, deadline)
        with temporary.open("rb") as file:
            digest = _decompressed_sha256(file, max_bytes)
        if digest != expected_sha256:
            raise ChecksumError(f"serves a different file: {mismatch(digest, expected_sha256)}")
        os.replace(temporary, destination)


def max_download_bytes(max_bytes):
    """The most a gzip file of max_bytes of content can take: deflate adds at most ~0.03 %."""
    return max_bytes + max_bytes // 100 + 2**16


def _decompressed_sha256(file, max_bytes):
    digest = hashlib.sha256()
    for chunk in decompressed_chunks(file, "the downloaded file", max_bytes,
                                     "the size of the file asked for"):
        digest.update(chunk)
    return digest.hexdigest()


def mismatch(digest, expected_sha256):
    return (f"the SHA-256 of the decompressed content is {digest[:16]}..., "
            f"expected {expected_sha256[:16]}...")


def _copy_url_to_file(url, file, description, max_download, timeout, deadline):
    """Stream the body of url into an open file, with a progress bar, within the limits."""
    from tqdm.auto import tqdm  # imported here: only downloads need it, and it is slow to load

    give_up_at = time.monotonic() + deadline
    with _open_url(url, timeout) as response:
        announced = response.headers.get("Content-Length")
        total = int(announced) if announced is not None else None
        if total is not None and total > max_download:
            raise _GiveUpOnMirror(f"announces {total:,} bytes, more than the {max_download:,} "
                                  f"that the file asked for can take")
        read = getattr(response, "read1", response.read)  # read1: whatever has arrived
        received = 0
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                  desc=description) as progress:
            while chunk := read(1 << 16):
                file.write(chunk)
                received += len(chunk)
                progress.update(len(chunk))
                if received > max_download:
                    raise _GiveUpOnMirror(f"sent more than the {max_download:,} bytes that "
                                          f"the file asked for can take")
                if time.monotonic() > give_up_at:
                    raise _GiveUpOnMirror(f"too slow: {received:,} bytes"
                                          f"{f' of {total:,}' if total else ''} in the "
                                          f"{deadline} s a download may take (DOWNLOAD_DEADLINE)")
    if total is not None and received != total:
        raise ConnectionError(f"the transfer stopped after {received} of {total} bytes")
