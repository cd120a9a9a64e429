/**
 * Reading what a page drew: a canvas's pixels with its plot area (uPlot's `.u-over`, or the viewer's own
 * `data-plot-*`), the colours of the viewer's series, the top of a drawn line per column, and the x range a
 * plot shows (`data-x-min`/`data-x-max`). Used by the Chromium tests of the data viewer and the page.
 *
 * @example
 * const p = await pixels(page, '.sdv-spectrum');
 * const peakX = topOfLine(p).indexOf(Math.min(...topOfLine(p)));
 */
import type { Page } from 'playwright-core';

/** The few DOM shapes the page-side functions use (tests compile without the DOM library). */
export interface PageRect {
  left: number;
  top: number;
  width: number;
  height: number;
}
export interface PageElement {
  dataset: Record<string, string | undefined>;
  width: number;
  height: number;
  textContent: string | null;
  querySelector(selector: string): PageElement | null;
  getBoundingClientRect(): PageRect;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8Array };
  };
  appendChild(child: PageElement): void;
}
export interface PageWindow {
  btoa(binary: string): string;
  document: {
    head: PageElement;
    querySelector(selector: string): PageElement | null;
    createElement(tag: string): PageElement;
  };
}

/** A canvas's pixels and where the plot area lies in them. */
export interface Pixels {
  width: number;
  height: number;
  data: Uint8Array;
  /** Plot area in canvas pixels. */
  box: { left: number; top: number; width: number; height: number };
}

/** Reads the pixels of the canvas under `selector`; the plot area is uPlot's `.u-over` or the canvas's own data. */
export async function pixels(page: Page, selector: string): Promise<Pixels> {
  const raw = await page.evaluate((sel) => {
    const { document, btoa } = globalThis as unknown as PageWindow;
    const wrap = document.querySelector(sel) as PageElement;
    const c = wrap.querySelector('canvas') as PageElement;
    const ctx = c.getContext('2d');
    const rect = c.getBoundingClientRect();
    const sx = c.width / rect.width;
    const sy = c.height / rect.height;
    const over = wrap.querySelector('.u-over');
    let box;
    if (over !== null) {
      const o = over.getBoundingClientRect();
      box = {
        left: (o.left - rect.left) * sx,
        top: (o.top - rect.top) * sy,
        width: o.width * sx,
        height: o.height * sy,
      };
    } else {
      const d = c.dataset;
      box = {
        left: Number(d['plotLeft'] ?? 0),
        top: Number(d['plotTop'] ?? 0),
        width: Number(d['plotWidth'] ?? c.width),
        height: Number(d['plotHeight'] ?? c.height),
      };
    }
    const bytes = ctx.getImageData(0, 0, c.width, c.height).data;
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000)
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return {
      width: c.width,
      height: c.height,
      // As base64: Playwright serializes a plain array element by element, which is slow for megapixels.
      data: btoa(binary),
      box,
    };
  }, selector);
  return { ...raw, data: new Uint8Array(Buffer.from(raw.data, 'base64')) };
}

export const isBlue = (p: Pixels, x: number, y: number): boolean => {
  const i = (y * p.width + x) * 4;
  const [r, g, b, a] = [
    p.data[i] as number,
    p.data[i + 1] as number,
    p.data[i + 2] as number,
    p.data[i + 3] as number,
  ];
  return a > 100 && b > 120 && b - r > 50 && b - g > 20;
};
export const isOrange = (p: Pixels, x: number, y: number): boolean => {
  const i = (y * p.width + x) * 4;
  return (
    (p.data[i + 3] as number) > 100 &&
    (p.data[i] as number) > 200 &&
    (p.data[i + 2] as number) < 120 &&
    (p.data[i + 1] as number) > 80
  );
};

/** For each column of the plot area, the row of its topmost blue pixel (Infinity when none). */
export function topOfLine(p: Pixels): number[] {
  const out: number[] = [];
  const x0 = Math.ceil(p.box.left);
  for (let x = x0; x < Math.floor(p.box.left + p.box.width); x++) {
    let top = Infinity;
    for (let y = Math.ceil(p.box.top); y < Math.floor(p.box.top + p.box.height); y++) {
      if (isBlue(p, x, y)) {
        top = y;
        break;
      }
    }
    out.push(top);
  }
  return out;
}

/** The canvas x (plot-area pixels from its left) of value `v` on a plot whose x scale is [min, max]. */
export const xAt = (p: Pixels, v: number, min: number, max: number): number =>
  ((v - min) / (max - min)) * p.box.width;

export async function xRange(page: Page, selector: string): Promise<[number, number]> {
  return page.evaluate((sel) => {
    const { document } = globalThis as unknown as PageWindow;
    const d = (document.querySelector(sel) as PageElement).dataset;
    return [Number(d['xMin']), Number(d['xMax'])] as [number, number];
  }, selector);
}
