// Progress output. Always stderr, so `--json` keeps stdout for the one JSON document.
// On a terminal: elapsed time and symbols in colour; under CI or a pipe: plain timestamped lines.

import type { Clock } from './clock.js';
import { realClock } from './clock.js';

export type Level = 'debug' | 'info' | 'ok' | 'warn' | 'fail';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  ok(msg: string): void;
  warn(msg: string): void;
  fail(msg: string): void;
  /** Same sink, lines tagged with a component name (concurrent deploys stay readable). */
  withPrefix(prefix: string): Logger;
}

export interface LoggerOptions {
  write?: (line: string) => void;
  verbose?: boolean;
  /** Terminal style (colour, elapsed). Defaults to stderr.isTTY && !CI. */
  tty?: boolean;
  clock?: Clock;
  prefix?: string;
  /** Strings that must never be printed (generated passwords); replaced by ***. */
  secrets?: SecretRegistry;
}

/** Everything the kit generates or reads that is secret registers here; every log line is scrubbed. */
export class SecretRegistry {
  private readonly values = new Set<string>();
  add(value: string | undefined): void {
    if (value && value.length >= 4) this.values.add(value);
  }
  scrub(text: string): string {
    let out = text;
    for (const v of this.values) out = out.split(v).join('***');
    // URLs with credentials: postgres://user:pw@host
    return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s]+:)[^@\s]+@/gi, '$1***@');
  }
}

const SYMBOL: Record<Level, string> = { debug: ' ', info: '•', ok: '✓', warn: '!', fail: '✗' };
const COLOUR: Record<Level, string> = { debug: '2', info: '0', ok: '32', warn: '33', fail: '31' };

export function createLogger(opts: LoggerOptions = {}): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const tty = opts.tty ?? (Boolean(process.stderr.isTTY) && !process.env.CI);
  const clock = opts.clock ?? realClock;
  const secrets = opts.secrets ?? new SecretRegistry();
  const started = clock.now();

  const emit = (level: Level, prefix: string | undefined, msg: string) => {
    if (level === 'debug' && !opts.verbose) return;
    const text = secrets.scrub(msg);
    const tag = prefix ? `[${prefix}] ` : '';
    for (const [i, raw] of text.split('\n').entries()) {
      const sym = i === 0 ? SYMBOL[level] : ' ';
      if (tty) {
        const elapsed = `+${((clock.now() - started) / 1000).toFixed(1)}s`.padStart(8);
        write(`\x1b[2m${elapsed}\x1b[0m ${tag}\x1b[${COLOUR[level]}m${sym} ${raw}\x1b[0m`);
      } else {
        const ts = new Date(clock.now()).toISOString().slice(11, 19);
        write(`${ts} ${tag}${sym} ${raw}`);
      }
    }
  };

  const make = (prefix?: string): Logger => ({
    debug: (m) => emit('debug', prefix, m),
    info: (m) => emit('info', prefix, m),
    ok: (m) => emit('ok', prefix, m),
    warn: (m) => emit('warn', prefix, m),
    fail: (m) => emit('fail', prefix, m),
    withPrefix: (p) => make(p),
  });
  return make(opts.prefix);
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(verbose = true): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ write: (l) => lines.push(l), tty: false, verbose, clock: { now: () => 0, sleep: async () => {} } });
  return Object.assign(logger, { lines });
}
