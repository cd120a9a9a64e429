/**
 * Placeholder for the data viewer (src/web/view/, built separately): the page calls {@link showDataset}
 * once a file is verified. This stand-in only says it is not built; the real module replaces this file.
 */
/** Renders a verified dataset file (npz: spectrum / signal / spectrogram) into `root`: plots + meta table. */
export function showDataset(root: HTMLElement, fileName: string, bytes: Uint8Array): void {
  const p = document.createElement('p');
  p.textContent = `viewer not built (${fileName}, ${bytes.length} bytes)`;
  root.replaceChildren(p);
}
