/**
 * The dataset's SigMF-style `meta` as tables: `global` (one row per key), `captures` and `annotations`
 * (one row per item, a column per key), then any other top-level member. Text only (`textContent`).
 */
import { el, metaText } from './dom.js';
import type { DatasetMeta } from './npz.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function keyValueTable(obj: Record<string, unknown>): HTMLTableElement {
  const table = el('table', 'sdv-meta-table');
  const body = table.createTBody();
  for (const [k, v] of Object.entries(obj)) {
    const row = body.insertRow();
    row.appendChild(el('th', undefined, k)).setAttribute('scope', 'row');
    row.appendChild(el('td', undefined, metaText(v)));
  }
  return table;
}

function listTable(items: unknown[]): HTMLTableElement {
  const table = el('table', 'sdv-meta-table');
  const keys: string[] = [];
  for (const item of items) {
    if (isObject(item)) for (const k of Object.keys(item)) if (!keys.includes(k)) keys.push(k);
  }
  const head = table.createTHead().insertRow();
  head.appendChild(el('th', undefined, '#'));
  for (const k of keys) head.appendChild(el('th', undefined, k)).setAttribute('scope', 'col');
  const body = table.createTBody();
  items.forEach((item, i) => {
    const row = body.insertRow();
    row.appendChild(el('td', undefined, String(i)));
    if (isObject(item)) for (const k of keys) row.appendChild(el('td', undefined, metaText(item[k])));
    else row.appendChild(el('td', undefined, metaText(item))).colSpan = Math.max(1, keys.length);
  });
  return table;
}

/** The section holding the metadata tables. */
export function metaSection(meta: DatasetMeta): HTMLElement {
  const section = el('section', 'sdv-meta');
  section.appendChild(el('h3', undefined, 'Metadata'));
  for (const [name, value] of Object.entries(meta)) {
    const block = el('div', 'sdv-meta-block');
    block.dataset['metaPart'] = name;
    const count = Array.isArray(value) ? ` (${value.length})` : '';
    block.appendChild(el('h4', undefined, `${name}${count}`));
    if (isObject(value)) block.appendChild(keyValueTable(value));
    else if (Array.isArray(value)) {
      block.appendChild(value.length === 0 ? el('p', 'sdv-note', 'none') : listTable(value));
    } else block.appendChild(el('p', undefined, metaText(value)));
    section.appendChild(block);
  }
  return section;
}
