// What an entry script is to the runner (cli/run.ts): a name, its flags and a run over the context, returning
// steps for the report. Below the cli layer so that tools, workflows and dev can define scripts.

import type { KitConfig } from '../core/config.js';
import type { FlagSpec } from '../core/flags.js';
import type { StepReport } from '../core/report.js';
import type { Ctx } from './context.js';

export interface RunResult {
  steps: StepReport[];
  budgetMs: number | null;
  artifacts?: Record<string, string>;
  /** Printed on stdout (human mode), e.g. the dry-run manifests. */
  output?: string;
  /** `output` is a document (a YAML stream) others read: the summary table then goes to stderr, not after it. */
  outputIsData?: boolean;
  /** What the script found, for --json consumers (e.g. images.mts: { images: [...] }). */
  data?: Record<string, unknown>;
}

export interface ScriptDef {
  name: string;
  summary: string;
  /** Usage line of --help when the script takes more than flags (e.g. 'port-forward.mts start|status|stop [flags]'). */
  usage?: string;
  /** How many arguments besides flags it takes (a subcommand, a FILE): they reach it as config.args. */
  maxArgs?: number;
  flags: readonly FlagSpec[];
  footer?: string;
  /**
   * Whether this run changes the cluster (undefined: never). The runner then checks the target context before
   * anything else (a context that does not look local needs --context naming it, or --yes; `strict`: --context
   * only) and logs it with the namespace as the run's first line. Dry runs and --no-cluster runs change nothing.
   */
  changesCluster?: (config: KitConfig) => false | { strict?: boolean; what?: string };
  /** Checks of the arguments that need nothing else (a file that must exist): run first, so bad usage is exit 2. */
  checkUsage?: (config: KitConfig) => void;
  run(ctx: Ctx): Promise<RunResult>;
}

export interface ScriptEntry {
  name: string;
  /** Path from the repository root, e.g. scripts/deploy-postgres.mts */
  path: string;
  load(): Promise<ScriptDef>;
}
