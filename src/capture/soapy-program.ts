/**
 * The SoapySDR capture program, shipped as text and run with `python3 -c` (python3-soapysdr's `SoapySDR`
 * module; no NumPy needed: buffers are `array('f')`, which SoapySDR's readStream accepts).
 *
 * `probe ARGS`: opens the device, prints one JSON line on stdout: device, frequency / sample_rate / gain
 * ranges (getFrequencyRange, getSampleRateRange, getGainRange of RX channel 0).
 * `capture ARGS FREQ RATE N GAIN PPM`: opens the device, sets rate, frequency (and correction), gain (or
 * automatic gain when GAIN is `auto` and the device has it), reads N CF32 samples with readStream and
 * writes them to stdout; on stderr one JSON line per event: `settings` (what the device reports back:
 * getSampleRate, getFrequency, getGain, the hardware key), `overflow` (readStream returned
 * SOAPY_SDR_OVERFLOW: samples dropped before sample index `at`), `error` (code ERR_DEVICE_MISSING when no device
 * matches ARGS, ERR_DEVICE_BUSY when it cannot be opened, ERR_DEVICE_SETTING when a setter throws).
 */
export const SOAPY_PROGRAM = String.raw`
import sys, json, time
from array import array

def say(**kw):
    sys.stderr.write(json.dumps(kw) + "\n")
    sys.stderr.flush()

def fail(code, message):
    say(event="error", code=code, message=message)
    sys.exit(2)

try:
    import SoapySDR
    from SoapySDR import SOAPY_SDR_RX, SOAPY_SDR_CF32
except Exception as e:
    fail("ERR_DEVICE_MISSING", "the SoapySDR Python module is not installed (python3-soapysdr): %s" % e)

def open_device(args):
    try:
        found = SoapySDR.Device.enumerate(args)
    except Exception as e:
        found = None
    if found is not None and len(found) == 0:
        fail("ERR_DEVICE_MISSING", "SoapySDR: no device matches %r" % args)
    try:
        return SoapySDR.Device(args)
    except Exception as e:
        fail("ERR_DEVICE_BUSY", "SoapySDR could not open %r: %s" % (args, e))

def ranges(rs):
    return [[r.minimum(), r.maximum()] for r in rs]

def name_of(dev, args):
    try:
        return "%s (%s)" % (dev.getHardwareKey(), args) if args else dev.getHardwareKey()
    except Exception:
        return args

mode = sys.argv[1]
args = sys.argv[2]
dev = open_device(args)
if mode == "probe":
    out = {"device": name_of(dev, args),
           "frequency": ranges(dev.getFrequencyRange(SOAPY_SDR_RX, 0)),
           "sample_rate": ranges(dev.getSampleRateRange(SOAPY_SDR_RX, 0)),
           "gain": [[dev.getGainRange(SOAPY_SDR_RX, 0).minimum(), dev.getGainRange(SOAPY_SDR_RX, 0).maximum()]]}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.exit(0)

freq, rate, n, gain, ppm = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6], float(sys.argv[7])
step = "sample rate"
try:
    dev.setSampleRate(SOAPY_SDR_RX, 0, rate)
    step = "frequency"
    dev.setFrequency(SOAPY_SDR_RX, 0, freq)
    if ppm != 0:
        step = "frequency correction"
        dev.setFrequencyCorrection(SOAPY_SDR_RX, 0, ppm)
    step = "gain"
    if gain == "auto":
        if dev.hasGainMode(SOAPY_SDR_RX, 0):
            dev.setGainMode(SOAPY_SDR_RX, 0, True)
    else:
        if dev.hasGainMode(SOAPY_SDR_RX, 0):
            dev.setGainMode(SOAPY_SDR_RX, 0, False)
        dev.setGain(SOAPY_SDR_RX, 0, float(gain))
except Exception as e:
    fail("ERR_DEVICE_SETTING", "SoapySDR refused the %s: %s" % (step, e))

settings = {"event": "settings", "device": name_of(dev, args),
            "sample_rate": dev.getSampleRate(SOAPY_SDR_RX, 0),
            "frequency": dev.getFrequency(SOAPY_SDR_RX, 0)}
if gain != "auto":
    settings["gain"] = dev.getGain(SOAPY_SDR_RX, 0)
say(**settings)

stream = dev.setupStream(SOAPY_SDR_RX, SOAPY_SDR_CF32)
mtu = max(1024, min(1 << 16, dev.getStreamMTU(stream)))
buf = array("f", bytes(8 * mtu))
dev.activateStream(stream)
out = sys.stdout.buffer
got = 0
timeouts = 0
try:
    while got < n:
        want = min(mtu, n - got)
        sr = dev.readStream(stream, [buf], want)
        if sr.ret == SoapySDR.SOAPY_SDR_OVERFLOW:
            # samples were dropped between the previous read and the next one
            say(event="overflow", at=got)
            continue
        if sr.ret == SoapySDR.SOAPY_SDR_TIMEOUT:
            timeouts += 1
            if timeouts > 50:
                fail("ERR_CAPTURE_FAILED", "SoapySDR: readStream timed out repeatedly")
            continue
        if sr.ret < 0:
            fail("ERR_CAPTURE_FAILED", "SoapySDR: readStream error %d (%s)" % (sr.ret, SoapySDR.errToStr(sr.ret)))
        out.write(memoryview(buf)[: 2 * sr.ret].cast("B"))
        got += sr.ret
finally:
    out.flush()
    dev.deactivateStream(stream)
    dev.closeStream(stream)
`;
