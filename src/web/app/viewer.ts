/** The page's one door to the data viewer (src/web/view/): shows a verified file. */
import { showDataset } from '../view/index.js';

/** Shows `bytes` (a verified `.npz`) in `root`; a viewer failure is shown there, never thrown on. */
export function viewDataset(root: HTMLElement, fileName: string, bytes: Uint8Array): void {
  try {
    showDataset(root, fileName, bytes);
  } catch (err) {
    const p = document.createElement('p');
    p.className = 'error';
    p.textContent = `cannot show ${fileName}: ${err instanceof Error ? err.message : String(err)}`;
    root.replaceChildren(p);
  }
}
