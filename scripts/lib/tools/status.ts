// ./status.mts: what runs and how to reach it, one section per component (each component's status() fills it in).
// Read only; deploy-all ends with the short form.

import type { Component } from '../components/types.js';
import { StatusView, type StatusSection } from '../components/shared/status.js';
import type { Ctx, StepCtx } from '../run/context.js';
import { runStep } from '../run/steps.js';
import type { RunResult, ScriptDef } from '../run/script.js';
import { ensureClusterReachable } from '../preflight/checks.js';
import { laptopPorts } from '../components/shared/stack-record.js';
import { booleanFlag } from '../core/flags.js';

/** Reads the stack's namespace once, then each component's section (the data-plane reads, topics and migrations, are bounded). */
export async function collectStatus(step: StepCtx, components: readonly Component[], o: { data: boolean }): Promise<StatusSection[]> {
  const view = await StatusView.read(step);
  const sections: StatusSection[] = [];
  for (const c of components) sections.push(await c.status(step, view, o));
  return sections;
}

export function formatStatus(sections: readonly StatusSection[], short: boolean): string {
  const out: string[] = [];
  for (const s of sections) {
    out.push(`${s.ok ? '✓' : '✗'} ${s.component}`);
    for (const f of short ? s.facts.slice(0, 1) : s.facts) out.push(`    ${f}`);
    for (const e of s.endpoints) out.push(`    ${e}`);
    if (!short) for (const c of s.credentials) out.push(`    credentials: ${c}`);
    if (s.next) out.push(`    next: ${s.next}`);
  }
  return out.join('\n') + '\n';
}

const SHORT_FLAG = booleanFlag('short', 'one line per component and its endpoints (what deploy-all prints at its end)');
const NO_DATA_FLAG = booleanFlag('no-data', 'only what kubectl shows: no port-forward to read topics and migrations');

export function statusScript(components: readonly Component[]): ScriptDef {
  return {
    name: 'status',
    summary: [
      'What runs and how to reach it: per component, what is deployed (versions, pods, claims, topics, migrations, Dapr components,',
      "the services' databases), the in-cluster addresses and the laptop endpoints, where each credential is kept (the Secret and key,",
      'never the value), and the next command when something is off. Read only. --short for one line per component.',
    ].join('\n'),
    flags: [SHORT_FLAG, NO_DATA_FLAG],
    footer: 'Exit codes: 0 shown (whatever it shows), 2 bad usage, 3 the cluster is not reachable.',
    async run(ctx): Promise<RunResult> {
      if (ctx.config.dryRun) {
        ctx.log.info('dry run: status only reads; nothing to plan');
        return { steps: [], budgetMs: null };
      }
      await ensureClusterReachable(ctx);
      let sections: StatusSection[] = [];
      // A step for its context (port-forwards, cleanup, a deadline); its report is not shown: the page is.
      const step = await runStep(ctx, {
        name: 'status',
        budgetMs: 120_000,
        run: async (s) => void (sections = await collectStatus(s, components, { data: !s.config.options.on(NO_DATA_FLAG) })),
      });
      if (!step.ok) return { steps: [step], budgetMs: null };
      return { steps: [], budgetMs: null, output: formatStatus(sections, ctx.config.options.on(SHORT_FLAG)), data: { status: sections } };
    },
  };
}

/** How to connect: what deploy-all prints at its end (the laptop ports are the stack's, read once per run). */
export async function howToConnect(ctx: Ctx, components: readonly Component[]): Promise<string> {
  const ports = await laptopPorts(ctx);
  return (
    [
      `How to connect (./status.mts shows what runs; ./scripts/port-forward.mts start${ctx.config.namespace === 'learnflow' ? '' : ` --namespace ${ctx.config.namespace}`} for the laptop endpoints):`,
      ...components.flatMap((c) => c.connect(ctx.config.namespace, ctx, ports).map((line) => `  ${line}`)),
    ].join('\n') + '\n'
  );
}
