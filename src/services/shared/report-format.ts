/**
 * The battery report file: JSON Lines (docs/services.md "The report file").
 *
 * Line 1 is a header record (`record: "header"`) naming the format and version, the request parameters, and
 * a schema of every field (name, JSON type, unit, source column). Then one `record: "battery"` line per
 * battery, ordered by battery id, then one `record: "summary"` line (count, by chemistry, total energy,
 * batteries whose product was not found). Keys are written in a fixed order and no clock is read, so the
 * same data and parameters give the same bytes.
 */

/** The request type the batteries service serves. */
export const BATTERY_REPORT_TYPE = 'battery-report';
/** `format` in the header record. */
export const BATTERY_REPORT_FORMAT = 'sdrlink.battery-report';
/** `version` in the header record. */
export const BATTERY_REPORT_VERSION = 1;
