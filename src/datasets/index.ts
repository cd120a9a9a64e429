/**
 * The datasets a provider serves: `spectrum` and `signal`, synthetic or from SigMF recordings
 * (docs/datasets.md). The provider looks a request type up with `registry.get(type)`, then calls
 * `validate(params)` (throws `DatasetError` with `ERR_PARAMS` / `ERR_TOO_LARGE` / `ERR_SOURCE`),
 * `estimateBytes`, `fileName` and `generate(params, tmpPath, { signal })`.
 *
 * @example
 * const registry = createDefaultDatasets({ recordingsDir: './recordings' });
 * const ds = registry.get('spectrum');
 * const p = ds.validate({ frequency_start: 100e6, frequency_end: 200e6, sample_rate: 1e6 });
 * await ds.generate(p, '/tmp/x.npz.part');
 */
import { createSignalDataset } from './signal.js';
import { createSpectrumDataset } from './spectrum.js';
import { createSpectrogramDataset } from './spectrogram.js';
import { createDatasetRegistry, type DatasetRegistry } from './types.js';

export * from './types.js';
export { listRecordings, scanRecordings, type RecordingInfo, type RecordingScan } from './sigmf.js';
export { createSignalDataset, type SignalParams } from './signal.js';
export { createSpectrumDataset, type SpectrumParams } from './spectrum.js';
export { createSpectrogramDataset, type SpectrogramParams } from './spectrogram.js';
export {
  SpectrogramBuilder,
  spectrogramRows,
  type SpectrogramConfig,
  type SpectrogramRow,
} from './spectrogram-core.js';
export {
  SIGMF_VERSION,
  SDRLINK_EXTENSION,
  sdrlinkExtensions,
  writeIqSigmf,
  iqSigmfBytes,
  buildSigmfMeta,
  type SigmfMetaInput,
  type SigmfCaptureInput,
  type SigmfAnnotationInput,
  type SigmfIqDescription,
} from './sigmf-out.js';
export { unitsOf, CALIBRATION_RULE } from './units.js';
export { signalMeta } from './signal.js';
export { NpzWriter, NpzEntryWriter, npzArchiveBytes } from './npz-writer.js';

import { DEFAULT_MAX_FFT_POINTS, DEFAULT_MAX_OUTPUT_BYTES } from './limits.js';
export { DEFAULT_MAX_FFT_POINTS, DEFAULT_MAX_OUTPUT_BYTES } from './limits.js';

/** Options of {@link createDefaultDatasets}. */
export interface DefaultDatasetsOptions {
  /** Folder of SigMF recordings (`*.sigmf-meta` + `*.sigmf-data`) served through the `recording` parameter. */
  recordingsDir?: string;
  /** Largest output file in bytes (default {@link DEFAULT_MAX_OUTPUT_BYTES}); larger requests get `ERR_TOO_LARGE`. */
  maxOutputBytes?: number;
  /** Most FFT points a spectrum may compute (default {@link DEFAULT_MAX_FFT_POINTS}). */
  maxFftPoints?: number;
  /** The receiver's calibration (dB from dBFS to dBm) for spectra and spectrograms without `calibration_db`. */
  calibrationDb?: number;
}

/** The registry of `spectrum`, `signal` and `spectrogram`. */
export function createDefaultDatasets(opts: DefaultDatasetsOptions = {}): DatasetRegistry {
  const maxOutputBytes = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const maxFftPoints = opts.maxFftPoints ?? DEFAULT_MAX_FFT_POINTS;
  if (!(maxOutputBytes > 0) || !(maxFftPoints > 0)) throw new RangeError('datasets: limits must be positive');
  const common = opts.recordingsDir === undefined ? {} : { recordingsDir: opts.recordingsDir };
  const cal = opts.calibrationDb === undefined ? {} : { calibrationDb: opts.calibrationDb };
  return createDatasetRegistry([
    createSpectrumDataset({ ...common, ...cal, maxOutputBytes, maxFftPoints }),
    createSignalDataset({ ...common, maxOutputBytes }),
    createSpectrogramDataset({ ...common, ...cal, maxOutputBytes, maxFftPoints }),
  ]);
}
