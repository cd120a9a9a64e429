"""Loading a received file: NumPy ``.npz`` archives and SigMF recordings (archive or pair), re-hashed first."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
from collections.abc import Mapping
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np

from ._errors import SdrlinkError

_CHUNK = 1 << 20


def sha256_file(path: str) -> str:
    """SHA-256 of a file, hex, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(_CHUNK)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


class Dataset(Mapping):
    """A received dataset: its arrays by name (``d["iq"]``, ``d["power_db"]``), and what is known of it.

    - ``meta``: the metadata, parsed (the ``meta`` entry of an ``.npz``; the ``.sigmf-meta`` of SigMF):
      SigMF metadata (``global``, ``captures``, ``annotations``); ``global_`` is ``meta["global"]``;
    - ``path``, ``sha256``, ``size``, ``format`` (``"npz"`` or ``"sigmf"``);
    - from the command's JSON result (``None`` for :func:`sdrlink.load`): ``verified``, ``transport``
      (``p2p`` or ``relay``), ``network_path`` (``host-host/udp``, ``ws-relay``, …), ``route``
      (``direct``, ``TURN``, ``WebSocket relay``), ``session_id``, ``provider_id``, ``rate`` (bytes/s),
      ``duration_ms``, ``already_present``; ``result`` holds the whole line.
    """

    def __init__(
        self,
        arrays: Dict[str, np.ndarray],
        meta: Any,
        path: str,
        sha256: str,
        fmt: str,
        result: Optional[Dict[str, Any]] = None,
    ) -> None:
        self._arrays = arrays
        self.meta = meta
        self.path = path
        self.sha256 = sha256
        self.format = fmt
        self.size = os.path.getsize(path)
        self.result: Dict[str, Any] = dict(result) if result is not None else {}
        r = self.result
        self.verified: Optional[bool] = r.get("verified")
        self.transport: Optional[str] = r.get("transport")
        self.network_path: Optional[str] = r.get("network_path")
        self.route: Optional[str] = r.get("route")
        self.session_id: Optional[str] = r.get("session_id")
        self.provider_id: Optional[str] = r.get("provider_id")
        self.rate: Optional[float] = r.get("rate")
        self.duration_ms: Optional[float] = r.get("duration_ms")
        self.already_present: Optional[bool] = r.get("already_present")

    def __getitem__(self, key: str) -> np.ndarray:
        return self._arrays[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    @property
    def global_(self) -> Dict[str, Any]:
        """``meta["global"]``, the SigMF global object (every sdrlink meta is SigMF metadata; its own keys
        are ``sdrlink:*``, e.g. ``d.global_["sdrlink:bin_hz"]``); ``{}`` when the meta has none."""
        g = self.meta.get("global") if isinstance(self.meta, dict) else None
        return g if isinstance(g, dict) else {}

    @property
    def arrays(self) -> Dict[str, np.ndarray]:
        """The arrays as a plain dict."""
        return dict(self._arrays)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {v.dtype}{list(v.shape)}" for k, v in self._arrays.items())
        return f"<sdrlink.Dataset {os.path.basename(self.path)} ({self.format}) {{{inner}}}>"


def load(path: str, sha256: Optional[str] = None, *, result: Optional[Dict[str, Any]] = None) -> Dataset:
    """Loads a dataset file: ``.npz`` (``numpy.load(allow_pickle=False)``), a SigMF archive (``.sigmf``),
    or a SigMF pair (the ``.sigmf-meta`` or ``.sigmf-data`` path).

    With ``sha256``, the file is hashed first and a mismatch raises ``SdrlinkError("ERR_CHECKSUM")``
    before anything is parsed. A SigMF recording whose metadata has ``core:sha512`` is checked against it
    too. A file that is none of these, or malformed, raises ``SdrlinkError("ERR_FORMAT")``.
    """
    path = os.fspath(path)
    fmt = _detect(path)
    if fmt == "sigmf-pair":
        meta_path, data_path = _pair_paths(path)
        hashed = meta_path if path == meta_path else data_path
    else:
        hashed = path
    digest = sha256_file(hashed)
    if sha256 is not None and digest != sha256.lower():
        raise SdrlinkError(
            "ERR_CHECKSUM",
            f"{hashed}: SHA-256 is {digest}, the command reported {sha256}; the file changed after it was verified",
        )
    if fmt == "npz":
        arrays, meta = _load_npz(path)
        return Dataset(arrays, meta, path, digest, "npz", result)
    if fmt == "sigmf":
        arrays, meta = load_sigmf_archive(path)
    else:
        arrays, meta = _load_sigmf_pair(*_pair_paths(path))
    return Dataset(arrays, meta, path, digest, "sigmf", result)


def _detect(path: str) -> str:
    low = path.lower()
    if low.endswith(".npz"):
        return "npz"
    if low.endswith(".sigmf"):
        return "sigmf"
    if low.endswith(".sigmf-meta") or low.endswith(".sigmf-data"):
        return "sigmf-pair"
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise SdrlinkError("ERR_FORMAT", f"{path}: cannot be read: {e}") from e
    if head == b"PK\x03\x04":
        return "npz"
    if tarfile.is_tarfile(path):
        return "sigmf"
    raise SdrlinkError("ERR_FORMAT", f"{path}: neither a .npz nor a SigMF archive")


def _load_npz(path: str) -> Tuple[Dict[str, np.ndarray], Any]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except (ValueError, OSError, EOFError) as e:
        raise SdrlinkError("ERR_FORMAT", f"{path}: not a readable .npz: {e}") from e
    meta: Any = None
    if "meta" in arrays:
        try:
            meta = json.loads(str(arrays["meta"]))
        except ValueError as e:
            raise SdrlinkError("ERR_FORMAT", f"{path}: its meta entry is not JSON: {e}") from e
    return arrays, meta


# --- SigMF (https://sigmf.org, v1.x) --------------------------------------------------------------------

_DATATYPE = re.compile(r"^(c|r)(f32|f64|i32|i16|i8|u32|u16|u8)(_le|_be)?$")


def sigmf_dtype(datatype: str) -> Tuple[np.dtype, bool]:
    """The NumPy dtype of one stored component for a SigMF ``core:datatype``, and whether it is complex.

    ``cf32_le`` → ``(<f4, True)``; ``cu8`` → ``(u1, True)``; ``ri16_be`` → ``(>i2, False)``. Multi-byte
    types must say ``_le`` or ``_be``; one-byte types must not. Anything else raises ``ERR_FORMAT``.
    """
    m = _DATATYPE.match(datatype) if isinstance(datatype, str) else None
    if m is None:
        raise SdrlinkError("ERR_FORMAT", f"core:datatype {datatype!r} is not a SigMF datatype")
    kind, base, endian = m.group(1), m.group(2), m.group(3)
    bits = int(base[1:])
    if (bits > 8) != (endian is not None):
        raise SdrlinkError(
            "ERR_FORMAT",
            f"core:datatype {datatype!r}: {'multi-byte types need _le or _be' if bits > 8 else 'one-byte types take no endianness'}",
        )
    order = "<" if endian == "_le" else ">" if endian == "_be" else "|"
    return np.dtype(f"{order}{base[0]}{bits // 8}"), kind == "c"


def sigmf_samples(raw: bytes, datatype: str) -> np.ndarray:
    """Samples from a SigMF dataset's bytes.

    Complex types give complex samples, real types real ones: floats as stored (``cf32`` → complex64,
    ``cf64`` → complex128); integers scaled to [-1, 1) as the provider reads recordings (docs/datasets.md):
    signed divided by 2^(bits−1), unsigned offset by 2^(bits−1) then divided by it (``cu8``: ``(u − 128)/128``),
    as complex64 / float32.
    """
    dt, is_complex = sigmf_dtype(datatype)
    unit = dt.itemsize * (2 if is_complex else 1)
    if len(raw) % unit != 0:
        raise SdrlinkError(
            "ERR_FORMAT",
            f"the dataset holds {len(raw)} bytes, not a whole number of {datatype} samples ({unit} bytes each)",
        )
    comp = np.frombuffer(raw, dtype=dt)
    if dt.kind == "f":
        native = comp.astype(dt.newbyteorder("="), copy=False)
        if is_complex:
            out = native.view(np.complex64 if dt.itemsize == 4 else np.complex128)
        else:
            out = native
        return out.copy() if not out.flags.writeable else out
    half = float(2 ** (dt.itemsize * 8 - 1))
    scaled = comp.astype(np.float32)
    if dt.kind == "u":
        scaled -= half
    scaled /= half
    return scaled.view(np.complex64) if is_complex else scaled


def _sigmf_arrays(meta: Any, raw: bytes, where: str) -> Dict[str, np.ndarray]:
    if not isinstance(meta, dict) or not isinstance(meta.get("global"), dict):
        raise SdrlinkError("ERR_FORMAT", f"{where}: the metadata has no global object")
    g = meta["global"]
    if "core:datatype" not in g:
        raise SdrlinkError("ERR_FORMAT", f"{where}: global.core:datatype is missing")
    if int(g.get("core:num_channels", 1)) != 1:
        raise SdrlinkError("ERR_FORMAT", f"{where}: {g['core:num_channels']} channels; one is supported")
    expected = g.get("core:sha512")
    if isinstance(expected, str) and hashlib.sha512(raw).hexdigest() != expected.lower():
        raise SdrlinkError("ERR_CHECKSUM", f"{where}: the dataset's SHA-512 differs from core:sha512")
    captures = meta.get("captures") if isinstance(meta.get("captures"), list) else []
    if any(isinstance(c, dict) and c.get("core:header_bytes", 0) for c in captures):
        raise SdrlinkError("ERR_FORMAT", f"{where}: captures with core:header_bytes are not supported")
    trailing = int(g.get("core:trailing_bytes", 0) or 0)
    if trailing:
        raw = raw[: len(raw) - trailing]
    samples = sigmf_samples(raw, g["core:datatype"])
    arrays: Dict[str, np.ndarray] = {"iq" if np.iscomplexobj(samples) else "samples": samples}
    if isinstance(g.get("core:sample_rate"), (int, float)):
        arrays["sample_rate"] = np.array(float(g["core:sample_rate"]))
    first = captures[0] if captures and isinstance(captures[0], dict) else {}
    if isinstance(first.get("core:frequency"), (int, float)):
        arrays["center_frequency"] = np.array(float(first["core:frequency"]))
    return arrays


def load_sigmf_archive(path: str, name: Optional[str] = None) -> Tuple[Dict[str, np.ndarray], Any]:
    """Reads a SigMF archive (a tar of ``<name>/<name>.sigmf-meta`` and ``.sigmf-data``).

    Members are read from the tar, never extracted to disk; only regular files count. An archive with
    several recordings needs ``name``.
    """
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            metas = sorted(n for n in members if n.endswith(".sigmf-meta"))
            if name is not None:
                metas = [n for n in metas if os.path.basename(n) == f"{name}.sigmf-meta"]
            if len(metas) != 1:
                raise SdrlinkError(
                    "ERR_FORMAT",
                    f"{path}: {len(metas)} recordings{'' if name is None else f' named {name!r}'} "
                    f"({', '.join(metas) or 'no .sigmf-meta'}); give one name",
                )
            meta_name = metas[0]
            data_name = meta_name[: -len(".sigmf-meta")] + ".sigmf-data"
            if data_name not in members:
                raise SdrlinkError("ERR_FORMAT", f"{path}: {meta_name} has no {data_name} beside it")
            meta = json.loads(_read_member(tar, members[meta_name]).decode("utf-8"))
            raw = _read_member(tar, members[data_name])
    except tarfile.TarError as e:
        raise SdrlinkError("ERR_FORMAT", f"{path}: not a readable tar archive: {e}") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise SdrlinkError("ERR_FORMAT", f"{path}: its .sigmf-meta is not JSON: {e}") from e
    return _sigmf_arrays(meta, raw, f"{path}:{meta_name}"), meta


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(member)
    if f is None:
        raise SdrlinkError("ERR_FORMAT", f"{member.name} cannot be read")
    with f:
        return f.read()


def _pair_paths(path: str) -> Tuple[str, str]:
    stem = path[: -len(".sigmf-meta")]
    return stem + ".sigmf-meta", stem + ".sigmf-data"


def _load_sigmf_pair(meta_path: str, data_path: str) -> Tuple[Dict[str, np.ndarray], Any]:
    try:
        with open(meta_path, "r", encoding="utf-8") as f:
            meta = json.load(f)
        with open(data_path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise SdrlinkError("ERR_FORMAT", f"{meta_path}: the SigMF pair cannot be read: {e}") from e
    except ValueError as e:
        raise SdrlinkError("ERR_FORMAT", f"{meta_path}: not JSON: {e}") from e
    return _sigmf_arrays(meta, raw, meta_path), meta
