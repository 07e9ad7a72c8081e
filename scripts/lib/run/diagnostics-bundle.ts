// On a failed deploy: one bundle with what is needed to understand it (events, pod descriptions,
// last log lines per container, helm status, rendered manifests). Secrets are never fetched, and
// everything written goes through the secret scrubber.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Ctx } from './context.js';
import type { PodJson } from '../kube/pod-diagnosis.js';
import { diagnosePod } from '../kube/pod-diagnosis.js';
import { errorMessage } from '../core/errors.js';
import { redactSecrets, renderYaml, type Manifest } from '../kube/manifests.js';

export const LOG_TAIL_LINES = 50;

export interface DiagnosticsInput {
  namespaces: readonly string[];
  helmReleases?: readonly { name: string; namespace: string }[];
  manifests?: readonly Manifest[];
}

export async function writeDiagnostics(ctx: Ctx, input: DiagnosticsInput): Promise<string> {
  const stamp = new Date(ctx.clock.now()).toISOString().replace(/[:.]/g, '-');
  const dir = path.join(ctx.outDir, 'diagnostics', stamp);
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const write = (name: string, text: string) => writeFileSync(path.join(dir, name), ctx.secrets.scrub(text));
  const run = async (args: string[], cmd = 'kubectl') => {
    try {
      const r =
        cmd === 'kubectl'
          ? await ctx.kube.run(args, { quiet: true, allowFailure: true, timeoutMs: 20_000 })
          : await ctx.exec(cmd, args, { quiet: true, allowFailure: true, timeoutMs: 20_000 });
      return r.exitCode === 0 ? r.stdout : `# ${r.command} failed (exit ${r.exitCode})\n${r.stderr}`;
    } catch (err) {
      return `# failed: ${errorMessage(err)}`;
    }
  };
  const summary: string[] = [`LearnFlow kit diagnostics, ${new Date(ctx.clock.now()).toISOString()}`, ''];
  for (const ns of input.namespaces) {
    write(`${ns}-events.txt`, await run(['get', 'events', '-n', ns, '--sort-by=.lastTimestamp']));
    write(`${ns}-pods-describe.txt`, await run(['describe', 'pods', '-n', ns]));
    write(`${ns}-workloads.txt`, await run(['get', 'statefulsets,deployments,jobs,pods,pvc,services', '-n', ns, '-o', 'wide']));
    const podsJson = await run(['get', 'pods', '-n', ns, '-o', 'json']);
    let pods: PodJson[] = [];
    try {
      pods = (JSON.parse(podsJson) as { items: PodJson[] }).items;
    } catch {
      /* the failure text was written above */
    }
    for (const pod of pods) {
      const d = diagnosePod(pod);
      summary.push(`${ns}/${d.pod}: ${d.state}${d.fix ? `\n    fix: ${d.fix}` : ''}`);
      for (const c of pod.status?.containerStatuses ?? []) {
        const logs = (previous: boolean) =>
          run(['logs', pod.metadata.name, '-n', ns, '-c', c.name, ...(previous ? ['--previous'] : []), `--tail=${LOG_TAIL_LINES}`]);
        // A container waiting to restart has no run of its own: `kubectl logs` then shows its last run, the same one
        // --previous shows (the kubelet picks the last terminated container for both), so fetch that run once.
        const waitingAfterARun = !c.state?.running && !c.state?.terminated && c.lastState?.terminated;
        const text = waitingAfterARun
          ? `# previous container (the last run; the container is ${c.state?.waiting?.reason ?? 'waiting'} now)\n${await logs(true)}`
          : (await logs(false)) + ((c.restartCount ?? 0) > 0 ? `\n# previous container\n${await logs(true)}` : '');
        write(path.join('logs', `${ns}_${pod.metadata.name}_${c.name}.log`), text);
      }
    }
  }
  for (const rel of input.helmReleases ?? []) {
    write(
      `helm-${rel.name}-status.txt`,
      await run(['status', rel.name, '-n', rel.namespace, ...(ctx.config.context ? ['--kube-context', ctx.config.context] : [])], 'helm'),
    );
  }
  if (input.manifests?.length) write('rendered-manifests.yaml', renderYaml(redactSecrets(input.manifests)));
  write('summary.txt', summary.join('\n') + '\n');
  return dir;
}
