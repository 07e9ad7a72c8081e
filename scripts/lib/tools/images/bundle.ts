// The offline bundle of scripts/images.mts: one tar with manifest.json, every image the stack pulls saved for one
// architecture (images/NN-<image>.tar, one `docker image save --platform` each) and the pinned Dapr chart
// (chart/dapr/), so a laptop without network can pre-load its cluster and install Dapr.
// Written and read with the system tar (GNU tar and macOS's BSD tar take the few flags used here). save and load
// each plan their commands once: --dry-run prints them, a run runs them.

import { cpSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { shownPath as shown } from '../../core/config.js';
import type { Ctx } from '../../run/context.js';
import type { RunResult } from '../../run/script.js';
import { runStep } from '../../run/steps.js';
import { CommandError, EnvironmentError, StepError, UsageError } from '../../core/errors.js';
import { tail } from '../../core/exec.js';
import { chartArgs } from '../../kube/helm.js';
import { readVersions, kitPackage } from '../../core/repo.js';
import { bundledChartDir, type ChartChoice } from '../../components/dapr/settings.js';
import { formatSize } from '../../core/report.js';
import {
  ARCHES,
  clusterArch,
  dryRunResult,
  ensureTools,
  explain,
  loadCommand,
  loaderTools,
  runImageCommands,
  showCmd,
  type Arch,
  type Cmd,
  type Target,
} from './target.js';

const MANIFEST = 'manifest.json';
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

/**
 * save FILE. The pieces are gathered in a staging folder next to FILE (same disk); tar writes FILE's `.partial`,
 * renamed to FILE once complete, so a failed save leaves no half bundle.
 */
export async function saveBundle(ctx: Ctx, file: string, arch: Arch, images: readonly string[], chart: ChartChoice, timeoutMs: number): Promise<RunResult> {
  const staging = path.join(path.dirname(file), `.${path.basename(file)}.d`);
  const partial = path.join(path.dirname(file), `.${path.basename(file)}.partial`);
  const chartVersion = readVersions().dapr.version;
  const chartDest = path.join(staging, CHART_IN_BUNDLE);
  const platform = ['--platform', `linux/${arch}`];
  const saves = images.map((image, i): Cmd[] => [
    { cmd: 'docker', args: ['pull', ...platform, image], does: 'pull' },
    { cmd: 'docker', args: ['image', 'save', ...platform, '-o', path.join(staging, imageFile(i, image)), image], does: 'save' },
  ]);
  const ref = chart.ref;
  const helmPull: Cmd | undefined =
    ref.kind === 'repo' ? { cmd: 'helm', args: ['pull', ...chartArgs(ref), '--untar', '--untardir', path.join(staging, 'chart')], does: 'save' } : undefined;
  const tar: Cmd = { cmd: 'tar', args: ['-cf', partial, '-C', staging, MANIFEST, 'images', 'chart'], does: 'save' };
  if (ctx.config.dryRun)
    return dryRunResult(
      [
        `# save ${images.length} images for linux/${arch} and the Dapr chart ${chartVersion} into ${shown(file)}`,
        `mkdir -p ${path.join(staging, 'images')}`,
        ...saves.flat().map(showCmd),
        helmPull ? showCmd(helmPull) : `cp -R ${ref.kind === 'local' ? ref.path : ''} ${chartDest}   # ${chart.describe}`,
        `# write ${path.join(staging, MANIFEST)}, then:`,
        showCmd(tar),
        `mv ${partial} ${file} && rm -rf ${staging}`,
      ],
      { bundle: { file: shown(file), arch, images, chart: chart.describe } },
    );
  await ensureTools(ctx, ['docker', 'tar', ...(helmPull ? ['helm'] : [])], 'save', {
    helm: 'pass --dapr-chart DIR with a copy of the chart (helm pull dapr --untar, where helm and the network are)',
  });

  let manifest: BundleManifest | undefined;
  const step = await runStep(ctx, {
    name: 'save',
    budgetMs: null,
    run: async (s) => {
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(path.join(staging, 'images'), { recursive: true });
      s.cleanup.defer('the staging folder of the bundle', () => rmSync(staging, { recursive: true, force: true }));
      s.cleanup.defer('a half-written bundle', () => rmSync(partial, { force: true }));
      for (const [i, image] of images.entries()) {
        s.log.info(`[${i + 1}/${images.length}] ${image} (linux/${arch})`);
        await runImageCommands(s, image, saves[i]!, timeoutMs);
      }
      s.check('images', true, `${images.length} saved for linux/${arch}`);

      s.log.info(`the Dapr chart ${chartVersion}: ${chart.describe}`);
      if (ref.kind === 'local') cpSync(ref.path, chartDest, { recursive: true, dereference: true });
      else
        try {
          await s.exec(helmPull!.cmd, helmPull!.args, { timeoutMs: 5 * 60_000, quiet: false });
        } catch (err) {
          throw chartPullError(err, chart, chartVersion);
        }
      if (!existsSync(path.join(chartDest, 'Chart.yaml')))
        throw new StepError(`the Dapr chart was not written to the bundle (no ${CHART_IN_BUNDLE}/Chart.yaml)`);
      s.check('chart', true, `dapr ${chartVersion} (${chart.describe})`);

      manifest = {
        kitVersion: kitPackage(s.root).version,
        arch,
        images: images.map((image, i) => ({ image, file: imageFile(i, image) })),
        chart: { version: chartVersion, dir: CHART_IN_BUNDLE },
      };
      writeFileSync(path.join(staging, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
      await s.exec(tar.cmd, tar.args, { timeoutMs, quiet: false });
      renameSync(partial, file);
      s.check('bundle', true, `${shown(file)}, ${formatSize(statSync(file).size)}`);
      s.change(shown(file), 'written');
    },
  });
  return {
    steps: [step],
    budgetMs: null,
    ...(step.ok ? { artifacts: { bundle: shown(file) } } : {}),
    data: { bundle: manifest ? { file: shown(file), ...manifest } : undefined },
  };
}

function chartPullError(err: unknown, chart: ChartChoice, version: string): unknown {
  const repo = chart.ref.kind === 'repo' ? chart.ref.repo : '';
  // helm's presence was checked before the first pull (ensureTools).
  const own = `or pass --dapr-chart DIR: a chart directory you have (helm pull dapr --repo ${repo} --version ${version} --untar, where the network reaches it)`;
  if (err instanceof CommandError)
    return new EnvironmentError(`could not download the Dapr chart ${version} from ${repo}: ${explain(err)}`, {
      fix: `run save where ${repo} is reachable, ${own}`,
      cause: err,
    });
  return err;
}

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
  const r = await ctx.exec('tar', ['-xOf', file, MANIFEST], { quiet: true, allowFailure: true, timeoutMs: 10 * 60_000 }).catch((err) => {
    if (!(err instanceof EnvironmentError)) throw err;
    throw new EnvironmentError('tar is not installed or not on PATH: load needs it to read FILE', { fix: 'install tar', docs: 'missing-tools' });
  });
  if (r.exitCode !== 0) throw notABundle(file, /not found/i.test(r.stderr) ? `it holds no ${MANIFEST}` : `tar cannot read it (${tail(r.stderr, 1).trim()})`);
  return parseManifest(r.stdout, file);
}

/**
 * load FILE: the images from their archive files into `target`, the chart to where install-dapr finds it. Unpacked
 * inside the kit's .learnflow/, so the chart is one rename away from its place; the rest is removed.
 */
export async function loadBundle(
  ctx: Ctx,
  file: string,
  m: BundleManifest,
  target: Target,
  expected: readonly string[],
  timeoutMs: number,
): Promise<RunResult> {
  const nodes = await clusterArch(ctx, target.kind);
  if (nodes.arch && nodes.arch !== m.arch)
    throw new UsageError(`FILE ${shown(file)} holds linux/${m.arch} images; ${nodes.why}`, {
      fix: `on a machine with network: ./scripts/images.mts save learnflow-images-${nodes.arch}.tar --arch ${nodes.arch}`,
    });
  if (!nodes.arch) {
    if (!ctx.config.dryRun)
      throw new EnvironmentError(`cannot tell the architecture of the cluster's nodes: ${nodes.why}`, {
        fix: 'start the cluster (or pick it with --context) and re-run',
        docs: 'cluster-unreachable',
      });
    ctx.log.warn(`cannot tell the architecture of the cluster's nodes (${nodes.why}); the bundle is linux/${m.arch}`);
  } else ctx.log.info(`the bundle is linux/${m.arch}, like the nodes (${nodes.why})`);
  const lacking = expected.filter((i) => !m.images.some((b) => b.image === i));
  if (lacking.length)
    ctx.log.warn(`the bundle (kit ${m.kitVersion}) lacks ${lacking.join(', ')}: the cluster will pull ${lacking.length > 1 ? 'them' : 'it'} at deploy time`);

  const chartDest = bundledChartDir(ctx.root, m.chart.version);
  const staging = path.join(path.dirname(chartDest), `.unpack-${ctx.clock.now()}`);
  const untar: Cmd = { cmd: 'tar', args: ['-xf', file, '-C', staging], does: 'load' };
  const loads = m.images.map((i) => loadCommand(target, [path.join(staging, i.file)], true)!);
  if (ctx.config.dryRun)
    return dryRunResult(
      [
        `# load ${m.images.length} images (linux/${m.arch}) into ${target.describe}, and the Dapr chart ${m.chart.version} into ${shown(chartDest)}`,
        `mkdir -p ${staging}`,
        showCmd(untar),
        ...loads.map(showCmd),
        `rm -rf ${chartDest} && mv ${path.join(staging, m.chart.dir)} ${chartDest} && rm -rf ${staging}`,
      ],
      { bundle: { file: shown(file), arch: m.arch, target: target.describe } },
    );
  await ensureTools(ctx, loaderTools(target.kind), `load into ${target.describe}`);

  const step = await runStep(ctx, {
    name: 'load',
    budgetMs: null,
    run: async (s) => {
      mkdirSync(staging, { recursive: true });
      s.cleanup.defer('the unpacked bundle', () => rmSync(staging, { recursive: true, force: true }));
      s.log.info(`unpacking ${shown(file)}`);
      await s.exec(untar.cmd, untar.args, { timeoutMs, quiet: false });
      const chartSrc = path.join(staging, m.chart.dir);
      const missing = [...m.images.map((i) => i.file), `${m.chart.dir}/Chart.yaml`].filter((f) => !existsSync(path.join(staging, f)));
      if (missing.length) throw notABundle(file, `it lacks ${missing.join(', ')}`);
      for (const [i, { image, file: archive }] of m.images.entries()) {
        s.log.info(`[${i + 1}/${m.images.length}] ${image}`);
        await runImageCommands(s, image, [loads[i]!], timeoutMs, target);
        rmSync(path.join(staging, archive), { force: true });
      }
      s.check('images', true, `${m.images.length} loaded into ${target.describe}`);

      rmSync(chartDest, { recursive: true, force: true });
      mkdirSync(path.dirname(chartDest), { recursive: true });
      renameSync(chartSrc, chartDest);
      const pinned = readVersions().dapr.version;
      const where = `Dapr chart ${m.chart.version} in ${shown(chartDest)}`;
      s.check(
        'chart',
        true,
        m.chart.version === pinned
          ? `${where}: install-dapr and deploy-all use it (no chart repository needed)`
          : `${where}; the kit pins ${pinned}, so install-dapr uses it only with --dapr-chart ${shown(chartDest)} --dapr-version ${m.chart.version}`,
      );
      s.change(shown(chartDest), 'unpacked');
    },
  });
  const data = { file: shown(file), arch: m.arch, target: target.describe, images: m.images.map((i) => i.image), chartDir: shown(chartDest) };
  return { steps: [step], budgetMs: null, data: { bundle: data } };
}
