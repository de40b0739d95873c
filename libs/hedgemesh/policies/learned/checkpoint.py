"""A learned policy's checkpoint: a folder with ``weights.npz`` (the network's arrays by name,
numpy's own format, read without pickle) and ``manifest.json``:

| key | what |
|---|---|
| ``format`` | ``"hedgemesh-learned/1"`` |
| ``network`` | ``{kind: mlp or gru, hidden, layers}`` (`network.expected_shapes`) |
| ``head`` | ``fraction`` or ``band`` (`spec`) |
| ``inputs`` | the input names, in order (`spec.FEATURES`) |
| ``scale``, ``episode_years``, ``vol_ref`` | units per lot, the training episode, the initial vol |
| ``hedge`` | the `HedgeOption` it trades (fields) |
| ``weights_sha256`` | SHA-256 of weights.npz, checked on every load |
| ``training`` | the config and its hash, the seed, the episode counts, the objective, … |
| ``metrics`` | what training measured (train, validation, held-out) |

`load_checkpoint` refuses a missing file, a wrong format, a checksum that does not match and
weights whose names or shapes are not the network's, each with a `CheckpointError` saying so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hedgemesh.policies.instruments import HedgeOption
from hedgemesh.policies.learned import network, spec

__all__ = [
    "FORMAT",
    "MANIFEST_FILE",
    "WEIGHTS_FILE",
    "Checkpoint",
    "CheckpointError",
    "load_checkpoint",
    "save_checkpoint",
]

FORMAT = "hedgemesh-learned/1"
MANIFEST_FILE = "manifest.json"
WEIGHTS_FILE = "weights.npz"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, altered, or not the network it says."""


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A verified checkpoint: its folder, manifest and weights (float64 arrays by name)."""

    directory: Path
    manifest: dict[str, Any]
    weights: dict[str, NDArray[np.float64]]

    @property
    def kind(self) -> str:
        return str(self.manifest["network"]["kind"])

    @property
    def layers(self) -> int:
        return int(self.manifest["network"].get("layers", 0))

    @property
    def hidden(self) -> int:
        return int(self.manifest["network"]["hidden"])

    @property
    def head(self) -> str:
        return str(self.manifest["head"])

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(self.manifest["inputs"])

    @property
    def scale(self) -> float:
        return float(self.manifest["scale"])

    @property
    def episode_years(self) -> float:
        return float(self.manifest["episode_years"])

    @property
    def vol_ref(self) -> float:
        return float(self.manifest["vol_ref"])

    @property
    def hedge(self) -> HedgeOption:
        return HedgeOption(**self.manifest["hedge"])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_manifest(manifest: Any, where: Path) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{where}: not a {FORMAT} manifest")
    for key in ("network", "head", "inputs", "scale", "episode_years", "vol_ref", "hedge"):
        if key not in manifest:
            raise CheckpointError(f"{where}: the manifest has no {key!r}")
    if manifest["head"] not in spec.HEADS:
        raise CheckpointError(f"{where}: unknown head {manifest['head']!r}")
    unknown = [name for name in manifest["inputs"] if name not in spec.FEATURES]
    if unknown or not manifest["inputs"]:
        raise CheckpointError(f"{where}: unknown or no inputs {unknown or manifest['inputs']}")
    for key in ("scale", "episode_years", "vol_ref"):
        value = manifest[key]
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise CheckpointError(f"{where}: {key} must be a number > 0, got {value!r}")


def load_checkpoint(directory: str | Path) -> Checkpoint:
    """Read and verify a checkpoint folder (the module doc lists the checks)."""
    folder = Path(directory)
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        data = (folder / WEIGHTS_FILE).read_bytes()
    except FileNotFoundError as error:
        raise CheckpointError(
            f"{folder}: no checkpoint there ({error.filename} is missing)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{folder}: cannot read the checkpoint: {error}") from None
    _check_manifest(manifest, folder)
    digest = _sha256(data)
    if manifest.get("weights_sha256") != digest:
        raise CheckpointError(
            f"{folder}: {WEIGHTS_FILE} fails its checksum (manifest "
            f"{manifest.get('weights_sha256')!r}, file {digest})"
        )
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            weights = {name: np.asarray(archive[name], dtype=np.float64) for name in archive.files}
    except (ValueError, OSError) as error:
        raise CheckpointError(f"{folder}: cannot read {WEIGHTS_FILE}: {error}") from None
    net = manifest["network"]
    try:
        shapes = network.expected_shapes(
            str(net["kind"]), len(manifest["inputs"]), int(net["hidden"]), int(net.get("layers", 0))
        )
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{folder}: bad network {net!r}: {error}") from None
    found = {name: tuple(w.shape) for name, w in weights.items()}
    if found != shapes:
        raise CheckpointError(
            f"{folder}: the weights are not the network's shape: expected {shapes}, got {found}"
        )
    if not all(np.all(np.isfinite(w)) for w in weights.values()):
        raise CheckpointError(f"{folder}: the weights are not all finite")
    try:
        HedgeOption(**manifest["hedge"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{folder}: bad hedge {manifest['hedge']!r}: {error}") from None
    return Checkpoint(folder, manifest, weights)


def save_checkpoint(
    directory: str | Path, manifest: Mapping[str, Any], weights: Mapping[str, NDArray]
) -> Checkpoint:
    """Write weights.npz and manifest.json (with the format and the weights' checksum) into
    ``directory`` (created if missing) and return the checkpoint as `load_checkpoint` reads
    it."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {name: np.asarray(w) for name, w in sorted(weights.items())}
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    (folder / WEIGHTS_FILE).write_bytes(data)
    full = {"format": FORMAT, **manifest, "weights_sha256": _sha256(data)}
    text = json.dumps(full, indent=2, allow_nan=False, default=_plain) + "\n"
    (folder / MANIFEST_FILE).write_text(text, encoding="utf-8")
    return load_checkpoint(folder)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {value!r}")
