// status.mts's page: what it reads once for every component (the stack namespace's workloads, pods, claims and
// Secret names) and the section each component fills in from it (components/<name>/status.ts). Read only.

import type { StepCtx } from '../../run/context.js';
import { podReady, type PodJson } from '../../kube/pod-diagnosis.js';
import { laptopPorts, type LaptopPorts } from './stack-record.js';

export interface StatusSection {
  component: string;
  ok: boolean;
  /** One line each: what is deployed. */
  facts: string[];
  /** How to reach it, in the cluster and from the laptop. */
  endpoints: string[];
  /** Where each credential is kept: Secret and key, never the value. */
  credentials: string[];
  /** The command to run when something is off. */
  next?: string;
}

interface ClaimJson {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { phase?: string; capacity?: { storage?: string } };
}
export interface WorkloadJson {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { replicas?: number };
  status?: { readyReplicas?: number };
}

const APP = 'app.kubernetes.io/name';

/** The stack namespace as status.mts found it, its kubectl reads (its record among them) run together. */
export class StatusView {
  private constructor(
    readonly namespace: string,
    /** The stack's laptop ports (its record). */
    readonly ports: LaptopPorts,
    private readonly workloads: readonly WorkloadJson[],
    private readonly podList: readonly PodJson[],
    private readonly claimList: readonly ClaimJson[],
    private readonly secretNames: ReadonlySet<string>,
  ) {}

  static async read(step: StepCtx): Promise<StatusView> {
    const [workloads, pods, claims, secrets, ports] = await Promise.all([
      step.kube.list<WorkloadJson>('statefulset,deployment'),
      step.kube.list<PodJson>('pods'),
      step.kube.list<ClaimJson>('pvc'),
      step.kube.list<{ metadata: { name: string } }>('secret'),
      laptopPorts(step),
    ]);
    return new StatusView(step.config.namespace, ports, workloads, pods, claims, new Set(secrets.map((s) => s.metadata.name)));
  }

  workload(kind: 'StatefulSet' | 'Deployment', name: string): WorkloadJson | undefined {
    return this.workloads.find((w) => w.kind === kind && w.metadata.name === name);
  }

  /** The pods of an app (app.kubernetes.io/name), each ready or not, with a line for the page. */
  pods(app: string): { ready: boolean; text: string }[] {
    return this.podList
      .filter((p) => p.metadata.labels?.[APP] === app)
      .map((p) => {
        const cs = p.status?.containerStatuses ?? [];
        const ready = podReady(p);
        const waiting = cs.find((c) => c.state?.waiting?.reason)?.state?.waiting?.reason;
        const restarts = cs.reduce((n, c) => n + (c.restartCount ?? 0), 0);
        return {
          ready,
          text: `pod ${p.metadata.name}: ${ready ? 'ready' : (waiting ?? p.status?.phase ?? 'unknown')}${restarts ? `, ${restarts} restart(s)` : ''}`,
        };
      });
  }

  /** The claims of an app, a line each: phase and size. */
  claims(app: string): string[] {
    return this.claimList
      .filter((c) => c.metadata.labels?.[APP] === app)
      .map((c) => `claim ${c.metadata.name}: ${c.status?.phase ?? '?'}${c.status?.capacity?.storage ? `, ${c.status.capacity.storage}` : ''}`);
  }

  /**
   * A StatefulSet's part of a section: `head` (its version and readiness), its pods and claims, or that it is not
   * deployed; ok when it exists and every pod is ready; `next`: the command to run when the section, once complete,
   * is not ok (the deploy when nothing is deployed, else the verify).
   */
  statefulSet(
    name: string,
    app: string,
    o: { head: (sts: WorkloadJson) => string; verify: string; deploy: string },
  ): { sts?: WorkloadJson; facts: string[]; ok: boolean; next: (ok: boolean) => string | undefined } {
    const sts = this.workload('StatefulSet', name);
    const pods = this.pods(app);
    const ok = Boolean(sts) && pods.length > 0 && pods.every((p) => p.ready);
    const next = (sectionOk: boolean) => (sectionOk ? undefined : `${sts ? o.verify : o.deploy} -n ${this.namespace}`);
    if (!sts) return { facts: [`not deployed in ${this.namespace}`], ok, next };
    return { sts, facts: [o.head(sts), ...pods.map((p) => p.text), ...this.claims(app)], ok, next };
  }

  /** ' (missing)' when the Secret is not there, '' when it is: for the credentials lines. */
  missing(secret: string): string {
    return this.secretNames.has(secret) ? '' : ' (missing)';
  }
}
