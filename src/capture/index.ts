/**
 * Live capture from a receiver attached to the provider's machine (docs/datasets.md "Live capture"):
 * sources (`rtlsdr`, `soapy`, `command:`), the device's line, and the live `signal` / `spectrum` datasets.
 */
export { CAPTURE_ERROR_CODES, CaptureError, type CaptureErrorCode } from './errors.js';
export { createLiveDatasets, type LiveOptions } from './live.js';
export { DeviceQueue } from './queue.js';
export {
  createSource,
  formatRanges,
  probeSoapy,
  RTLSDR_RANGES,
  type CaptureSource,
  type SourceOptions,
} from './sources.js';
export type { SampleFormat } from './process-capture.js';
