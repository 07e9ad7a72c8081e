// The offline bundle of scripts/images.mts: one tar holding every image the stack pulls, saved for one
// architecture, and the pinned Dapr chart as a directory, so a laptop without network (or with a slow one) can
// pre-load its cluster and install Dapr without reaching a registry or the chart repository.
//
//   manifest.json   { kitVersion, arch, images: [{ image, file }], chart: { version, dir } }
//   images/NN-<image>.tar   `docker image save --platform linux/<arch>` of one image each
//   chart/dapr/     the chart directory (Chart.yaml, values.yaml, charts/, crds/)
//
// Written and read with the system tar (GNU tar and the BSD tar of macOS take the same few flags used here).

import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { shownPath as shown } from '../../core/config.js';
import { flag } from '../../core/flags.js';
import type { Ctx, StepCtx } from '../../run/context.js';
import { CommandError, EnvironmentError, StepError, UsageError } from '../../core/errors.js';
import { chartArgs } from '../../kube/helm.js';
import { readVersions } from '../../kube/manifests.js';
import { bundledChartDir, type ChartChoice } from '../../components/dapr/settings.js';
import { ARCHES, explain, lastLine, type Arch, type Target } from './detect.js';
import { archiveLoadCommand, runImageCommands, showCmd, type Cmd } from './preload.js';

export const MANIFEST = 'manifest.json';
const CHART_IN_BUNDLE = 'chart/dapr';

export interface BundleManifest {
  kitVersion: string;
  arch: Arch;
  images: { image: string; file: string }[];
  chart: { version: string; dir: string };
}

/** images/03-ghcr.io_dapr_operator_1.18.3.tar: numbered, so two names that read alike never share a file. */
export function imageFile(index: number, image: string): string {
  return `images/${String(index + 1).padStart(2, '0')}-${image.replace(/[^A-Za-z0-9._-]+/g, '_')}.tar`;
}

export function kitVersion(root: string): string {
  return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

export const IMAGES_TIMEOUT_FLAG = flag({
  name: 'timeout',
  kind: 'duration',
  valueName: 'DURATION',
  default: 30 * 60_000,
  description: 'give up on one pull, save or load after this long',
});

export const timeoutOf = (ctx: Ctx) => ctx.config.options.get(IMAGES_TIMEOUT_FLAG) ?? 30 * 60_000;

// ---------------------------------------------------------------------------------------------
// save FILE

export interface SavePlan {
  file: string;
  arch: Arch;
  images: readonly string[];
  chart: ChartChoice;
  chartVersion: string;
  /** Where the pieces are gathered before tar, next to FILE (same disk), removed at the end. */
  staging: string;
  /** tar writes here and it is renamed to FILE once complete: a failed save leaves no half bundle. */
  partial: string;
}

export function planSave(file: string, arch: Arch, images: readonly string[], chart: ChartChoice): SavePlan {
  const dir = path.dirname(file);
  const base = path.basename(file);
  return {
    file,
    arch,
    images,
    chart,
    chartVersion: readVersions().dapr.version,
    staging: path.join(dir, `.${base}.d`),
    partial: path.join(dir, `.${base}.partial`),
  };
}

function saveImageCommands(plan: SavePlan, i: number): Cmd[] {
  const image = plan.images[i]!;
  const platform = `linux/${plan.arch}`;
  return [
    { cmd: 'docker', args: ['pull', '--platform', platform, image], does: 'pull' },
    { cmd: 'docker', args: ['image', 'save', '--platform', platform, '-o', path.join(plan.staging, imageFile(i, image)), image], does: 'save' },
  ];
}

function chartCommand(plan: SavePlan): Cmd | undefined {
  const ref = plan.chart.ref;
  return ref.kind === 'repo'
    ? { cmd: 'helm', args: ['pull', ...chartArgs(ref), '--untar', '--untardir', path.join(plan.staging, 'chart')], does: 'save' }
    : undefined;
}

function tarCommand(plan: SavePlan): Cmd {
  return { cmd: 'tar', args: ['-cf', plan.partial, '-C', plan.staging, MANIFEST, 'images', 'chart'], does: 'save' };
}

/** What save would run, for --dry-run: a pasteable script. */
export function saveScript(plan: SavePlan): string[] {
  const ref = plan.chart.ref;
  return [
    `# save ${plan.images.length} images for linux/${plan.arch} and the Dapr chart ${plan.chartVersion} into ${shown(plan.file)}`,
    `mkdir -p ${path.join(plan.staging, 'images')}`,
    ...plan.images.flatMap((_, i) => saveImageCommands(plan, i).map(showCmd)),
    ref.kind === 'local' ? `cp -R ${ref.path} ${path.join(plan.staging, CHART_IN_BUNDLE)}   # ${plan.chart.describe}` : showCmd(chartCommand(plan)!),
    `# write ${path.join(plan.staging, MANIFEST)}, then:`,
    showCmd(tarCommand(plan)),
    `mv ${plan.partial} ${plan.file} && rm -rf ${plan.staging}`,
  ];
}

export async function saveBundle(step: StepCtx, plan: SavePlan): Promise<BundleManifest> {
  const timeoutMs = timeoutOf(step);
  rmSync(plan.staging, { recursive: true, force: true });
  mkdirSync(path.join(plan.staging, 'images'), { recursive: true });
  step.cleanup.defer('the staging folder of the bundle', () => rmSync(plan.staging, { recursive: true, force: true }));
  step.cleanup.defer('a half-written bundle', () => rmSync(plan.partial, { force: true }));
  const n = plan.images.length;
  const images: BundleManifest['images'] = [];
  for (const [i, image] of plan.images.entries()) {
    step.log.info(`[${i + 1}/${n}] ${image} (linux/${plan.arch})`);
    await runImageCommands(step, image, saveImageCommands(plan, i), timeoutMs);
    images.push({ image, file: imageFile(i, image) });
  }
  step.check('images', true, `${n} saved for linux/${plan.arch}`);

  const chartDest = path.join(plan.staging, CHART_IN_BUNDLE);
  const pullChart = chartCommand(plan);
  if (pullChart) {
    step.log.info(`the Dapr chart ${plan.chartVersion}: ${plan.chart.describe}`);
    try {
      await step.exec(pullChart.cmd, pullChart.args, { timeoutMs: 5 * 60_000, quiet: false });
    } catch (err) {
      throw chartPullError(err, plan);
    }
  } else if (plan.chart.ref.kind === 'local') {
    step.log.info(`the Dapr chart ${plan.chartVersion}: ${plan.chart.describe}`);
    cpSync(plan.chart.ref.path, chartDest, { recursive: true, dereference: true });
  }
  if (!existsSync(path.join(chartDest, 'Chart.yaml'))) throw new StepError(`the Dapr chart was not written to the bundle (no ${CHART_IN_BUNDLE}/Chart.yaml)`);
  step.check('chart', true, `dapr ${plan.chartVersion} (${plan.chart.describe})`);

  const manifest: BundleManifest = { kitVersion: kitVersion(step.root), arch: plan.arch, images, chart: { version: plan.chartVersion, dir: CHART_IN_BUNDLE } };
  writeFileSync(path.join(plan.staging, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  const tar = tarCommand(plan);
  await step.exec(tar.cmd, tar.args, { timeoutMs, quiet: false });
  renameSync(plan.partial, plan.file);
  step.check('bundle', true, `${shown(plan.file)}, ${formatSize(statSync(plan.file).size)}`);
  step.change(shown(plan.file), 'written');
  return manifest;
}

function chartPullError(err: unknown, plan: SavePlan): unknown {
  const ref = plan.chart.ref;
  const repo = ref.kind === 'repo' ? ref.repo : '';
  const own = `or pass --dapr-chart DIR: a chart directory you have (helm pull dapr --repo ${repo} --version ${plan.chartVersion} --untar, where the network reaches it)`;
  if (err instanceof EnvironmentError)
    return new EnvironmentError(`helm is not installed or not on PATH: save needs it to download the Dapr chart ${plan.chartVersion}`, {
      fix: `install helm (https://helm.sh/docs/intro/install/), ${own}`,
      docs: 'missing-tools',
    });
  if (err instanceof CommandError)
    return new EnvironmentError(`could not download the Dapr chart ${plan.chartVersion} from ${repo}: ${explain(err)}`, {
      fix: `run save where ${repo} is reachable, ${own}`,
      cause: err,
    });
  return err;
}

export function formatSize(n: number): string {
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

// ---------------------------------------------------------------------------------------------
// load FILE

function notABundle(file: string, why: string): UsageError {
  return new UsageError(`FILE ${shown(file)} is not a bundle from images.mts save: ${why}`, {
    fix: 'give the file ./scripts/images.mts save FILE wrote (e.g. ./scripts/images.mts load learnflow-images.tar)',
  });
}

/** The bundle's manifest.json, checked; anything else is exit 2 naming FILE. */
export function parseManifest(text: string, file: string): BundleManifest {
  let m: Partial<BundleManifest>;
  try {
    m = JSON.parse(text) as Partial<BundleManifest>;
  } catch {
    throw notABundle(file, `its ${MANIFEST} is not JSON`);
  }
  const safe = (p: unknown) => typeof p === 'string' && p !== '' && !path.isAbsolute(p) && !p.split('/').includes('..');
  if (!m || typeof m !== 'object') throw notABundle(file, `its ${MANIFEST} is not an object`);
  if (!(ARCHES as readonly unknown[]).includes(m.arch))
    throw notABundle(file, `its ${MANIFEST} names architecture '${String(m.arch)}' (expected amd64 or arm64)`);
  if (!Array.isArray(m.images) || m.images.some((i) => !i || typeof i.image !== 'string' || !safe(i.file)))
    throw notABundle(file, `its ${MANIFEST} has no valid images list`);
  if (!m.chart || typeof m.chart.version !== 'string' || !safe(m.chart.dir)) throw notABundle(file, `its ${MANIFEST} names no chart directory`);
  return { kitVersion: String(m.kitVersion ?? '?'), arch: m.arch as Arch, images: m.images, chart: m.chart };
}

/** `tar -xOf FILE manifest.json`: reads, changes nothing (the dry run does it too). */
export async function readManifest(ctx: Ctx, file: string): Promise<BundleManifest> {
  let r;
  try {
    r = await ctx.exec('tar', ['-xOf', file, MANIFEST], { quiet: true, allowFailure: true, timeoutMs: 10 * 60_000 });
  } catch (err) {
    if (err instanceof EnvironmentError)
      throw new EnvironmentError('tar is not installed or not on PATH: load needs it to read FILE', { fix: 'install tar', docs: 'missing-tools' });
    throw err;
  }
  if (r.exitCode !== 0)
    throw notABundle(file, /not found|Not found/i.test(r.stderr) ? `it holds no ${MANIFEST}` : `tar cannot read it (${lastLine(r.stderr)})`);
  return parseManifest(r.stdout, file);
}

export interface LoadPlan {
  file: string;
  manifest: BundleManifest;
  target: Target;
  /** Unpacked here (inside the kit's .learnflow/, so the chart is one rename away from its place), then removed. */
  staging: string;
  chartDest: string;
}

export function planLoad(root: string, file: string, manifest: BundleManifest, target: Target, now: number): LoadPlan {
  const chartDest = bundledChartDir(root, manifest.chart.version);
  return { file, manifest, target, staging: path.join(path.dirname(chartDest), `.unpack-${now}`), chartDest };
}

export function loadScript(plan: LoadPlan): string[] {
  const { manifest: m } = plan;
  return [
    `# load ${m.images.length} images (linux/${m.arch}) into ${plan.target.describe}, and the Dapr chart ${m.chart.version} into ${shown(plan.chartDest)}`,
    `mkdir -p ${plan.staging}`,
    showCmd({ cmd: 'tar', args: ['-xf', plan.file, '-C', plan.staging], does: 'load' }),
    ...m.images.map((i) => showCmd(archiveLoadCommand(path.join(plan.staging, i.file), plan.target))),
    `rm -rf ${plan.chartDest} && mv ${path.join(plan.staging, m.chart.dir)} ${plan.chartDest} && rm -rf ${plan.staging}`,
  ];
}

export async function loadBundle(step: StepCtx, plan: LoadPlan): Promise<void> {
  const { manifest: m } = plan;
  const timeoutMs = timeoutOf(step);
  mkdirSync(plan.staging, { recursive: true });
  step.cleanup.defer('the unpacked bundle', () => rmSync(plan.staging, { recursive: true, force: true }));
  step.log.info(`unpacking ${shown(plan.file)}`);
  await step.exec('tar', ['-xf', plan.file, '-C', plan.staging], { timeoutMs, quiet: false });
  const missing = m.images.filter((i) => !existsSync(path.join(plan.staging, i.file))).map((i) => i.file);
  const chartSrc = path.join(plan.staging, m.chart.dir);
  if (!existsSync(path.join(chartSrc, 'Chart.yaml'))) missing.push(`${m.chart.dir}/Chart.yaml`);
  if (missing.length) throw notABundle(plan.file, `it lacks ${missing.join(', ')}`);

  const n = m.images.length;
  for (const [i, { image, file }] of m.images.entries()) {
    step.log.info(`[${i + 1}/${n}] ${image}`);
    await runImageCommands(step, image, [archiveLoadCommand(path.join(plan.staging, file), plan.target)], timeoutMs, plan.target);
    rmSync(path.join(plan.staging, file), { force: true });
  }
  step.check('images', true, `${n} loaded into ${plan.target.describe}`);

  rmSync(plan.chartDest, { recursive: true, force: true });
  mkdirSync(path.dirname(plan.chartDest), { recursive: true });
  renameSync(chartSrc, plan.chartDest);
  const pinned = readVersions().dapr.version;
  step.check(
    'chart',
    true,
    m.chart.version === pinned
      ? `Dapr chart ${m.chart.version} in ${shown(plan.chartDest)}: install-dapr and deploy-all use it (no chart repository needed)`
      : `Dapr chart ${m.chart.version} in ${shown(plan.chartDest)}; the kit pins ${pinned}, so install-dapr uses it only with --dapr-chart ${shown(plan.chartDest)} --dapr-version ${m.chart.version}`,
  );
  step.change(shown(plan.chartDest), 'unpacked');
}
