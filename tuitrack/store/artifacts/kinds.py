"""What an artifact is, from its name and its first bytes: text (and which language, for
colouring), an image (with its pixel size, read from the header), or another binary kind.

Nothing here reads a file: callers hand in the head they read within their bound (HEAD_BYTES is
enough for every header parsed here; a JPEG whose frame header lies further in says so).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEAD_BYTES = 64 * 1024

LANGUAGES = {
    ".json": "json", ".jsonl": "json", ".yaml": "yaml", ".yml": "yaml", ".py": "python",
    ".md": "markdown", ".toml": "toml", ".sh": "bash", ".cfg": "ini", ".ini": "ini",
    ".html": "html", ".xml": "xml", ".sql": "sql", ".js": "javascript", ".txt": "", ".log": "",
}
TABLES = {".csv": ",", ".tsv": "\t"}
MLMODEL_NAMES = {"MLmodel": "yaml"}  # MLflow's model description has no extension

_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "PNG image"), (b"\xff\xd8\xff", "JPEG image"), (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"), (b"%PDF-", "PDF document"), (b"PK\x03\x04", "zip archive (also .npz, .pt, .keras)"),
    (b"\x1f\x8b", "gzip data"), (b"\x7fELF", "ELF executable"), (b"\x93NUMPY", "NumPy array (.npy)"),
    (b"PAR1", "Parquet table"), (b"SQLite format 3\x00", "SQLite database"), (b"\x89HDF\r\n\x1a\n", "HDF5 data"),
    (b"BM", "BMP image"), (b"RIFF", "RIFF data (WAV, AVI, WebP)"), (b"\x80", "Python pickle"),
]


@dataclass(frozen=True, slots=True)
class Kind:
    """`kind` is "text", "table", "image" or "binary"; `what` says it in words."""

    kind: str
    what: str
    language: str = ""  # for text: a Pygments lexer name ("" plain)
    delimiter: str = ""  # for a table
    dimensions: tuple[int, int] | None = None  # an image's width and height in pixels


def suffix(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return "." + base.rsplit(".", 1)[-1].lower() if "." in base.lstrip(".") else ""


def guess(name: str, head: bytes) -> Kind:
    """What the file named `name` whose first bytes are `head` is."""
    image = image_kind(head)
    if image is not None:
        return image
    if looks_like_text(head):
        ext = suffix(name)
        if ext in TABLES:
            return Kind("table", "CSV table" if ext == ".csv" else "TSV table", delimiter=TABLES[ext])
        base = name.rsplit("/", 1)[-1]
        language = LANGUAGES.get(ext, MLMODEL_NAMES.get(base, ""))
        return Kind("text", f"{language.upper() if language else 'plain'} text", language=language)
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            return Kind("binary", what)
    return Kind("binary", "binary data")


def looks_like_text(head: bytes) -> bool:
    """UTF-8 without NULs (a multi-byte character cut at the end of the head is allowed)."""
    if b"\x00" in head:
        return False
    for cut in range(4):
        try:
            head[:len(head) - cut].decode("utf-8")
            return True
        except UnicodeDecodeError:
            continue
    return False


def image_kind(head: bytes) -> Kind | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        size = struct.unpack(">II", head[16:24]) if len(head) >= 24 and head[12:16] == b"IHDR" else None
        return Kind("image", "PNG image", dimensions=size)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        size = struct.unpack("<HH", head[6:10]) if len(head) >= 10 else None
        return Kind("image", "GIF image", dimensions=size)
    if head.startswith(b"\xff\xd8\xff"):
        return Kind("image", "JPEG image", dimensions=_jpeg_size(head))
    return None


# Start-of-frame markers carry the size: C0-CF but C4 (Huffman tables), C8 (reserved), CC (arithmetic).
_SOF = {m for m in range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC}


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    """Walk the JPEG's segments (each names its length) to its frame header, within `head`."""
    at = 2
    while at + 4 <= len(head):
        if head[at] != 0xFF:
            return None
        marker = head[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            at += 2
            continue
        length = struct.unpack(">H", head[at + 2:at + 4])[0]
        if length < 2:
            return None
        if marker in _SOF:
            if at + 9 > len(head):
                return None
            height, width = struct.unpack(">HH", head[at + 5:at + 9])
            return width, height
        at += 2 + length
    return None
