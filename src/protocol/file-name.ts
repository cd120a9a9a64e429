/**
 * The file-name rule of docs/protocol.md §5 (`ERR_FILENAME`). A receiver joins the sender's `filename`
 * to its own folder, so the name must be a plain base name (the seed's Go receiver joined it unchecked:
 * path traversal, DESIGN.md "Known traps in the seed code").
 */
import { utf8Length } from './codec.js';
import { TransferError } from './errors.js';

/** The longest accepted file name, in UTF-8 bytes (the usual file-system limit). */
export const MAX_FILE_NAME_BYTES = 255;

/**
 * Characters a file name may not hold because they are invisible or change how the name is shown:
 * format characters (`Cf`: the bidirectional overrides and isolates U+202A–U+202E, U+2066–U+2069, the
 * marks U+200E/U+200F/U+061C, zero-width space, joiners, U+2060, the byte-order mark, the soft hyphen…),
 * line and paragraph separators (`Zl`, `Zp`), spaces other than U+0020 (`Zs`: no-break, ideographic, …),
 * private-use characters (`Co`), lone surrogates (`Cs`: no UTF-8 form) and the Hangul fillers, which
 * render as nothing. `evil\u202Egpj.exe` would otherwise show as `evilexe.jpg`.
 */
const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cs}\u115f\u1160\u3164\uffa0]|(?! )\p{Zs}/u;

/**
 * Returns `name` when it is a safe base name: not empty, not `.` or `..`, no `/` or `\`, no control
 * characters (C0, DEL, C1), no invisible or bidirectional-override characters ({@link INVISIBLE}), at most
 * {@link MAX_FILE_NAME_BYTES} UTF-8 bytes.
 *
 * @throws TransferError ERR_FILENAME, naming the rule that failed.
 */
export function checkFileName(name: string): string {
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
  if (name.length === 0) throw new TransferError('ERR_FILENAME', 'file name is empty');
  if (name === '.' || name === '..')
    throw new TransferError('ERR_FILENAME', `file name ${shown} is not a file`);
  if (/[/\\]/.test(name))
    throw new TransferError('ERR_FILENAME', `file name ${shown} contains a path separator`);
  // eslint-disable-next-line no-control-regex -- the point is to find control characters
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) {
    throw new TransferError('ERR_FILENAME', `file name ${shown} contains a control character`);
  }
  const invisible = INVISIBLE.exec(name);
  if (invisible !== null) {
    const cp = (invisible[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0');
    throw new TransferError(
      'ERR_FILENAME',
      `file name ${shown} contains an invisible or bidirectional-control character (U+${cp})`,
    );
  }
  if (utf8Length(name) > MAX_FILE_NAME_BYTES) {
    throw new TransferError('ERR_FILENAME', `file name is longer than ${MAX_FILE_NAME_BYTES} bytes`);
  }
  return name;
}
