// psql and pg_dump inside a PostgreSQL pod through `kubectl exec` (backups, restores, the major upgrade): as the
// container's own superuser over the local socket. The shell reads the password from the container's environment,
// so it is never in argv; SQL goes on stdin.

import type { ExecResult } from '../../core/exec.js';
import { UsageError } from '../../core/errors.js';
import type { Ctx } from '../../run/context.js';
import { PG_NAME } from './postgres-topology.js';

type PodCtx = Pick<Ctx, 'kube' | 'config'>;

export const AS_SUPERUSER = 'export PGPASSWORD="$POSTGRES_PASSWORD"; ';

/** `-U -d` of a tool in the pod: the container's own database (POSTGRES_DB), or `db` (a plain name: no quoting). */
export function podDatabase(db?: string): string {
  if (db !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(db)) throw new UsageError(`'${db}' is not a database name the kit makes`);
  return `-U "$POSTGRES_USER" -d ${db ?? '"$POSTGRES_DB"'}`;
}

/** `kubectl exec [-i] POD -c postgresql -- sh -c SCRIPT` (-i when there is stdin). */
export function podExecArgs(namespace: string, pod: string, script: string, stdin: boolean): string[] {
  return ['exec', ...(stdin ? ['-i'] : []), '-n', namespace, pod, '-c', PG_NAME, '--', 'sh', '-c', script];
}

/** Quiet (logged with --verbose) and 60 s unless told otherwise. */
export function execInPod(ctx: PodCtx, pod: string, script: string, opts: { input?: string; timeoutMs?: number; quiet?: boolean } = {}): Promise<ExecResult> {
  return ctx.kube.run(podExecArgs(ctx.config.namespace, pod, script, opts.input !== undefined), { timeoutMs: 60_000, quiet: true, ...opts });
}

/** One query that returns one JSON text, parsed: all of the output, as json_agg puts line breaks between elements. */
export async function queryJsonInPod<T>(ctx: PodCtx, pod: string, sql: string, db?: string): Promise<T> {
  const r = await execInPod(ctx, pod, `${AS_SUPERUSER}exec psql -X -At -v ON_ERROR_STOP=1 ${podDatabase(db)} -f -`, { input: `${sql};\n` });
  return JSON.parse(r.stdout.trim() || 'null') as T;
}
