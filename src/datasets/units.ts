/**
 * Units of power spectra (docs/datasets.md, "Units"). Our densities are dB relative to full scale per Hz:
 * 0 dBFS is the mean power of a full-scale complex tone (|x| = 1, i.e. I and Q each swinging ±1), so such a
 * tone integrates to 0 dB over frequency and peaks at `−10·log10(enbw_hz)` dBFS/Hz in a Welch spectrum.
 * A calibration offset (dB; what the receiver's full scale is in dBm) turns dBFS/Hz into dBm/Hz.
 */
import type { NumberRule } from './params.js';

/** The `calibration_db` parameter: dB added to dBFS to give dBm. */
export const CALIBRATION_RULE: NumberRule = { min: -300, max: 300, unit: 'dB' };

/** The units string of a spectrum or spectrogram: `dBFS/Hz`, or `dBm/Hz` with a calibration. */
export function unitsOf(calibrationDb: number | null | undefined): 'dBFS/Hz' | 'dBm/Hz' {
  return calibrationDb === null || calibrationDb === undefined ? 'dBFS/Hz' : 'dBm/Hz';
}
