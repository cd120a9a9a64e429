/**
 * A request form built from a request type's parameter schema (docs/api.md §12, `CatalogParam`): one
 * field per parameter — a select for an `enum`, for `boolean`, and for a `recording` parameter when the
 * provider has recordings; a number or text input otherwise, with its unit, bounds and default shown. The
 * values are checked before anything is sent, with the wire's own rule (`paramMismatch`, the one the
 * server routes with), and each refusal is shown beside its field.
 */
import {
  paramMismatch,
  type CatalogParam,
  type CatalogRecording,
  type CatalogType,
} from '../../wire/index.js';
import { h } from './dom.js';

export interface RequestForm {
  form: HTMLFormElement;
  /** The parameters, checked; `undefined` (and the errors shown) when a field is wrong. */
  read(): Record<string, unknown> | undefined;
}

interface Field {
  param: CatalogParam;
  input: HTMLInputElement | HTMLSelectElement;
  error: HTMLElement;
}

/** Builds the form of `type` (a provider's catalog entry). `free` (no catalog): one JSON field. */
export function buildRequestForm(type: CatalogType, recordings: readonly CatalogRecording[]): RequestForm {
  const form = h('form', { class: 'request-form', 'data-type': type.type, novalidate: true });
  const fields: Field[] = [];
  if (type.parameters.length === 0) return freeForm(form);
  for (const param of type.parameters) {
    const id = `param-${type.type}-${param.name}`;
    const input = inputFor(param, recordings, id);
    const error = h('span', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' });
    const hint = hintOf(param);
    form.append(
      h(
        'div',
        { class: 'field' },
        h('label', { for: id }, param.name, param.required ? ' *' : ''),
        input,
        hint === '' ? null : h('span', { class: 'hint' }, hint),
        error,
      ),
    );
    fields.push({ param, input, error });
  }
  return {
    form,
    read() {
      const out: Record<string, unknown> = {};
      let ok = true;
      for (const f of fields) {
        const { value, error } = readField(f);
        f.error.textContent = error ?? '';
        f.input.setAttribute('aria-invalid', error === undefined ? 'false' : 'true');
        if (error !== undefined) ok = false;
        else if (value !== undefined) out[f.param.name] = value;
      }
      return ok ? out : undefined;
    },
  };
}

/** A provider without a catalog (a seed Type1): the parameters as one JSON object. */
function freeForm(form: HTMLFormElement): RequestForm {
  const id = `param-${form.dataset['type'] ?? 'x'}-json`;
  const input = h('textarea', { id, rows: 3, spellcheck: 'false' }, '{}');
  const error = h('span', { class: 'field-error', id: `${id}-error` });
  form.append(
    h('div', { class: 'field' }, h('label', { for: id }, 'parameters (JSON object)'), input, error),
  );
  return {
    form,
    read() {
      try {
        const v: unknown = JSON.parse(input.value);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('must be a JSON object');
        error.textContent = '';
        return v as Record<string, unknown>;
      } catch (err) {
        error.textContent = (err as Error).message;
        return undefined;
      }
    },
  };
}

function inputFor(
  p: CatalogParam,
  recordings: readonly CatalogRecording[],
  id: string,
): HTMLInputElement | HTMLSelectElement {
  const choices =
    p.enum ??
    (p.type === 'boolean'
      ? ['true', 'false']
      : p.name === 'recording' && recordings.length > 0
        ? recordings.map((r) => r.name)
        : undefined);
  if (choices !== undefined) {
    const select = h('select', { id, name: p.name });
    if (!p.required)
      select.append(
        h('option', { value: '' }, p.default === undefined ? '(default)' : `(default: ${String(p.default)})`),
      );
    for (const c of choices) select.append(h('option', { value: c }, c));
    return select;
  }
  const numeric = p.type === 'number' || p.type === 'integer';
  return h('input', {
    id,
    name: p.name,
    type: 'text',
    inputmode: numeric ? (p.type === 'integer' ? 'numeric' : 'decimal') : undefined,
    placeholder: p.default === undefined ? (p.required ? 'required' : '') : String(p.default),
    autocomplete: 'off',
  });
}

function hintOf(p: CatalogParam): string {
  const parts: string[] = [];
  if (p.unit !== undefined) parts.push(p.unit);
  const lo =
    p.minimum !== undefined
      ? `≥ ${p.minimum}`
      : p.exclusive_minimum !== undefined
        ? `> ${p.exclusive_minimum}`
        : '';
  const hi = p.maximum !== undefined ? `≤ ${p.maximum}` : '';
  if (lo !== '' || hi !== '') parts.push([lo, hi].filter((x) => x !== '').join(', '));
  if (p.type === 'integer') parts.push('integer');
  if (p.description !== undefined) parts.push(p.description);
  return parts.join(' · ');
}

function readField(f: Field): { value?: unknown; error?: string } {
  const text = f.input.value.trim();
  const p = f.param;
  if (text === '') return p.required ? { error: 'required' } : {};
  let value: unknown = text;
  if (p.type === 'number' || p.type === 'integer') {
    value = Number(text);
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return { error: `must be a ${p.type}` };
  } else if (p.type === 'boolean') value = text === 'true';
  const why = paramMismatch(p, value);
  return why === null ? { value } : { error: why };
}
