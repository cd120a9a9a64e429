/**
 * The dataset interface: one module per request type (`spectrum`, `signal`, `battery-report`, …).
 * A provider turns a session's `request_type` + `parameters` into a file through it.
 *
 * Contract:
 * - `validate` is cheap and runs before any work; it throws `DatasetError('ERR_PARAMS', …)` with a
 *   message naming the parameter (e.g. `parameters.duration: must be a positive number, got -1`).
 * - `generate` is deterministic: the same validated parameters give the same bytes (a provider relies on
 *   this for resume, docs/protocol.md §4). Randomness comes from a seeded PRNG (`seed` parameter, default
 *   fixed); timestamps in metadata come from the parameters or are fixed, never from the clock.
 * - `generate` writes to `path` (a temporary path the caller later renames) with bounded memory, and stops
 *   with `DatasetError('ERR_ABORTED')` when `signal` aborts.
 */
export interface Dataset<P = unknown> {
  /** The request type this module serves, as in the session's `request_type`. */
  readonly type: string;
  /** One line for `--help` and listings. */
  readonly description: string;
  /** Checks and normalises raw parameters (already JSON-parsed). Throws DatasetError('ERR_PARAMS'). */
  validate(params: unknown): P;
  /** A safe base name for the produced file, e.g. `spectrum_100000000_200000000_1000000.npz`. */
  fileName(params: P): string;
  /** Upper bound of the output size in bytes, checked against the provider's limit before generating. */
  estimateBytes(params: P): number;
  /** Writes the file. */
  generate(params: P, path: string, options?: GenerateOptions): Promise<GenerateResult>;
  /**
   * The parameters this type takes, for the provider's catalog (docs/api.md §12), derived from the rules
   * `validate` applies. A module without it is announced with no parameter list (the server then leaves
   * the parameters to the provider).
   */
  describe?(): DatasetDescription;
  /**
   * True when these parameters are served from a live source (a receiver): the bytes differ on every
   * capture, so the provider's cache must never serve the file again; it keeps it only while the session
   * that asked for it holds it (a resume within that session gets the same file).
   */
  isLive?(params: P): boolean;
}

/** A parameter as a catalog describes it (the field names are the wire's, docs/api.md §12). */
export interface ParamDescription {
  name: string;
  type: 'number' | 'integer' | 'string' | 'boolean';
  unit?: string;
  /** Inclusive lower bound. */
  minimum?: number;
  /** Exclusive lower bound. */
  exclusive_minimum?: number;
  /** Inclusive upper bound. */
  maximum?: number;
  default?: number | string | boolean;
  required: boolean;
  enum?: string[];
  description?: string;
}

/** What a request type takes. */
export interface DatasetDescription {
  type: string;
  description: string;
  parameters: ParamDescription[];
}

export interface GenerateOptions {
  signal?: AbortSignal;
  /** Called now and then with bytes written so far. */
  onProgress?: (bytesWritten: number) => void;
  /**
   * Live sources only: the request waits for a device another capture holds; `position` is its place in
   * line (1: next), then `0` once the device is granted.
   */
  onQueued?: (position: number) => void;
}

export interface GenerateResult {
  bytes: number;
}

/** Every code a dataset module fails with (docs/errors.md "Datasets"). */
export const DATASET_ERROR_CODES = [
  'ERR_PARAMS',
  'ERR_REQUEST_TYPE',
  'ERR_TOO_LARGE',
  'ERR_SOURCE',
  'ERR_ABORTED',
] as const;

/** A stable dataset error code. */
export type DatasetErrorCode = (typeof DATASET_ERROR_CODES)[number];

export class DatasetError extends Error {
  override name = 'DatasetError';
  constructor(
    readonly code: DatasetErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The request types a provider serves, by name. */
export interface DatasetRegistry {
  get(type: string): Dataset | undefined;
  types(): string[];
}

/** Builds a registry from modules; a duplicate type is a programmer error. */
export function createDatasetRegistry(modules: readonly Dataset[]): DatasetRegistry {
  const byType = new Map<string, Dataset>();
  for (const m of modules) {
    if (byType.has(m.type)) throw new Error(`duplicate dataset type: ${m.type}`);
    byType.set(m.type, m);
  }
  return {
    get: (type) => byType.get(type),
    types: () => [...byType.keys()],
  };
}
