"""A PEP 517 build backend for the sdrlink package, with no build dependency.

Why: `pip install ./python` must work offline. A setuptools backend makes pip download setuptools into an
isolated build environment (or, with `--no-build-isolation`, needs the `wheel` package beside a setuptools
older than 70.1, which not every Python has). This backend needs nothing beyond the standard library, so
`pip install ./python` builds with no network, with or without build isolation.

It builds a pure-Python wheel (`py3-none-any`) of the `sdrlink/` folder, an sdist, and an editable wheel
(PEP 660: a `.pth` file naming this folder) from the `[project]` table of pyproject.toml (PEP 621).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "sdrlink"
# ZIP and tar entries get a fixed time, so the same sources give the same archive bytes
EPOCH = (1980, 1, 1, 0, 0, 0)


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        raw = f.read()
    try:
        import tomllib  # Python 3.11+

        return tomllib.loads(raw.decode("utf-8"))["project"]
    except ImportError:
        return _project_fallback(raw.decode("utf-8"))


def _project_fallback(text):
    """The [project] keys this backend uses, for a Python without tomllib (< 3.11): `key = "text"`,
    `key = ["a", "b"]` (one line or several) and `key = { text = "…" }`."""
    m = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    body = m.group(1) if m else ""
    out = {}
    for key, value in re.findall(r'^([A-Za-z-]+)\s*=\s*(".*?"|\[.*?\]|\{.*?\})\s*$', body, re.M | re.S):
        if value.startswith('"'):
            out[key] = value[1:-1]
        elif value.startswith("["):
            out[key] = re.findall(r'"([^"]*)"', value)
        else:
            out[key] = dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', value))
    return out


def _metadata():
    p = _project()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {p['name']}",
        f"Version: {p['version']}",
        f"Summary: {p.get('description', '')}",
    ]
    if "license" in p:
        lines.append(f"License: {p['license'].get('text', '')}")
    if "requires-python" in p:
        lines.append(f"Requires-Python: {p['requires-python']}")
    for c in p.get("classifiers", []):
        lines.append(f"Classifier: {c}")
    for d in p.get("dependencies", []):
        lines.append(f"Requires-Dist: {d}")
    readme = p.get("readme")
    body = ""
    if isinstance(readme, str) and os.path.exists(os.path.join(ROOT, readme)):
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
            body = f.read()
    return p["name"], p["version"], "\n".join(lines) + "\n\n" + body


def _dist_info_files(name, version):
    _, _, metadata = _metadata()
    wheel = "Wheel-Version: 1.0\nGenerator: sdrlink_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    return {"METADATA": metadata, "WHEEL": wheel, "top_level.txt": PACKAGE + "\n"}


def _package_files():
    out = []
    top = os.path.join(ROOT, PACKAGE)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for fn in sorted(filenames):
            if fn.endswith((".py", ".typed")):
                full = os.path.join(dirpath, fn)
                out.append((os.path.relpath(full, ROOT).replace(os.sep, "/"), full))
    return out


def _write_wheel(directory, entries):
    """entries: (archive name, bytes). Adds the dist-info and RECORD; returns the wheel's file name."""
    name, version, _ = _metadata()
    dist = f"{name}-{version}"
    info = f"{dist}.dist-info"
    for fn, text in _dist_info_files(name, version).items():
        entries.append((f"{info}/{fn}", text.encode("utf-8")))
    record = []
    for arc, data in entries:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{arc},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    entries.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode("utf-8")))
    wheel_name = f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in entries:
            zi = zipfile.ZipInfo(arc, EPOCH)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return wheel_name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    entries = []
    for arc, full in _package_files():
        with open(full, "rb") as f:
            entries.append((arc, f.read()))
    return _write_wheel(wheel_directory, entries)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    name, _, _ = _metadata()
    return _write_wheel(wheel_directory, [(f"__editable__.{name}.pth", (ROOT + "\n").encode("utf-8"))])


def build_sdist(sdist_directory, config_settings=None):
    name, version, metadata = _metadata()
    dist = f"{name}-{version}"
    files = ["pyproject.toml", "README.md", "build_backend/sdrlink_build.py"]
    files += [arc for arc, _ in _package_files()]
    for dirpath, _, filenames in os.walk(os.path.join(ROOT, "tests")):
        files += sorted(os.path.relpath(os.path.join(dirpath, f), ROOT) for f in filenames if f.endswith(".py"))
    sdist_name = f"{dist}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, sdist_name), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for rel in files:
            full = os.path.join(ROOT, rel)
            if not os.path.exists(full):
                continue
            with open(full, "rb") as f:
                data = f.read()
            _add(tar, f"{dist}/{rel}", data)
        _add(tar, f"{dist}/PKG-INFO", metadata.encode("utf-8"))
    return sdist_name


def _add(tar, arc, data):
    ti = tarfile.TarInfo(arc)
    ti.size = len(data)
    ti.mode = 0o644
    ti.mtime = 315532800  # 1980-01-01
    tar.addfile(ti, io.BytesIO(data))
