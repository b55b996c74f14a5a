"""Compressed topic files: which compression a file uses (by its first bytes), and its records decompressed.

Rotated logs are kept as `app.jsonl.1.gz`, `.bz2`, `.xz` or `.zst`; the name is not trusted, the magic
bytes are. The data is decompressed a piece at a time, front to back, so memory stays flat and a file
that is damaged part-way still gives every record before the damage, then a `Damaged` naming where.
Concatenated members (`cat a.gz b.gz`) are read one after the other, as zcat does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

# Compressed bytes fed at a time. Small enough that one piece of a highly compressed file cannot make a
# huge output chunk (gzip's ratio is at most about 1000:1), large enough that the per-call cost vanishes.
PIECE = 32 << 10
# When gzip data is damaged, the piece that failed is decoded again in slices this big from a copy of
# the decoder's state before it, so that the records decoded before the damage are kept. The other
# decoders cannot be copied: they are fed slices of FEED bytes, so a damaged one loses at most that.
SLICE = 256
FEED = 4096

SUPPORTED = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}
# Known formats smartview does not decompress, with the command that does.
UNSUPPORTED = {
    b"\x04\x22\x4d\x18": ("lz4", "lz4 -dc"),
    b"PK\x03\x04": ("zip", "unzip -p"),
    b"7z\xbc\xaf\x27\x1c": ("7z", "7z x -so"),
    b"\x1f\x9d": ("compress (.Z)", "uncompress -c"),
    b"LZIP": ("lzip", "lzip -dc"),
    b"\xff\x06\x00\x00sNaPpY": ("snappy", "snzip -dc"),
}
MAGIC_BYTES = 10


class Damaged(Exception):
    """The compressed data cannot be decoded past byte `at` of the file: corrupt or truncated."""

    def __init__(self, reason: str, at: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.at = at


def compression_of(head: bytes) -> str | None:
    """The supported compression the first bytes of a file announce, or None."""
    for magic, kind in SUPPORTED.items():
        if head.startswith(magic):
            return kind
    return None


def unsupported_compression(head: bytes) -> tuple[str, str] | None:
    """(name, command that decompresses it) for a known compression smartview does not read, or None."""
    for magic, found in UNSUPPORTED.items():
        if head.startswith(magic):
            return found
    return None


def not_records_hint(head: bytes) -> str | None:
    """Why the start of a file is not newline-delimited records, or None when it may well be.

    Two shapes are common: binary data (an image, an archive, a database file), and one pretty-printed
    JSON document whose first line is only its opening bracket. Either would fill the screen with pieces
    of one enormous or meaningless record, so a one-line hint is shown instead.
    """
    if not head:
        return None
    if _looks_binary(head):
        return "looks like binary data, not newline-delimited records"
    text = head.lstrip()
    first, _, rest = text.partition(b"\n")
    first = first.strip()
    if first in (b"{", b"[", b"[{", b"[ {") and rest:
        command = "jq -c '.[]'" if first.startswith(b"[") else "jq -c ."
        return (f"looks like one pretty-printed JSON document, not one record per line; "
                f"turn it into records with: {command} FILE | smartview -")
    return None


def _looks_binary(head: bytes) -> bool:
    """The first record is mostly NULs, control bytes or not UTF-8: a record may hold a few, binary data is full of them.

    Only the first line is judged, so a topic whose later records are damaged (a run of NULs from a crash)
    still opens, and reports those records with their offsets.
    """
    end = head.find(b"\n", 0, 8192)
    sample = head[: end if end >= 0 else 8192]
    controls = sum(sample.count(bytes([c])) for c in range(32) if c not in (9, 13, 27))
    invalid = sample.decode("utf-8", "replace").count("\ufffd") - sample.decode("utf-8", "ignore").count("\ufffd")
    return len(sample) >= 4 and (controls + invalid) * 10 > len(sample) * 3


def _zstd_decoder() -> Any:
    """A decoder of one zstd frame: the standard library's where the Python has one (3.14), else `zstandard`."""
    try:
        from compression import zstd  # type: ignore[import-not-found]

        return zstd.ZstdDecompressor()
    except ImportError:
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj()


def _decoder(kind: str) -> Any:
    """A decoder of one member (gzip member, bzip2 stream, xz stream, zstd frame) of the given kind."""
    if kind == "gzip":
        import zlib

        return zlib.decompressobj(31)
    if kind == "bzip2":
        import bz2

        return bz2.BZ2Decompressor()
    if kind == "xz":
        import lzma

        return lzma.LZMADecompressor()
    return _zstd_decoder()


def _errors(kind: str) -> tuple[type[BaseException], ...]:
    """What each decoder raises on bad data (bz2 raises a bare OSError)."""
    errors: list[type[BaseException]] = [OSError, ValueError, EOFError]
    if kind == "gzip":
        import zlib

        errors.append(zlib.error)
    elif kind == "xz":
        import lzma

        errors.append(lzma.LZMAError)
    elif kind == "zstd":
        try:
            import zstandard

            errors.append(zstandard.ZstdError)
        except ImportError:
            pass
    return tuple(errors)


class Decompressor:
    """The decompressed bytes of compressed data, in chunks, from its compressed pieces (a file or a pipe).

    `consumed` is how many compressed bytes were decoded so far, for progress; `size` the file's size
    (None for a pipe).
    """

    def __init__(self, pieces: Iterator[bytes], kind: str, size: int | None = None) -> None:
        self.pieces = pieces
        self.kind = kind
        self.consumed = 0
        self.size = size
        self._errors = _errors(kind)

    def chunks(self) -> Iterator[bytes]:
        """Decompressed data until the end of the input; raises Damaged where the data cannot be decoded."""
        decoder = _decoder(self.kind)
        member_bytes = 0  # compressed bytes fed to the current member
        feed = PIECE if self.kind == "gzip" else FEED
        for piece in _slices(self.pieces, feed):
            while piece:
                if not member_bytes and not piece.strip(b"\0"):  # zero padding between or after members
                    self.consumed += len(piece)
                    break
                saved = decoder.copy() if self.kind == "gzip" else None
                try:
                    out = decoder.decompress(piece)
                except self._errors as exc:
                    if saved is not None:
                        yield from self._salvage(saved, piece)
                    raise Damaged(_reason(exc), self.consumed) from None
                if out:
                    yield out
                if not decoder.eof:
                    self.consumed += len(piece)
                    member_bytes += len(piece)
                    break
                rest = decoder.unused_data
                self.consumed += len(piece) - len(rest)
                member_bytes = 0
                decoder = _decoder(self.kind)
                piece = rest
        if member_bytes and not decoder.eof:
            raise Damaged("truncated: the data ends inside a compressed stream", self.consumed)

    def _salvage(self, decoder: Any, piece: bytes) -> Iterator[bytes]:
        """Decode the failed piece again in small slices, giving what comes before the damage."""
        for start in range(0, len(piece), SLICE):
            try:
                out = decoder.decompress(piece[start : start + SLICE])
            except self._errors:
                return
            self.consumed += min(SLICE, len(piece) - start)
            if out:
                yield out


def _slices(pieces: Iterator[bytes], size: int) -> Iterator[bytes]:
    for piece in pieces:
        if len(piece) <= size:
            yield piece
            continue
        view = memoryview(piece)
        for start in range(0, len(piece), size):
            yield bytes(view[start : start + size])


def file_pieces(fd: int) -> Iterator[bytes]:
    """The compressed bytes of an open file, a piece at a time."""
    while piece := os.read(fd, PIECE):
        yield piece


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.removeprefix("Error -3 while decompressing data: ")
