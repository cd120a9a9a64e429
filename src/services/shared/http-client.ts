/**
 * A small JSON GET over http/https (node:http), used by the batteries service to read the products
 * service. Not `fetch`: Node's fetch cannot trust an extra CA (the products service's self-signed
 * certificate under `--tls`) without reaching into undici.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Options of `getJson`. */
export interface GetJsonOptions {
  /** Extra trusted CA certificate(s), PEM (e.g. the products service's self-signed certificate). */
  ca?: string | Buffer;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Largest body accepted (default 8 MiB). */
  maxBytes?: number;
}

/** GETs `url` and parses the JSON body; rejects with a plain Error naming the URL on any failure. */
export function getJson(url: URL, opts: GetJsonOptions = {}): Promise<{ status: number; body: unknown }> {
  const maxBytes = opts.maxBytes ?? 8 * 1024 * 1024;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const options = {
      method: 'GET',
      headers: { accept: 'application/json' },
      timeout: timeoutMs,
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
    };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          req.destroy(new Error(`GET ${url.href}: answer larger than ${maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
        } catch {
          reject(new Error(`GET ${url.href}: HTTP ${res.statusCode ?? 0}, answer is not JSON`));
        }
      });
      res.on('error', (err) => reject(new Error(`GET ${url.href}: ${err.message}`, { cause: err })));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url.href}: no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new Error(`GET ${url.href}: ${err.message}`, { cause: err })));
    req.end();
  });
}
