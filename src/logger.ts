import pino, { type Logger } from 'pino';
import { prettyLogStream } from './pretty-log-stream.js';

/**
 * Logs on stdout: JSON lines (`log.format: json`, for collectors), or lines for a person at a
 * terminal (`pretty`, pretty-log-stream.ts). Anything that could carry a secret is redacted at the
 * source, before either format: request headers are never serialised whole, and credential-looking
 * keys are censored wherever they appear.
 */
export function createLogger(level: string, format: 'json' | 'pretty' = 'json'): Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        '*.authorization',
        '*.password',
        '*.token',
        '*.secretAccessKey',
        'password',
        'token',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: { method: string; url: string; id: string; ip?: string }) => ({ id: req.id, method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  };
  return format === 'pretty' ? pino(options, prettyLogStream(process.stdout)) : pino(options);
}
