// psql and pg_dump(all) inside a PostgreSQL pod through `kubectl exec` (backups, restores, the major upgrade): as the
// container's own superuser over the local socket (loginInPod aside). The shell reads the password from the
// container's environment, so it is never in argv; SQL goes on stdin.

import type { ExecResult } from '../../core/exec.js';
import { UsageError } from '../../core/errors.js';
import type { Ctx } from '../../run/context.js';
import { PG_NAME } from './postgres-topology.js';
import type { LoginAttempt } from './postgres-client.js';

type PodCtx = Pick<Ctx, 'kube' | 'config'>;

export const AS_SUPERUSER = 'export PGPASSWORD="$POSTGRES_PASSWORD"; ';

/** `-U -d` of a tool in the pod: the container's own database (POSTGRES_DB), or `db` (a plain name: no quoting). */
export function podDatabase(db?: string): string {
  if (db !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(db)) throw new UsageError(`'${db}' is not a database name the kit makes`);
  return `-U "$POSTGRES_USER" -d ${db ?? '"$POSTGRES_DB"'}`;
}

/** `kubectl exec [-i] POD -c postgresql -- sh -c SCRIPT [ARGS]` (-i when there is stdin; ARGS are $0, $1, ...). */
export function podExecArgs(namespace: string, pod: string, script: string, stdin: boolean, args: readonly string[] = []): string[] {
  return ['exec', ...(stdin ? ['-i'] : []), '-n', namespace, pod, '-c', PG_NAME, '--', 'sh', '-c', script, ...args];
}

type PodExecOptions = { input?: string; timeoutMs?: number; quiet?: boolean; allowFailure?: boolean; args?: readonly string[] };

/** Quiet (logged with --verbose) and 60 s unless told otherwise. */
export function execInPod(ctx: PodCtx, pod: string, script: string, opts: PodExecOptions = {}): Promise<ExecResult> {
  const { args, ...run } = opts;
  return ctx.kube.run(podExecArgs(ctx.config.namespace, pod, script, opts.input !== undefined, args), { timeoutMs: 60_000, quiet: true, ...run });
}

/**
 * One login as `user` to `database` over TCP to 127.0.0.1 in the pod: the address a port-forward arrives from, so
 * the same pg_hba.conf rule decides. The password goes on stdin, the names as arguments: neither is in the script.
 */
export async function loginInPod(ctx: PodCtx, pod: string, user: string, password: string, database: string): Promise<LoginAttempt> {
  const script = `PGPASSWORD="$(cat)" exec psql -X -q -w -h 127.0.0.1 -U "$1" -d "$2" -c 'SELECT 1' >/dev/null`;
  const r = await execInPod(ctx, pod, script, { input: password, allowFailure: true, timeoutMs: 20_000, args: ['login', user, database] });
  if (r.exitCode === 0) return { ok: true };
  const text = `${r.stderr}\n${r.stdout}`;
  const code = /password authentication failed/i.test(text)
    ? '28P01'
    : /permission denied for database|does not have CONNECT privilege/i.test(text)
      ? '42501'
      : /does not exist/i.test(text)
        ? '3D000'
        : undefined;
  return { ok: false, code, message: text.trim().split('\n').slice(-2).join(' ') };
}

/** One query that returns one JSON text, parsed: all of the output, as json_agg puts line breaks between elements. */
export async function queryJsonInPod<T>(ctx: PodCtx, pod: string, sql: string, db?: string): Promise<T> {
  const r = await execInPod(ctx, pod, `${AS_SUPERUSER}exec psql -X -At -v ON_ERROR_STOP=1 ${podDatabase(db)} -f -`, { input: `${sql};\n` });
  return JSON.parse(r.stdout.trim() || 'null') as T;
}
