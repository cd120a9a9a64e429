/** `--ca` and `--pin`: how every verb that talks to a signaling server trusts an `https://` one. */
import { Option } from 'commander';

/** `--ca FILE`, for a verb that talks to the signaling server. */
export function caOption(): Option {
  return new Option(
    '--ca <file>',
    "trust this certificate or CA (PEM) for an https:// server, e.g. the server's <db>.cert.pem (env SDRLINK_CA; default: the stored login's, else the system's CAs)",
  );
}

/** `--pin SHA256`, for a verb that talks to the signaling server. */
export function pinOption(): Option {
  return new Option(
    '--pin <sha256>',
    "accept only the server certificate with this SHA-256 fingerprint, as sdrlink server --tls prints it (AB:CD:…), instead of CA checks (env SDRLINK_PIN; default: the stored login's)",
  );
}

/** The `--ca` / `--pin` values of parsed options. */
export function trustFlags(o: Record<string, unknown>): { ca?: string; pin?: string } {
  return {
    ...(typeof o['ca'] === 'string' ? { ca: o['ca'] } : {}),
    ...(typeof o['pin'] === 'string' ? { pin: o['pin'] } : {}),
  };
}
