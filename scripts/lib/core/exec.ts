// The one way the kit runs a program: argument arrays (never built strings), a timeout on every
// call, stdout and stderr captured, a pasteable log line with secrets masked, typed errors.

import { $ } from 'zx/core';
import { CommandError, EnvironmentError } from './errors.js';
import type { Logger, SecretRegistry } from './log.js';

export interface ExecOptions {
  /** Hard limit for this call. Default 60 s. */
  timeoutMs?: number;
  /** Written to stdin (manifests, SQL): never logged. */
  input?: string;
  /** Extra environment: the way to hand a secret to a child without putting it in argv. */
  env?: Record<string, string>;
  /** Return the result on a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  /** Polls and reads log at debug level; changes log at info. */
  quiet?: boolean;
}

export interface ExecResult {
  command: string;
  stdout: string;
  stderr: string;
  /** null when killed by the timeout */
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
}

export type Exec = (cmd: string, args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

export const DEFAULT_TIMEOUT_MS = 60_000;
const STDERR_TAIL_LINES = 15;

const SAFE = /^[A-Za-z0-9_\-+=/.,:@%^]+$/;
export function shellQuote(arg: string): string {
  if (arg === '') return "''";
  return SAFE.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command as a user could paste it into a shell, secrets masked. */
export function formatCommand(cmd: string, args: readonly string[], secrets?: SecretRegistry): string {
  const line = [cmd, ...args].map(shellQuote).join(' ');
  return secrets ? secrets.scrub(line) : line;
}

export function tail(text: string, lines = STDERR_TAIL_LINES): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/** `baseEnv`: set for every child (--kubeconfig's KUBECONFIG). */
export function createExec(log: Logger, secrets?: SecretRegistry, baseEnv: Record<string, string> = {}): Exec {
  return async (cmd, args, opts = {}) => {
    const command = formatCommand(cmd, args, secrets);
    (opts.quiet ? log.debug : log.info)(`$ ${command}`);
    const started = Date.now();
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const running = $({
      nothrow: true,
      quiet: true,
      timeout: timeoutMs,
      input: opts.input,
      env: { ...process.env, ...baseEnv, ...opts.env },
    })`${cmd} ${args}`;
    // Decoded once, whole: zx decodes each chunk on its own, which turns a UTF-8 character split across two chunks
    // into two U+FFFD (seen: a pg_dumpall with 'é' came back different, at random places).
    const out: Buffer[] = [];
    running.stdout.on('data', (chunk: Buffer | string) => out.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)));
    const p = await running;
    const result: ExecResult = {
      command,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: secrets ? secrets.scrub(p.stderr) : p.stderr,
      exitCode: p.exitCode,
      timedOut: p.exitCode === null,
      durationMs: Date.now() - started,
    };
    return check(result, opts);
  };
}

/** Shared by the real exec and the fakes in tests, so both fail the same way. */
export function check(result: ExecResult, opts: ExecOptions = {}): ExecResult {
  if (result.exitCode === 127 && /command not found|not found/.test(result.stderr)) {
    const tool = result.command.split(' ')[0];
    throw new EnvironmentError(`${tool} is not installed or not on PATH`, {
      fix: `install ${tool} (see README.md#prerequisites) and re-run`,
      docs: 'missing-tools',
    });
  }
  if (result.exitCode !== 0 && !opts.allowFailure) {
    throw new CommandError({
      command: result.command,
      code: result.exitCode,
      stderrTail: tail(result.stderr || result.stdout),
      timedOut: result.timedOut,
    });
  }
  return result;
}
