/**
 * Errors of live capture (docs/errors.md "Capture"). A device that is missing, busy, refuses a setting or
 * drops samples, and a request outside its range, each have a stable code the consumer receives as the
 * session's outcome; the provider keeps serving its other types.
 */

/** Every code the capture area fails with. */
export const CAPTURE_ERROR_CODES = [
  'ERR_DEVICE_MISSING',
  'ERR_DEVICE_BUSY',
  'ERR_DEVICE_SETTING',
  'ERR_DEVICE_RANGE',
  'ERR_CAPTURE_OVERRUN',
  'ERR_CAPTURE_FAILED',
  'ERR_SOURCE_CONFIG',
] as const;

/** A stable capture error code. */
export type CaptureErrorCode = (typeof CAPTURE_ERROR_CODES)[number];

export class CaptureError extends Error {
  override name = 'CaptureError';
  constructor(
    readonly code: CaptureErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
