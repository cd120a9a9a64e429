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
 * Returns `name` when it is a safe base name: not empty, not `.` or `..`, no `/` or `\`, no control
 * characters (C0, DEL, C1), at most {@link MAX_FILE_NAME_BYTES} UTF-8 bytes.
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
  if (utf8Length(name) > MAX_FILE_NAME_BYTES) {
    throw new TransferError('ERR_FILENAME', `file name is longer than ${MAX_FILE_NAME_BYTES} bytes`);
  }
  return name;
}
