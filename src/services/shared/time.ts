/**
 * Timestamps as the services store and show them.
 */

/** The current time as stored in `created_at` / `updated_at` (ISO-8601, UTC, milliseconds). */
export function nowIso(): string {
  return new Date().toISOString();
}
