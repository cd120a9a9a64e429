/**
 * The services' `--tls`: the platform's self-signed certificate (src/http/tls.ts), failing with the
 * services' start-up code `ERR_TLS`.
 */
import { ensureSelfSignedCert as ensureCert, type TlsMaterial } from '../../http/tls.js';
import { ServiceError } from './errors.js';

export type { TlsMaterial };

/**
 * The certificate kept at `<base>.cert.pem` / `<base>.key.pem`, generated first if absent; throws
 * `ServiceError('ERR_TLS')` when it cannot be made or read.
 */
export function ensureSelfSignedCert(base: string, hosts: readonly string[] = []): Promise<TlsMaterial> {
  return ensureCert(base, hosts, (message, cause) => new ServiceError('ERR_TLS', message, { cause }));
}
