// Typed failures. Entry points map them to exit codes; nothing else calls process.exit.

export const ExitCode = {
  ok: 0,
  /** a deploy step or a check failed, budget exceeded included */
  failed: 1,
  /** bad usage: unknown flag, bad value */
  usage: 2,
  /** environment not ready: missing tool, cluster unreachable, not enough resources */
  environment: 3,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface KitErrorDetails {
  /** What to do about it: a command to paste when there is one. */
  fix?: string;
  /** Anchor in docs/troubleshooting.md, e.g. "no-default-storageclass". */
  docs?: string;
  cause?: unknown;
}

/** A failure we expected and can explain: printed as message + fix, never as a stack trace. */
export class KitError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly fix?: string;
  readonly docs?: string;
  constructor(message: string, exitCode: ExitCodeValue, details: KitErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.fix = details.fix;
    this.docs = details.docs;
  }
}

export class UsageError extends KitError {
  constructor(message: string, details?: KitErrorDetails) {
    super(message, ExitCode.usage, details);
  }
}

export class EnvironmentError extends KitError {
  constructor(message: string, details?: KitErrorDetails) {
    super(message, ExitCode.environment, details);
  }
}

export class StepError extends KitError {
  constructor(message: string, details?: KitErrorDetails) {
    super(message, ExitCode.failed, details);
  }
}

/** A wait ran out of time; `lastState` names what was last seen. */
export class DeadlineError extends StepError {
  readonly lastState: string;
  constructor(message: string, lastState: string, details?: KitErrorDetails) {
    super(message, details);
    this.lastState = lastState;
  }
}

/** A command exited non-zero, timed out or could not start. Keeps what is needed to debug it. */
export class CommandError extends StepError {
  readonly command: string;
  readonly code: number | null;
  readonly stderrTail: string;
  readonly timedOut: boolean;
  constructor(init: { command: string; code: number | null; stderrTail: string; timedOut: boolean }, details?: KitErrorDetails) {
    const why = init.timedOut ? 'timed out' : init.code === 127 ? 'not found' : `exited with code ${init.code}`;
    super(`command ${why}: ${init.command}${init.stderrTail ? `\n${indent(init.stderrTail)}` : ''}`, details);
    this.command = init.command;
    this.code = init.code;
    this.stderrTail = init.stderrTail;
    this.timedOut = init.timedOut;
  }
}

export const DOCS_TROUBLESHOOTING = 'docs/troubleshooting.md';

export function docsLink(anchor: string): string {
  return `${DOCS_TROUBLESHOOTING}#${anchor}`;
}

export function indent(text: string, prefix = '    '): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
