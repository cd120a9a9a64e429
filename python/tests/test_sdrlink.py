"""Unit tests of the sdrlink package: the command's JSON lines, errors, parameters, loading, SigMF.

Run: ``python3 -m unittest discover -s python/tests`` (test/e2e/python.test.ts runs them too).
The requests themselves, against a real server and provider, are in test/e2e/python.test.ts.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sys
import tarfile
import tempfile
import textwrap
import time
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import sdrlink  # noqa: E402
from sdrlink import _cli  # noqa: E402
from sdrlink._errors import PYTHON_ERROR_CODES  # noqa: E402


class Lines(unittest.TestCase):
    def test_parse_line(self):
        self.assertEqual(sdrlink.parse_line('{"ts":"x","ok":true}\n'), {"ts": "x", "ok": True})
        self.assertEqual(sdrlink.parse_line(b'{"event":"progress","received":5}'), {"event": "progress", "received": 5})
        self.assertIsNone(sdrlink.parse_line("  \n"))
        for bad in ("not json", "[1,2]", '"text"', '{"a":'):
            with self.assertRaises(sdrlink.SdrlinkError) as cm:
                sdrlink.parse_line(bad)
            self.assertEqual(cm.exception.code, "ERR_CLI_OUTPUT", bad)

    def test_events_and_result_are_sorted_in_order(self):
        seen = []
        o = _cli.Outcome()
        _cli.feed_lines(
            [
                '{"ts":"1","event":"session","session_id":"s"}\n',
                '{"ts":"2","event":"preparing","bytes":1,"total":4,"percent":25}\n',
                "garbage\n",
                "\n",
                '{"ts":"3","event":"progress","received":4,"total":4,"percent":100,"transport":"p2p"}\n',
                '{"ts":"4","ok":true,"path":"/x.npz","sha256":"ab"}\n',
            ],
            o,
            seen.append,
        )
        self.assertEqual([e["event"] for e in seen], ["session", "preparing", "progress"])
        self.assertEqual(o.events, seen)
        self.assertEqual(o.result, {"ts": "4", "ok": True, "path": "/x.npz", "sha256": "ab"})
        self.assertEqual(o.stray, ["garbage\n"])


def outcome(result, status, stderr=""):
    o = _cli.Outcome()
    o.result = result
    o.exit_status = status
    o.stderr = stderr
    return o


class Errors(unittest.TestCase):
    def test_ok(self):
        r = {"ok": True, "path": "/x", "sha256": "00"}
        self.assertIs(_cli.conclude(outcome(r, 0)), r)

    def test_error_line(self):
        with self.assertRaises(sdrlink.SdrlinkError) as cm:
            _cli.conclude(outcome({"ok": False, "code": "ERR_NO_PROVIDER", "message": "nobody"}, 1))
        e = cm.exception
        self.assertEqual((e.code, e.cli_code, e.cause_code, e.exit_status, e.message), ("ERR_NO_PROVIDER", "ERR_NO_PROVIDER", None, 1, "nobody"))
        self.assertEqual(type(e), sdrlink.SdrlinkError)
        self.assertEqual(str(e), "ERR_NO_PROVIDER: nobody")

    def test_provider_refusal_carries_the_provider_code(self):
        line = {"ok": False, "code": "ERR_PROVIDER", "cause_code": "ERR_PARAMS", "message": "provider refused: …"}
        with self.assertRaises(sdrlink.SdrlinkError) as cm:
            _cli.conclude(outcome(line, 1))
        self.assertEqual((cm.exception.code, cm.exception.cli_code, cm.exception.cause_code), ("ERR_PARAMS", "ERR_PROVIDER", "ERR_PARAMS"))
        # a cause behind another code is kept, not promoted
        with self.assertRaises(sdrlink.SdrlinkError) as cm:
            _cli.conclude(outcome({"ok": False, "code": "ERR_AUTH", "cause_code": "ERR_TOKEN_EXPIRED", "message": "m"}, 3))
        self.assertEqual((cm.exception.code, cm.exception.cause_code), ("ERR_AUTH", "ERR_TOKEN_EXPIRED"))

    def test_exit_status_picks_the_class(self):
        with self.assertRaises(sdrlink.SdrlinkConfigError) as cm:
            _cli.conclude(outcome({"ok": False, "code": "ERR_NO_CREDENTIAL", "message": "m"}, 2))
        self.assertEqual(cm.exception.exit_status, 2)
        with self.assertRaises(sdrlink.SdrlinkAuthError):
            _cli.conclude(outcome({"ok": False, "code": "ERR_AUTH", "message": "m"}, 3))

    def test_failures_without_a_line(self):
        with self.assertRaises(sdrlink.SdrlinkError) as cm:
            _cli.conclude(outcome(None, 1, "error: unknown option '--bogus'\n"))
        self.assertEqual((cm.exception.code, cm.exception.exit_status), ("ERR_CLI", 1))
        self.assertIn("unknown option", cm.exception.message)
        with self.assertRaises(sdrlink.SdrlinkError) as cm:
            _cli.conclude(outcome(None, 0))
        self.assertEqual(cm.exception.code, "ERR_CLI_OUTPUT")
        with self.assertRaises(sdrlink.SdrlinkError) as cm:
            _cli.conclude(outcome({"ok": False, "message": "no code"}, 1))
        self.assertEqual(cm.exception.code, "ERR_CLI_OUTPUT")
        with self.assertRaises(sdrlink.SdrlinkError) as cm:  # ok but a failing status is not a success
            _cli.conclude(outcome({"ok": True, "path": "/x", "sha256": "0"}, 1))
        self.assertEqual(cm.exception.code, "ERR_CLI")

    def test_codes_documented(self):
        with open(os.path.join(HERE, "..", "..", "docs", "errors.md"), encoding="utf-8") as f:
            doc = f.read()
        section = doc.split("## Python package", 1)[1].split("\n## ", 1)[0]
        for code in PYTHON_ERROR_CODES:
            self.assertIn(f"| `{code}` |", section, code)


class Parameters(unittest.TestCase):
    def test_encoding(self):
        enc = sdrlink.encode_parameter
        self.assertEqual(enc("frequency", 100e6), "frequency=100000000.0")
        self.assertEqual(enc("fft_size", 1024), "fft_size=1024")
        self.assertEqual(enc("fft_size", np.int64(2048)), "fft_size=2048")
        self.assertEqual(enc("sample_rate", np.float32(2.5e6)), "sample_rate=2500000.0")
        self.assertEqual(enc("modulation", "fm"), 'modulation="fm"')
        self.assertEqual(enc("label", "true"), 'label="true"')  # a string stays a string
        self.assertEqual(enc("flag", True), "flag=true")
        self.assertEqual(enc("seed", None), "seed=null")
        for key, value in (("x", float("nan")), ("x", float("inf")), ("1x", 1), ("a-b", 1), ("x", object())):
            with self.assertRaises(ValueError, msg=f"{key}={value!r}"):
                enc(key, value)

    def test_arguments_never_hold_the_token(self):
        args = _cli.request_args(
            "spectrum",
            {"frequency_start": 1e6, "frequency_end": 2e6},
            server="http://h:1",
            out="/tmp/o",
            provider="radio",
            transport="relay",
            wait=2.5,
            events=True,
        )
        self.assertEqual(
            args,
            ["request", "spectrum", "--json", "--events", "--server", "http://h:1", "--out", "/tmp/o",
             "--provider", "radio", "--transport", "relay", "--wait", "2500",
             "--param", "frequency_start=1000000.0", "--param", "frequency_end=2000000.0"],
        )
        with self.assertRaises(ValueError):
            _cli.request_args("--server", {})

    def test_find_command(self):
        old = os.environ.pop("SDRLINK_CMD", None)
        old_path = os.environ.get("PATH", "")
        try:
            os.environ["SDRLINK_CMD"] = f"{sys.executable} '/some where/main.js'"
            self.assertEqual(sdrlink.find_command(), [sys.executable, "/some where/main.js"])
            self.assertEqual(sdrlink.find_command([sys.executable, "x"]), [sys.executable, "x"])
            del os.environ["SDRLINK_CMD"]
            with tempfile.TemporaryDirectory() as empty:
                os.environ["PATH"] = empty
                with self.assertRaises(sdrlink.SdrlinkError) as cm:
                    sdrlink.find_command()
                self.assertEqual(cm.exception.code, "ERR_SDRLINK_NOT_FOUND")
                with self.assertRaises(sdrlink.SdrlinkError) as cm:
                    sdrlink.find_command("/nonexistent/sdrlink")
                self.assertEqual(cm.exception.code, "ERR_SDRLINK_NOT_FOUND")
        finally:
            os.environ["PATH"] = old_path
            if old is not None:
                os.environ["SDRLINK_CMD"] = old
            else:
                os.environ.pop("SDRLINK_CMD", None)


STAND_IN = textwrap.dedent(
    """
    import json, signal, sys, time
    marker = sys.argv[1]
    def stop(*_):
        open(marker, "w").write("SIGINT")
        print(json.dumps({"ok": False, "code": "ERR_CANCELLED", "message": "interrupted by SIGINT"}), flush=True)
        sys.exit(1)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps({"event": "session", "session_id": "s1"}), flush=True)
    time.sleep(60)
    """
)


class Process(unittest.TestCase):
    """How the package drives a process (a stand-in that prints an event, then hangs until SIGINT)."""

    def test_timeout_interrupts_the_command(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "stand_in.py")
            marker = os.path.join(tmp, "marker")
            with open(script, "w") as f:
                f.write(STAND_IN)
            seen = []
            with self.assertRaises(sdrlink.SdrlinkError) as cm:
                _cli.run([sys.executable, script, marker], timeout=1.0, on_event=seen.append)
            self.assertEqual(cm.exception.code, "ERR_TIMEOUT")
            self.assertEqual(cm.exception.exit_status, 1)
            self.assertEqual([e["event"] for e in seen], ["session"], "the event came while it ran")
            with open(marker) as f:
                self.assertEqual(f.read(), "SIGINT", "stopped with SIGINT, so sdrlink cancels its session")

    def test_a_failing_callback_stops_the_command(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "stand_in.py")
            with open(script, "w") as f:
                f.write(STAND_IN)

            def boom(_e):
                raise RuntimeError("enough")

            with self.assertRaises(RuntimeError):
                _cli.run([sys.executable, script, os.path.join(tmp, "m")], on_event=boom)
            self.assertTrue(os.path.exists(os.path.join(tmp, "m")))


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Loading(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_npz_with_meta(self):
        p = os.path.join(self.tmp.name, "spectrum_1.npz")
        meta = {
            "global": {"core:datatype": "rf32_le", "core:version": "1.2.0", "sdrlink:type": "spectrum", "sdrlink:bin_hz": 976.5625},
            "captures": [{"core:sample_start": 0, "core:frequency": 100e6}],
            "annotations": [],
        }
        digest = write_npz(p, frequencies=np.arange(4, dtype="<f8"), power_db=np.zeros(4, "<f4"), meta=np.array(json.dumps(meta)))
        d = sdrlink.load(p, digest.upper())
        self.assertEqual(sorted(d), ["frequencies", "meta", "power_db"])
        self.assertEqual(d["frequencies"].dtype, np.float64)
        self.assertEqual(d.meta, meta)
        self.assertEqual(d.global_["sdrlink:bin_hz"], 976.5625)
        self.assertEqual((d.sha256, d.format, d.size), (digest, "npz", os.path.getsize(p)))
        self.assertIsNone(d.transport)

    def test_global_is_empty_without_sigmf_meta(self):
        p = os.path.join(self.tmp.name, "plain.npz")
        digest = write_npz(p, a=np.arange(3))
        self.assertEqual(sdrlink.load(p, digest).global_, {})
        p2 = os.path.join(self.tmp.name, "flat.npz")
        digest2 = write_npz(p2, a=np.arange(3), meta=np.array(json.dumps({"bin_hz": 1.0})))
        self.assertEqual(sdrlink.load(p2, digest2).global_, {})

    def test_checksum_mismatch_refuses_before_loading(self):
        p = os.path.join(self.tmp.name, "x.npz")
        digest = write_npz(p, a=np.arange(3))
        with open(p, "r+b") as f:  # a byte changed after the command verified it
            f.seek(-1, os.SEEK_END)
            last = f.read(1)
            f.seek(-1, os.SEEK_END)
            f.write(bytes([last[0] ^ 1]))
        with self.assertRaises(sdrlink.SdrlinkError) as cm:
            sdrlink.load(p, digest)
        self.assertEqual(cm.exception.code, "ERR_CHECKSUM")

    def test_pickles_are_refused(self):
        p = os.path.join(self.tmp.name, "obj.npz")
        digest = write_npz(p, o=np.array([{"a": 1}], dtype=object))
        with self.assertRaises(sdrlink.SdrlinkError) as cm:
            sdrlink.load(p, digest)
        self.assertEqual(cm.exception.code, "ERR_FORMAT")

    def test_not_a_dataset(self):
        p = os.path.join(self.tmp.name, "x.bin")
        with open(p, "wb") as f:
            f.write(b"hello")
        with self.assertRaises(sdrlink.SdrlinkError) as cm:
            sdrlink.load(p)
        self.assertEqual(cm.exception.code, "ERR_FORMAT")


def sigmf_meta(datatype, data, **extra_global):
    g = {
        "core:datatype": datatype,
        "core:sample_rate": 1e6,
        "core:version": "1.2.0",
        "core:num_channels": 1,
        "core:sha512": hashlib.sha512(data).hexdigest(),
        "core:extensions": [],
    }
    g.update(extra_global)
    return {
        "global": g,
        "captures": [{"core:sample_start": 0, "core:frequency": 433.92e6, "core:datetime": "2026-12-03T00:00:00Z"}],
        "annotations": [],
    }


def sigmf_archive(path, recordings):
    """A SigMF archive as the standard describes it: a tar (POSIX ustar) holding, per recording, a folder
    named after it with `<name>.sigmf-meta` and `<name>.sigmf-data`."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, meta, data in recordings:
            d = tarfile.TarInfo(name)
            d.type = tarfile.DIRTYPE
            d.mode = 0o755
            tar.addfile(d)
            for suffix, blob in ((".sigmf-meta", json.dumps(meta).encode()), (".sigmf-data", data)):
                info = tarfile.TarInfo(f"{name}/{name}{suffix}")
                info.size = len(blob)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(blob))


class SigMF(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        n = np.arange(4096)
        self.tone = (0.5 * np.exp(2j * np.pi * 0.125 * n)).astype(np.complex64)

    def test_cf32_archive_reads_back_the_tone(self):
        data = self.tone.astype("<c8").tobytes()
        p = os.path.join(self.tmp.name, "tone.sigmf")
        sigmf_archive(p, [("tone", sigmf_meta("cf32_le", data), data)])
        d = sdrlink.load(p)
        self.assertEqual(d.format, "sigmf")
        self.assertEqual(d["iq"].dtype, np.complex64)
        np.testing.assert_array_equal(d["iq"], self.tone)
        self.assertEqual(float(d["sample_rate"]), 1e6)
        self.assertEqual(float(d["center_frequency"]), 433.92e6)
        self.assertEqual(d.meta["global"]["core:datatype"], "cf32_le")
        peak = int(np.argmax(np.abs(np.fft.fft(d["iq"]))))
        self.assertEqual(peak, 4096 // 8)  # 0.125 of the rate

    def test_integer_and_big_endian_types_are_scaled(self):
        i = np.array([[-32768, 16384], [0, 32767]], dtype="<i2").tobytes()
        u = np.array([[0, 128], [255, 64]], dtype="u1").tobytes()
        f = np.array([1.5, -2.0], dtype=">f4").tobytes()
        p = os.path.join(self.tmp.name, "mixed.sigmf")
        sigmf_archive(p, [("a", sigmf_meta("ci16_le", i), i), ("b", sigmf_meta("cu8", u), u), ("c", sigmf_meta("rf32_be", f), f)])
        a = sdrlink.load_sigmf_archive(p, "a")[0]["iq"]
        np.testing.assert_allclose(a, np.array([-1 + 0.5j, 0 + 32767 / 32768 * 1j], dtype=np.complex64))
        b = sdrlink.load_sigmf_archive(p, "b")[0]["iq"]
        np.testing.assert_allclose(b, np.array([-1 + 0j, 127 / 128 - 0.5j], dtype=np.complex64))
        c = sdrlink.load_sigmf_archive(p, "c")[0]["samples"]
        np.testing.assert_array_equal(c, np.array([1.5, -2.0], dtype=np.float32))
        with self.assertRaises(sdrlink.SdrlinkError) as cm:  # three recordings: which one?
            sdrlink.load(p)
        self.assertEqual(cm.exception.code, "ERR_FORMAT")

    def test_sha512_and_datatype_are_checked(self):
        data = self.tone.tobytes()
        meta = sigmf_meta("cf32_le", data)
        meta["global"]["core:sha512"] = hashlib.sha512(b"other").hexdigest()
        p = os.path.join(self.tmp.name, "bad.sigmf")
        sigmf_archive(p, [("bad", meta, data)])
        with self.assertRaises(sdrlink.SdrlinkError) as cm:
            sdrlink.load(p)
        self.assertEqual(cm.exception.code, "ERR_CHECKSUM")
        for bad in ("cf32", "cu8_le", "cf16_le", "iq", 7):
            with self.assertRaises(sdrlink.SdrlinkError, msg=repr(bad)) as cm:
                sdrlink.sigmf_dtype(bad)
            self.assertEqual(cm.exception.code, "ERR_FORMAT")
        with self.assertRaises(sdrlink.SdrlinkError):  # 3 bytes are not whole ci8 samples (2 bytes each)
            sdrlink.sigmf_samples(b"\x00\x01\x02", "ci8")

    def test_pair_on_disk(self):
        data = self.tone.tobytes()
        stem = os.path.join(self.tmp.name, "rec")
        with open(stem + ".sigmf-data", "wb") as f:
            f.write(data)
        with open(stem + ".sigmf-meta", "w") as f:
            json.dump(sigmf_meta("cf32_le", data), f)
        for p in (stem + ".sigmf-meta", stem + ".sigmf-data"):
            d = sdrlink.load(p)
            np.testing.assert_array_equal(d["iq"], self.tone)


class BuildBackend(unittest.TestCase):
    """build_backend/sdrlink_build.py: the wheel pip installs, built with the standard library only."""

    def setUp(self):
        sys.path.insert(0, os.path.join(os.path.dirname(HERE), "build_backend"))
        self.addCleanup(sys.path.remove, sys.path[0])
        import sdrlink_build

        self.b = sdrlink_build

    def test_wheel_holds_the_package_and_a_true_record(self):
        import base64
        import zipfile

        self.assertEqual(self.b.get_requires_for_build_wheel(), [])
        with tempfile.TemporaryDirectory() as tmp:
            name = self.b.build_wheel(tmp)
            self.assertEqual(name, f"sdrlink-{sdrlink.__version__}-py3-none-any.whl")
            with zipfile.ZipFile(os.path.join(tmp, name)) as z:
                names = z.namelist()
                for mod in ("__init__", "_cli", "_dataset", "_errors"):
                    self.assertIn(f"sdrlink/{mod}.py", names)
                self.assertFalse([n for n in names if "tests/" in n or "__pycache__" in n], names)
                meta = z.read(f"sdrlink-{sdrlink.__version__}.dist-info/METADATA").decode()
                self.assertIn("Requires-Dist: numpy>=1.21", meta)
                rows = z.read(f"sdrlink-{sdrlink.__version__}.dist-info/RECORD").decode().splitlines()
                for row in rows:
                    arc, digest, size = row.rsplit(",", 2)
                    if arc.endswith("RECORD"):
                        continue
                    data = z.read(arc)
                    want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                    self.assertEqual((digest, int(size)), (f"sha256={want}", len(data)), arc)
                self.assertEqual(len(rows), len(names))

    def test_fallback_reader_agrees_with_tomllib(self):
        try:
            import tomllib
        except ImportError:
            self.skipTest("tomllib needs Python 3.11")
        with open(os.path.join(os.path.dirname(HERE), "pyproject.toml"), "rb") as f:
            raw = f.read()
        want = tomllib.loads(raw.decode())["project"]
        got = self.b._project_fallback(raw.decode())
        for key in ("name", "version", "description", "readme", "license", "requires-python", "dependencies", "classifiers"):
            self.assertEqual(got.get(key), want.get(key), key)


if __name__ == "__main__":
    unittest.main()
