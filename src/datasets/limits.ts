/**
 * Default limits of dataset generation, in a module of their own so that the CLI's option declarations
 * (`sdrlink provide`, `sdrlink dataset generate`) can show them without loading the datasets code.
 */

/** Default largest output file: 2 GiB. One default for every verb and for `startProvider`. */
export const DEFAULT_MAX_OUTPUT_BYTES = 2 * 1024 ** 3;
/** Default most FFT points per spectrum request (about a minute of work on a slow core). */
export const DEFAULT_MAX_FFT_POINTS = 2 ** 31;
