// The one entry-point runner: flags -> config -> context -> steps -> report -> exit code.
// Only here is the process touched (argv, signals, exit code); everything below is testable.

import { realClock, type Clock } from '../core/clock.js';
import { readVersions, kitPackage } from '../core/repo.js';
import { buildConfig, COMMON_FLAGS, YES_FLAG, type KitConfig } from '../core/config.js';
import { createCtx } from '../run/context.js';
import { ExitCode, KitError, docsLink, type ExitCodeValue } from '../core/errors.js';
import { createExec, type Exec } from '../core/exec.js';
import { formatHelp, parseFlags, type FlagSpec } from '../core/flags.js';
import { createLogger, SecretRegistry, type Logger } from '../core/log.js';
import { ensureTargetContext } from '../preflight/checks.js';
import { formatTable, type Report } from '../core/report.js';
import type { ScriptDef } from '../run/script.js';
import { toReportError } from '../run/steps.js';

export type { RunResult, ScriptDef } from '../run/script.js';

export interface RunIO {
  stdout: (text: string) => void;
  stderr: (line: string) => void;
  clock: Clock;
  /** Replace the process launcher (tests). */
  exec?: Exec;
  tty?: boolean;
  signal?: AbortSignal;
  /** Raw terminal writes for the status line (only used on a terminal, never under CI). */
  statusLine?: (text: string) => void;
}

export function allFlags(def: ScriptDef): FlagSpec[] {
  const own = new Set(def.flags.map((f) => f.name));
  const guard = def.changesCluster && !own.has(YES_FLAG.name) ? [YES_FLAG] : [];
  return [...COMMON_FLAGS.filter((f) => !own.has(f.name)), ...def.flags, ...guard];
}

export function helpText(def: ScriptDef): string {
  return formatHelp(def.usage ?? `${def.name}.mts [flags]`, def.summary, allFlags(def), def.footer);
}

export async function main(def: ScriptDef, argv: readonly string[], env: NodeJS.ProcessEnv, io: RunIO): Promise<ExitCodeValue> {
  const started = io.clock.now();
  const secrets = new SecretRegistry();
  let config: KitConfig;
  try {
    const parsed = parseFlags(allFlags(def), argv, env, def.maxArgs);
    if (parsed.values.help === true) {
      io.stdout(helpText(def));
      return ExitCode.ok;
    }
    if (parsed.values.version === true) {
      io.stdout(versionText());
      return ExitCode.ok;
    }
    config = buildConfig(parsed);
  } catch (err) {
    if (!(err instanceof KitError)) throw err;
    io.stderr(`${def.name}: ${err.message}`);
    if (err.fix) io.stderr(`  fix: ${err.fix}`);
    else io.stderr(`  run ${def.name}.mts --help for usage`);
    if (argv.includes('--json')) io.stdout(JSON.stringify(failureReport(def.name, started, io.clock, err, false)) + '\n');
    return err.exitCode;
  }
  secrets.add(config.pgUrl ? new URL(config.pgUrl).password : undefined);

  // NO_COLOR (no-color.org) and TERM=dumb: plain lines, no colour, no redrawn status line.
  const plain = Boolean(env.NO_COLOR) || env.TERM === 'dumb';
  const log: Logger = createLogger({
    write: io.stderr,
    verbose: config.verbose,
    quiet: config.quiet,
    tty: plain ? false : io.tty,
    clock: io.clock,
    secrets,
    statusLine: io.statusLine,
  });
  const childEnv: Record<string, string> = config.kubeconfig ? { KUBECONFIG: config.kubeconfig } : {};
  const exec = io.exec ?? createExec(log, secrets, childEnv);
  const controller = new AbortController();
  io.signal?.addEventListener('abort', () => controller.abort(), { once: true });
  const ctx = createCtx({
    config,
    log,
    exec,
    clock: io.clock,
    secrets,
    signal: controller.signal,
    execFor: io.exec ? undefined : (l: Logger) => createExec(l, secrets, childEnv),
  });

  let report: Report;
  let output: string | undefined;
  let outputIsData = false;
  try {
    def.checkUsage?.(config);
    const change = config.dryRun || config.noCluster ? false : def.changesCluster?.(config);
    if (change) {
      const context = await ensureTargetContext(ctx, { yes: config.options.on(YES_FLAG), strict: change.strict, what: change.what });
      log.info(`target: context ${context}, namespace ${config.namespace}`);
    }
    const result = await def.run(ctx);
    output = result.output;
    outputIsData = result.outputIsData === true;
    const ok = result.steps.every((s) => s.ok);
    report = {
      ok,
      command: def.name,
      durationMs: io.clock.now() - started,
      budgetMs: result.budgetMs,
      dryRun: config.dryRun,
      steps: result.steps,
      ...(result.artifacts ? { artifacts: result.artifacts } : {}),
      ...(result.data ? { data: result.data } : {}),
    };
    if (result.budgetMs !== null && report.durationMs > result.budgetMs) report.ok = false;
  } catch (err) {
    if (!(err instanceof KitError))
      log.fail(`internal error (a bug in the kit, please report it): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    else {
      log.fail(err.message);
      if (err.fix) log.fail(`fix: ${err.fix}`);
      if (err.docs) log.fail(`see ${docsLink(err.docs)}`);
    }
    report = failureReport(def.name, started, io.clock, err, config.dryRun);
  } finally {
    await ctx.cleanup.run(log);
    log.close();
  }

  if (config.json) {
    io.stdout(secrets.scrub(JSON.stringify(report, null, 2)) + '\n');
  } else {
    if (output) io.stdout(secrets.scrub(output) + (output.endsWith('\n') ? '' : '\n'));
    if (report.steps.length) {
      const table = secrets.scrub(formatTable(report));
      if (outputIsData) for (const line of table.split('\n')) io.stderr(line);
      else io.stdout(table + '\n');
    }
  }
  return exitCodeOf(report);
}

/** --version: the kit's own version and every version it pins (k8s/versions.json). */
export function versionText(): string {
  const pkg = kitPackage();
  const pins = Object.entries(readVersions()).filter(([k]) => !k.startsWith('$'));
  const rows = pins.map(([k, v]) => `  ${k.padEnd(9)} ${'image' in v ? `${v.image}:${v.version}` : `chart ${v.chart} ${v.version}`}`);
  return [`${pkg.name} ${pkg.version}`, 'pinned:', ...rows].join('\n') + '\n';
}

export function exitCodeOf(report: Report): ExitCodeValue {
  if (report.ok) return ExitCode.ok;
  const codes = [report.error?.exitCode, ...report.steps.map((s) => s.error?.exitCode)].filter((c): c is number => c !== undefined);
  if (codes.includes(ExitCode.environment)) return ExitCode.environment;
  if (codes.includes(ExitCode.usage)) return ExitCode.usage;
  return ExitCode.failed;
}

function failureReport(command: string, started: number, clock: Clock, err: unknown, dryRun: boolean): Report {
  return { ok: false, command, durationMs: clock.now() - started, budgetMs: null, dryRun, steps: [], error: toReportError(err) };
}

/** Entry points call this and nothing else. `argv`: the flags, when the entry point took a command off the front. */
export function runScript(def: ScriptDef, argv: readonly string[] = process.argv.slice(2)): void {
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\ninterrupted: finishing the current command and cleaning up (Ctrl-C again to quit at once)\n');
    controller.abort();
  });
  process.on('SIGTERM', () => controller.abort());
  main(def, argv, process.env, {
    stdout: (t) => process.stdout.write(t),
    stderr: (l) => process.stderr.write(l + '\n'),
    clock: realClock,
    signal: controller.signal,
    statusLine: (t) => process.stderr.write(t),
  }).then(
    (code) => {
      process.exitCode = controller.signal.aborted && code === 0 ? 130 : code;
    },
    (err: unknown) => {
      process.stderr.write(`internal error (a bug in the kit, please report it): ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = ExitCode.failed;
    },
  );
}
