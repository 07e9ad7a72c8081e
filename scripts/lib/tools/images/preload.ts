// The commands that put an image into a local cluster, from the network (--load) or from an archive file (load
// FILE), and the step that runs them one image at a time: a progress line each, a failure naming its image.

import type { StepCtx } from '../../run/context.js';
import { CommandError, EnvironmentError, StepError } from '../../core/errors.js';
import { formatCommand } from '../../core/exec.js';
import { describeTarget, explain, type Arch, type ImageStore, type PreloadTarget, type Target } from './detect.js';

export interface Cmd {
  cmd: string;
  args: string[];
  /** What it does to the image, for the message when it fails. */
  does: 'pull' | 'save' | 'load';
  /** --load's pulls: skipped when the image is already in the local Docker (a re-run after a failure pulls no more). */
  unlessPresent?: string;
}

export const showCmd = (c: Cmd): string => formatCommand(c.cmd, c.args);

/** What the kind archive form needs: the store decides the form, the architecture the platform saved. */
export interface KindForm {
  store: ImageStore;
  arch: Arch;
}

const platform = (arch: Arch) => `linux/${arch}`;

function pull(image: string, arch?: Arch): Cmd {
  return { cmd: 'docker', args: ['pull', ...(arch ? ['--platform', platform(arch)] : []), image], does: 'pull', unlessPresent: image };
}

/** The tools --load and load FILE need for a target, checked before the first image (kind and k3d drive Docker). */
export function toolsFor(kind: PreloadTarget): string[] {
  return { minikube: ['minikube'], kind: ['docker', 'kind'], k3d: ['docker', 'k3d'], 'docker-desktop': ['docker'] }[kind];
}

/**
 * --load, one image: pulled into the host's Docker first where the loader reads from it (kind, k3d, Docker
 * Desktop); minikube pulls for itself. kind on the containerd image store: one platform saved to `archive`, then
 * `kind load image-archive` (kubernetes-sigs/kind#4247); on the classic store, `kind load docker-image`.
 */
export function preloadImageCommands(image: string, target: Pick<Target, 'kind' | 'cluster'>, kindForm: KindForm | undefined, archive: string): Cmd[] {
  switch (target.kind) {
    case 'minikube':
      return [{ cmd: 'minikube', args: ['image', 'load', image, ...(target.cluster ? ['-p', target.cluster] : [])], does: 'load' }];
    case 'kind':
      if (!kindForm || kindForm.store === 'classic')
        return [pull(image), { cmd: 'kind', args: ['load', 'docker-image', image, '--name', target.cluster!], does: 'load' }];
      return [
        pull(image, kindForm.arch),
        { cmd: 'docker', args: ['image', 'save', '--platform', platform(kindForm.arch), '-o', archive, image], does: 'save' },
        { cmd: 'kind', args: ['load', 'image-archive', archive, '--name', target.cluster!], does: 'load' },
      ];
    case 'k3d':
      return [pull(image), { cmd: 'k3d', args: ['image', 'import', image, '-c', target.cluster!], does: 'load' }];
    case 'docker-desktop':
      // Its Kubernetes runs on the Docker engine's images: a pull is the pre-load.
      return [pull(image)];
  }
}

/** load FILE, one image from its archive file. */
export function archiveLoadCommand(file: string, target: Pick<Target, 'kind' | 'cluster'>): Cmd {
  switch (target.kind) {
    case 'minikube':
      return { cmd: 'minikube', args: ['image', 'load', file, ...(target.cluster ? ['-p', target.cluster] : [])], does: 'load' };
    case 'kind':
      return { cmd: 'kind', args: ['load', 'image-archive', file, '--name', target.cluster!], does: 'load' };
    case 'k3d':
      return { cmd: 'k3d', args: ['image', 'import', file, '-c', target.cluster!], does: 'load' };
    case 'docker-desktop':
      return { cmd: 'docker', args: ['load', '-i', file], does: 'load' };
  }
}

/** Runs one image's commands; a failure is exit 1 naming the image, or exit 3 when Docker is too old for them. */
export async function runImageCommands(
  step: StepCtx,
  image: string,
  cmds: readonly Cmd[],
  timeoutMs: number,
  target?: Pick<Target, 'kind' | 'cluster'>,
): Promise<void> {
  for (const c of cmds) {
    if (c.unlessPresent) {
      const have = await step.exec('docker', ['image', 'inspect', '--format', '{{.Id}}', c.unlessPresent], {
        quiet: true,
        allowFailure: true,
        timeoutMs: 30_000,
      });
      if (have.exitCode === 0) {
        step.log.info(`${image} is already in the local Docker: not pulled`);
        continue;
      }
    }
    try {
      await step.exec(c.cmd, c.args, { timeoutMs, quiet: false });
    } catch (err) {
      throw explainFailure(err, image, c, target);
    }
  }
}

export function explainFailure(err: unknown, image: string, c: Cmd, target?: Pick<Target, 'kind' | 'cluster'>): unknown {
  if (!(err instanceof CommandError)) return err;
  const why = err.timedOut ? 'timed out (raise --timeout on a slow network)' : explain(err);
  if (c.cmd === 'docker' && c.args.includes('--platform') && /unknown flag: --platform/.test(err.stderrTail))
    return new EnvironmentError(`this Docker is too old for \`${showCmd(c).split(' --platform')[0]} --platform\` (${why})`, {
      fix: 'upgrade Docker to 28 or newer (docker image save --platform needs API 1.48)',
      cause: err,
    });
  const what = {
    pull: `could not pull ${image}`,
    save: `could not save ${image}`,
    load: `could not load ${image}${target ? ` into ${describeTarget(target.kind, target.cluster)}` : ''}`,
  }[c.does];
  return new StepError(`${what}: ${why}`, {
    fix:
      c.does === 'pull'
        ? `check the network and the image name, then re-run (images already pulled are not pulled again): ${showCmd(c)}`
        : `re-run with --verbose to see every command; this one alone: ${showCmd(c)}`,
    docs: 'imagepullbackoff',
    cause: err,
  });
}
