/**
 * Small DOM helpers. Everything a file holds reaches the page through `textContent` (never `innerHTML`),
 * so a hostile string in a peer's metadata is shown as text.
 */

/** A new element with classes and, optionally, its text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className !== undefined) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Formats a number for a label: up to `digits` significant digits, no trailing zeros. */
export function fmt(x: number, digits = 6): string {
  if (!Number.isFinite(x)) return String(x);
  return Number(x.toPrecision(digits)).toString();
}

/** A value of the metadata as text: strings as they are, the rest as JSON. */
export function metaText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v) ?? String(v);
}
