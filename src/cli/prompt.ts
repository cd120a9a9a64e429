/** Reading a line, or a secret, from the terminal or stdin (`sdrlink login`). */

/** Reads one line from stdin, whatever it is (a pipe, a file, a terminal). */
function firstStdinLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const stdin = process.stdin;
    stdin.setEncoding('utf8');
    const done = () => {
      stdin.off('data', onData);
      stdin.off('end', done);
      stdin.off('error', onError);
      stdin.pause();
      resolve((buf.split('\n')[0] ?? '').replace(/\r$/, ''));
    };
    const onData = (chunk: string) => {
      buf += chunk;
      if (buf.includes('\n')) done();
    };
    const onError = (err: Error) => reject(err);
    stdin.on('data', onData);
    stdin.on('end', done);
    stdin.on('error', onError);
    stdin.resume();
  });
}

/** Asks a question on stderr and reads the answer from the terminal (echoed). */
export async function promptLine(question: string): Promise<string> {
  process.stderr.write(question);
  return (await firstStdinLine()).trim();
}

/**
 * Reads a secret: the first line of stdin (`fromStdin`), or typed at the terminal without echo (raw mode:
 * nothing typed is shown; Backspace edits, Enter ends, Ctrl-C or Ctrl-D aborts).
 */
export function readSecretLine(o: { fromStdin: boolean; prompt?: string }): Promise<string> {
  if (o.fromStdin || process.stdin.isTTY !== true) return firstStdinLine();
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let secret = '';
    // Echo off before the prompt shows: what is typed (or pasted) as soon as it appears is never echoed.
    stdin.setRawMode(true);
    process.stderr.write(o.prompt ?? 'password: ');
    stdin.setEncoding('utf8');
    const finish = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.off('data', onData);
      stdin.pause();
      process.stderr.write('\n');
      if (err !== undefined) reject(err);
      else resolve(secret);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') secret = secret.slice(0, -1);
        else if (ch >= ' ') secret += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}
