/**
 * Fastify logging (pino JSON) for every sdrlink HTTP API.
 */
import { LogController, type FastifyServerOptions } from 'fastify';
import type { Writable } from 'node:stream';

/** Where and how much an HTTP API logs. */
export interface HttpLogOptions {
  /** pino level: `fatal` … `trace`, or `silent`. */
  level: string;
  /** Where pino writes (default stdout). */
  stream?: Writable;
  /**
   * Log every request ("incoming request", "request completed") with a per-request child logger. Off, a
   * request costs no log work at all: at the signaling server's rates both show in profiles, and it logs
   * domain events carrying session and user ids instead.
   */
  requests: boolean;
}

/** Fastify's logging options for {@link HttpLogOptions}; no logger at all when `log` is undefined. */
export function httpLogging(
  log: HttpLogOptions | undefined,
): Pick<FastifyServerOptions, 'logger' | 'logController' | 'childLoggerFactory'> {
  if (log === undefined) return { logger: false };
  const logger = { level: log.level, ...(log.stream !== undefined ? { stream: log.stream } : {}) };
  if (log.requests) return { logger };
  return {
    logger,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (parent) => parent,
  };
}
