/**
 * The signaling server's STUN responder (docs/api.md §4): a UDP socket that answers Binding requests with
 * the address it saw, so agents behind ordinary NATs learn their server-reflexive candidates without any
 * third-party STUN server. Stateless: one datagram in, at most one out, never larger than the request
 * plus 44 bytes for IPv6, and only toward the datagram's own source.
 */
import { createSocket, type Socket } from 'node:dgram';
import { answerBinding } from './codec.js';

export interface StunResponder {
  readonly port: number;
  /** Binding requests answered (success or 420). */
  readonly answered: number;
  close(): Promise<void>;
}

/** Binds `host:port` (UDP; 0 = any free port) and answers there until closed. */
export function startStunResponder(host: string, port: number): Promise<StunResponder> {
  const v6 = host.includes(':');
  const socket: Socket = createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: false });
  let answered = 0;
  socket.on('message', (msg, rinfo) => {
    const reply = answerBinding(msg, rinfo.address, rinfo.port);
    if (reply === undefined) return;
    answered++;
    socket.send(reply, rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(port, host === '' ? undefined : host, () => {
      socket.off('error', onError);
      // A send to an unreachable source must not bring the server down.
      socket.on('error', () => undefined);
      resolve({
        port: socket.address().port,
        get answered() {
          return answered;
        },
        close: () => new Promise<void>((r) => socket.close(() => r())),
      });
    });
  });
}
