"""Runs with artifacts, logged by real MLflow (log_text, log_artifact, log_dict), in a file store,
an mlflow.db and on a tracking server; and the bytes of small image headers."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"

from mlflow.tracking import MlflowClient  # noqa: E402

TEXTS = {
    "config.yaml": "lr: 0.01\nlayers: [64, 32]\n",
    "notes/readme.md": "# Run\n\nIt *converged*.\n",
    "notes/train.py": "def train():\n    return 1\n",
    "metrics/history.csv": "step,loss\n0,1.5\n1,0.9\n",
    "logs/train.log": "".join(f"step {i} loss {1 / (i + 1):.4f}\n" for i in range(2000)),
}


def png(width: int, height: int) -> bytes:
    """A real 1-bit PNG of that size (no image library needed)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x00" * ((width + 7) // 8) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def jpeg_header(width: int, height: int) -> bytes:
    """The start of a baseline JPEG: SOI, an APP0 segment, then the frame header (SOF0)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def gif_header(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00;"


def log_artifacts(client: MlflowClient, experiment: str, scratch: Path) -> str:
    """One run holding TEXTS, a PNG (as a file, with log_artifact) and a dict (log_dict)."""
    experiment_id = client.create_experiment(experiment)
    run = client.create_run(experiment_id, run_name="with-artifacts")
    run_id = run.info.run_id
    for path, text in TEXTS.items():
        client.log_text(run_id, text, path)
    scratch.mkdir(parents=True, exist_ok=True)
    picture = scratch / "curve.png"
    picture.write_bytes(png(40, 30))
    client.log_artifact(run_id, str(picture), "plots")
    client.log_dict(run_id, {"accuracy": 0.9}, "summary.json")
    client.set_terminated(run_id)
    return run_id
