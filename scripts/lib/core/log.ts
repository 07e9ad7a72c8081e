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
  /** Clears the terminal status line, if any (call once at the end). */
  close(): void;
}

export interface LoggerOptions {
  write?: (line: string) => void;
  verbose?: boolean;
  /** Only warnings and failures (--quiet). */
  quiet?: boolean;
  /** Terminal style (colour, elapsed). Defaults to stderr.isTTY && !CI. */
  tty?: boolean;
  clock?: Clock;
  prefix?: string;
  /** Strings that must never be printed (generated passwords); replaced by ***. */
  secrets?: SecretRegistry;
  /**
   * Raw terminal output. Given (with tty), the bottom line becomes a status line: total elapsed
   * time and what each component is doing, redrawn every second; log lines scroll above it.
   */
  statusLine?: (text: string) => void;
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
  const writeLine = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const tty = opts.tty ?? (Boolean(process.stderr.isTTY) && !process.env.CI);
  const clock = opts.clock ?? realClock;
  const secrets = opts.secrets ?? new SecretRegistry();
  const started = clock.now();

  const status = tty && opts.statusLine ? new StatusLine(opts.statusLine, clock, started) : undefined;
  const write = (line: string) => (status ? status.print(line) : writeLine(line));

  const emit = (level: Level, prefix: string | undefined, msg: string) => {
    status?.activity(prefix, level === 'debug' ? msg : msg.replace(/^\$ .*/, ''));
    if (level === 'debug' && !opts.verbose) return;
    if (opts.quiet && level !== 'warn' && level !== 'fail') return;
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
    close: () => status?.close(),
  });
  return make(opts.prefix);
}

/** The terminal's bottom line: "⏱ 1m05s  kafka: waiting for statefulset/kafka…  postgres: done". */
export class StatusLine {
  private readonly doing = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;
  private shown = false;
  constructor(
    private readonly out: (text: string) => void,
    private readonly clock: Clock,
    private readonly started: number,
    private readonly width = process.stderr.columns || 120,
  ) {
    this.timer = setInterval(() => this.draw(), 1000);
    this.timer.unref();
  }
  activity(prefix: string | undefined, msg: string): void {
    const text = msg.split('\n')[0]!.trim();
    if (text) this.doing.set(prefix ?? '', text);
  }
  print(line: string): void {
    this.out(`\r\x1b[2K${line}\n`);
    this.draw();
  }
  render(): string {
    const secs = Math.round((this.clock.now() - this.started) / 1000);
    const parts = [...this.doing].filter(([k]) => k).map(([k, v]) => `${k}: ${v}`);
    const text = `⏱ ${Math.floor(secs / 60)}m${String(secs % 60).padStart(2, '0')}s  ${parts.join('  |  ')}`;
    return text.length > this.width - 1 ? text.slice(0, this.width - 2) + '…' : text;
  }
  draw(): void {
    this.out(`\r\x1b[2K\x1b[7m${this.render()}\x1b[0m`);
    this.shown = true;
  }
  close(): void {
    clearInterval(this.timer);
    if (this.shown) this.out('\r\x1b[2K');
    this.shown = false;
  }
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(verbose = true): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ write: (l) => lines.push(l), tty: false, verbose, clock: { now: () => 0, sleep: async () => {} } });
  return Object.assign(logger, { lines });
}
