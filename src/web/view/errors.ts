/**
 * The data viewer's errors (docs/errors.md, "Data viewer"): one class, one registry of stable codes.
 * A file the viewer cannot read is refused with one of these, never half drawn.
 */

/** Every code the viewer reports. */
export const VIEW_ERROR_CODES = [
  'ERR_VIEW_ZIP',
  'ERR_VIEW_TAR',
  'ERR_VIEW_NPY',
  'ERR_VIEW_DTYPE',
  'ERR_VIEW_DATASET',
] as const;

/** A code of {@link VIEW_ERROR_CODES}. */
export type ViewErrorCode = (typeof VIEW_ERROR_CODES)[number];

/** A file the viewer cannot read or show: a stable `code` and a message naming what is wrong. */
export class ViewError extends Error {
  override name = 'ViewError';
  constructor(
    readonly code: ViewErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
