// Every command a user is told to paste works when pasted: the fix lines the code prints and the commands in
// README.md and docs/. Each is split into simple commands (a small shell tokenizer: quotes, &&, ||, ;, |, redirects)
// and checked against what would run it:
// - the kit's own scripts: their real flag parser (an unknown flag, a bad value or a stray argument fails);
// - kubectl, helm, kind and git: the real binaries (kubectl, helm and the kind CLI from the test substrate, git
//   from the machine), pointed at an address where nothing listens (kind: with no container runtime on its PATH),
//   so that only a parse error can fail the check;
// - minikube, k3d and docker (their CLIs cannot be had here: not served by the module proxy, no Docker engine): a
//   table of their subcommands and flags, written from their reference docs (cited below). A command the table
//   does not know fails: extend the table from the docs.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SCRIPTS } from '../../scripts/lib/cli/registry.js';
import { allFlags } from '../../scripts/lib/cli/run.js';
import { buildConfig } from '../../scripts/lib/core/config.js';
import { errorMessage } from '../../scripts/lib/core/errors.js';
import { parseFlags } from '../../scripts/lib/core/flags.js';
import { REPO } from '../support/cli.js';
import { docCommands, DOCS, startsCommand, type Found } from '../support/doc-commands.js';
import { CACHE_BIN } from '../support/paths.js';

const TOOLS = ['kubectl', 'helm', 'minikube', 'kind', 'k3d', 'docker', 'git'] as const;
type Tool = (typeof TOOLS)[number];

// ---------------------------------------------------------------------------------------------
// Where commands come from.

/** The string literals of a `fix:` value in the kit's source: each a fix line the code can print. */
function fixLines(file: string): Found[] {
  const src = readFileSync(path.join(REPO, file), 'utf8');
  const out: Found[] = [];
  for (const m of src.matchAll(/\bfix: /g)) {
    const start = m.index + m[0].length;
    const lineNo = src.slice(0, start).split('\n').length;
    for (const literal of literalsOfExpression(src, start)) out.push({ where: `${file}:${lineNo}`, text: literal });
  }
  return out;
}

/** The string literals of the expression at `start` (up to the `,` or `}` that ends it), `${...}` replaced by a sample. */
function literalsOfExpression(src: string, start: number): string[] {
  const literals: string[] = [];
  let depth = 0;
  for (let i = start; i < src.length; i++) {
    const c = src[i]!;
    if (c === "'" || c === '"' || c === '`') {
      const { text, end } = readLiteral(src, i);
      literals.push(text);
      i = end;
    } else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) {
      if (depth === 0) break;
      depth--;
    } else if (c === ',' && depth === 0) break;
  }
  return literals;
}

function readLiteral(src: string, at: number): { text: string; end: number } {
  const q = src[at]!;
  let text = '';
  for (let i = at + 1; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const n = src[++i]!;
      text += n === 'n' ? '\n' : n;
    } else if (c === q) return { text, end: i };
    else if (q === '`' && c === '$' && src[i + 1] === '{') {
      let depth = 1;
      let j = i + 2;
      for (; j < src.length && depth > 0; j++) {
        if (src[j] === '{') depth++;
        else if (src[j] === '}') depth--;
      }
      text += sampleFor(text);
      i = j - 1;
    } else text += c;
  }
  return { text, end: src.length };
}

/** A value that parses where a `${...}` stood, from the flag just before it. */
function sampleFor(before: string): string {
  const flag = /(--?[\w-]+)[ =]$/.exec(before)?.[1];
  switch (flag) {
    case '-n':
    case '--namespace':
      return 'learnflow';
    case '-l':
    case '--selector':
      return 'app.kubernetes.io/name=kafka';
    case '--replicas':
      return '1';
    case '--cpus':
      return '4';
    case '--memory':
      return '8';
    case '--pg-port':
      return '15432';
    case '--arch':
      return 'amd64';
    default:
      return 'sample';
  }
}

/** The commands inside a fix line's prose: at its start or after ': ', '; ', '(', ', or ', 'e.g. ', '&& '. */
function commandsInProse(text: string): string[] {
  const out: string[] = [];
  for (const piece of text.split('\n')) {
    const re = /(?:^|: |; |\(|, or | or |e\.g\. |&& )(?=(?:\.\/(?:scripts\/)?[\w-]+\.mts|kubectl|helm|minikube|kind|k3d|docker|git) )/g;
    for (const m of piece.matchAll(re)) {
      let cmd = piece.slice(m.index + m[0].length);
      // Prose resumes at two spaces, '(', '; ', ', or ', ', then' or the end of a parenthesis the command is in.
      cmd = cmd.split(/ {2,}| \(|; |, or |, then |, and |\)(?= |$)| \/ | or (?=[a-z])/)[0]!;
      if (m[0] === '(' && cmd.endsWith(')')) cmd = cmd.slice(0, -1);
      // "(kind and k3d ship one)": a tool named in prose, not a command.
      if (/^\S+ (and|or|is|are|ship|ships|has|have|needs|keeps|reports|exited|with)\b/.test(cmd)) continue;
      out.push(cmd.replace(/[.,:]$/, '').trim());
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// A small shell tokenizer: simple commands, separated by && || ; | (redirects dropped, $(...) kept as one word).

function simpleCommands(line: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length) commands.push(words);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') word += line[++i] ?? '';
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\') {
      word += line[++i] ?? '';
      inWord = true;
    } else if (c === '$' && line[i + 1] === '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < line.length; j++) {
        if (line[j] === '(') depth++;
        else if (line[j] === ')' && --depth === 0) break;
      }
      word += line.slice(i, j + 1);
      inWord = true;
      i = j;
    } else if (/\s/.test(c)) endWord();
    else if (c === ';' || c === '&' || c === '|') {
      if (line[i + 1] === c) i++;
      endCommand();
    } else if (c === '>' || c === '<') {
      // A redirect and its target are not arguments.
      endWord();
      if (line[i + 1] === '>' || line[i + 1] === '&') i++;
      while (/\s/.test(line[i + 1] ?? '')) i++;
      while (i + 1 < line.length && !/\s/.test(line[i + 1]!)) i++;
    } else if (/\d/.test(c) && !inWord && line[i + 1] === '>') {
      /* 2>, 1> */
    } else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return commands.map((w) => (w[0] === 'sudo' || w[0] === 'time' ? w.slice(1) : w)).filter((w) => w.length);
}

// ---------------------------------------------------------------------------------------------
// The checks.

function bin(tool: 'kubectl' | 'helm' | 'kind'): string {
  const file = path.join(CACHE_BIN, tool);
  if (!existsSync(file)) throw new Error(`${file} is missing: run bash test/substrate/provision.sh (the README's test command does)`);
  return file;
}

const scratch = mkdtempSync(path.join(tmpdir(), 'lf-pasteable-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const gitRepo = path.join(scratch, 'repo');
execFileSync('git', ['init', '-q', gitRepo]);

const CLI_SYNTAX_ERROR =
  /unknown (shorthand )?flag|unknown command|flag needs an argument|invalid argument .* for .* flag|required flag\(s\)|accepts \d+ arg|requires (at least|exactly) \d+ arg|unknown option|usage: git|is not a git command|Unexpected args|Error: unknown/i;

/** Runs a real CLI where nothing can be reached; returns a parse error, or undefined. */
function realCliError(tool: 'kubectl' | 'helm' | 'kind' | 'git', args: string[]): string | undefined {
  const env = {
    // kind finds no docker, podman or nerdctl, so no command of it can create or load anything.
    PATH: tool === 'kind' ? scratch : (process.env.PATH ?? ''),
    HOME: scratch,
    KUBECONFIG: path.join(scratch, 'no-kubeconfig'),
    HELM_CACHE_HOME: path.join(scratch, 'helm-cache'),
    HELM_CONFIG_HOME: path.join(scratch, 'helm-config'),
    HELM_DATA_HOME: path.join(scratch, 'helm-data'),
    GIT_CONFIG_NOSYSTEM: '1',
  };
  const nowhere =
    tool === 'kubectl' ? ['--server=https://127.0.0.1:9', '--request-timeout=1s'] : tool === 'helm' ? ['--kube-apiserver=https://127.0.0.1:9'] : [];
  // Flags after `--` belong to the command kubectl runs in a pod, not to kubectl.
  const dashdash = args.indexOf('--');
  const full = dashdash === -1 ? [...args, ...nowhere] : [...args.slice(0, dashdash), ...nowhere, ...args.slice(dashdash)];
  const r = spawnSync(tool === 'git' ? 'git' : bin(tool), full, { cwd: tool === 'git' ? gitRepo : scratch, env, input: '', encoding: 'utf8', timeout: 20_000 });
  const text = `${r.stderr ?? ''}\n${tool === 'git' ? '' : (r.stdout ?? '')}`;
  const line = text.split('\n').find((l) => CLI_SYNTAX_ERROR.test(l));
  return line?.trim();
}

/**
 * The CLIs that are not on this machine: their subcommands and the flags the kit's text uses, from their reference
 * docs: minikube.sigs.k8s.io/docs/commands/ (start, addons enable takes one addon name, image load, ssh, delete,
 * status), k3d.io/stable/usage/commands/ (cluster list/start, image import -c), docs.docker.com/reference/cli/docker/.
 */
const TABLE: Record<'minikube' | 'k3d' | 'docker', Record<string, { flags: string[]; args: [number, number] }>> = {
  minikube: {
    start: { flags: ['--cpus', '--memory', '--disk-size', '--driver', '--cni', '--kubernetes-version', '-p', '--profile', '--addons'], args: [0, 0] },
    delete: { flags: ['-p', '--profile', '--all'], args: [0, 0] },
    status: { flags: ['-p', '--profile'], args: [0, 0] },
    stop: { flags: ['-p', '--profile'], args: [0, 0] },
    'addons enable': { flags: ['-p', '--profile'], args: [1, 1] },
    'addons list': { flags: ['-p', '--profile'], args: [0, 0] },
    'image load': { flags: ['-p', '--profile'], args: [1, 99] },
    'image ls': { flags: ['-p', '--profile'], args: [0, 0] },
    ssh: { flags: ['-p', '--profile', '--'], args: [0, 99] },
  },
  k3d: {
    'cluster list': { flags: [], args: [0, 0] },
    'cluster start': { flags: [], args: [0, 99] },
    'cluster create': { flags: [], args: [0, 1] },
    'image import': { flags: ['-c', '--cluster'], args: [1, 99] },
  },
  docker: {
    pull: { flags: ['--platform'], args: [1, 1] },
    'image save': { flags: ['-o', '--output', '--platform'], args: [1, 99] },
    save: { flags: ['-o', '--output', '--platform'], args: [1, 99] },
    info: { flags: ['--format', '-f'], args: [0, 0] },
    'system df': { flags: ['-v'], args: [0, 0] },
    'system prune': { flags: ['-a', '-f', '--volumes'], args: [0, 0] },
    exec: { flags: ['-i', '-t', '-it'], args: [2, 99] },
    run: { flags: ['--rm', '--privileged', '-it', '-i', '-t'], args: [1, 99] },
  },
};

function tableError(tool: keyof typeof TABLE, args: string[]): string | undefined {
  const table = TABLE[tool];
  const two = args.slice(0, 2).join(' ');
  const sub = table[two] ? two : table[args[0] ?? ''] ? args[0]! : undefined;
  if (!sub) return `${tool} ${args.slice(0, 2).join(' ')}: not a ${tool} command the table knows`;
  const spec = table[sub]!;
  const rest = args.slice(sub.split(' ').length);
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--' && spec.flags.includes('--')) {
      positional.push(...rest.slice(i + 1));
      break;
    }
    // docker run IMAGE CMD..., docker exec CONTAINER CMD...: what follows the image or container is the command's.
    if (tool === 'docker' && (sub === 'run' || sub === 'exec') && positional.length >= 1) {
      positional.push(...rest.slice(i));
      break;
    }
    if (a.startsWith('-')) {
      const name = a.split('=')[0]!;
      if (!spec.flags.includes(name)) return `${tool} ${sub}: unknown flag ${name}`;
      const boolean =
        ['--rm', '--privileged', '-it', '-i', '-t', '-a', '-f', '--volumes', '-v', '--all'].includes(name) && !(tool === 'docker' && sub === 'info');
      if (!a.includes('=') && !boolean) i++;
    } else positional.push(a);
  }
  const [min, max] = spec.args;
  if (positional.length < min || positional.length > max)
    return `${tool} ${sub}: takes ${min === max ? min : `${min} to ${max}`} argument(s), got ${positional.length} (${positional.join(' ')})`;
  return undefined;
}

const kitDefs = new Map<string, Awaited<ReturnType<(typeof SCRIPTS)[number]['load']>>>();
async function kitError(script: string, args: string[]): Promise<string | undefined> {
  const entry = SCRIPTS.find((s) => `./${s.path}` === script || s.path === script);
  if (!entry) return `${script}: no such script in the kit`;
  if (!kitDefs.has(entry.name)) kitDefs.set(entry.name, await entry.load());
  const def = kitDefs.get(entry.name)!;
  // Scripts with commands take them as their usage line says: `start|status|stop|run [flags]` (one is needed) or
  // `[save FILE | load FILE] [flags]` (optional, each with its arguments).
  const usage = /\.mts (.*?) \[flags\]/.exec(def.usage ?? '')?.[1];
  let rest = args;
  if (usage) {
    const optional = usage.startsWith('[');
    const alternatives = usage
      .replace(/^\[|\]$/g, '')
      .split('|')
      .map((a) => a.trim().split(/\s+/));
    const i = args.findIndex((a) => alternatives.some((alt) => alt[0] === a));
    if (i === -1 && !optional) return `${script}: needs one of ${alternatives.map((a) => a[0]).join(', ')}`;
    if (i !== -1) {
      const takes = alternatives.find((alt) => alt[0] === args[i])!.length - 1;
      rest = [...args.slice(0, i), ...args.slice(i + 1 + takes)];
    }
  }
  try {
    buildConfig(parseFlags(allFlags(def), rest, {}));
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}

/** Placeholders a person replaces: <pod>, $VARIABLES, [optional parts] and "..." get sample values or go. */
function fillPlaceholders(words: string[]): string[] {
  return words
    .filter((w) => w !== '...' && w !== '…' && !/^\[.*\]$/.test(w))
    .map((w) => w.replace(/<[^>]+>/g, 'sample'))
    .map((w) =>
      w
        .replace(/\$\{?LEARNFLOW_PG_URL\}?/g, 'postgres://learnflow:sample@127.0.0.1:5432/learnflow')
        .replace(/\$\{?LEARNFLOW_KAFKA_BROKERS\}?/g, '127.0.0.1:29092'),
    );
}

async function problem(line: string): Promise<string | undefined> {
  for (const words of simpleCommands(line)) {
    const [cmd, ...raw] = fillPlaceholders(words);
    const args = raw;
    let err: string | undefined;
    if (/^\.\/.*\.mts$/.test(cmd!)) err = await kitError(cmd!, args);
    else if (cmd === 'kubectl' || cmd === 'helm' || cmd === 'kind' || cmd === 'git') err = realCliError(cmd, args);
    else if (cmd === 'minikube' || cmd === 'k3d' || cmd === 'docker') err = tableError(cmd, args);
    if (err) return `${words.join(' ')}: ${err}`;
  }
  return undefined;
}

async function problems(found: readonly Found[]): Promise<string[]> {
  const bad: string[] = [];
  for (const f of found) {
    const p = await problem(f.text);
    if (p) bad.push(`${f.where}: ${p}`);
  }
  return bad;
}

// A usage synopsis (`./scripts/images.mts [save FILE | load FILE] [flags]`) describes, it is not pasted.
const fromDocs = DOCS.flatMap(docCommands)
  .filter((f) => !/ \[flags\]/.test(f.text))
  .filter((f) => startsCommand(f.text) || simpleCommands(f.text).some((w) => TOOLS.includes(w[0] as Tool) || /^\.\/.*\.mts$/.test(w[0]!)));
const sourceFiles = (dir: string): string[] =>
  readdirSync(path.join(REPO, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : /\.m?ts$/.test(e.name) ? [path.join(dir, e.name)] : [],
  );
const fromCode = sourceFiles('scripts/lib')
  .flatMap(fixLines)
  .flatMap((f) => commandsInProse(f.text).map((text) => ({ where: f.where, text })));

describe('every command a user is told to paste', () => {
  it('is found (the checks below have something to check)', () => {
    expect(fromDocs.length).toBeGreaterThan(150);
    expect(fromCode.length).toBeGreaterThan(30);
    const tools = new Set([...fromDocs, ...fromCode].flatMap((f) => simpleCommands(f.text).map((w) => w[0])));
    for (const t of ['kubectl', 'helm', 'minikube', 'kind', 'git', './deploy-all.mts', './scripts/deploy-postgres.mts']) expect(tools, t).toContain(t);
  });

  it('in README.md and docs/ parses with the CLI it calls', { timeout: 240_000 }, async () => {
    expect(await problems(fromDocs)).toEqual([]);
  });

  it('in the fix lines the code prints parses with the CLI it calls', { timeout: 120_000 }, async () => {
    expect(await problems(fromCode)).toEqual([]);
  });

  it('the checks catch what they are for', async () => {
    expect(await problem('minikube addons enable storage-provisioner default-storageclass')).toMatch(/takes 1 argument/);
    expect(await problem('kubectl get pods --no-such-flag')).toMatch(/unknown flag/);
    expect(await problem('kubectl lgos kafka-0')).toMatch(/unknown command/);
    expect(await problem('helm status dapr --no-such-flag')).toMatch(/unknown flag/);
    expect(await problem('git checkout --no-such-option x')).toMatch(/unknown option/);
    expect(await problem('kind load image-archive a.tar --nmae learnflow')).toMatch(/unknown flag/);
    expect(await problem('kind load image-archive a.tar --name learnflow')).toBeUndefined();
    expect(await problem('./deploy-all.mts --no-netpol')).toMatch(/unknown flag/);
    expect(await problem('./scripts/deploy-kafka.mts --replicas 2')).toMatch(/quorum of 2/);
    expect(await problem('./scripts/port-forward.mts restart')).toMatch(/needs one of start/);
    expect(await problem('./scripts/images.mts save bundle.tar --arch arm64')).toBeUndefined();
    expect(await problem('./scripts/images.mts save bundle.tar --arch sparc')).toMatch(/--arch/);
    expect(await problem('kubectl logs kafka-0 -n learnflow --previous --tail=5 | grep -i error')).toBeUndefined();
    expect(simpleCommands(`kubectl get secret x -o jsonpath='{.data.a|b}' | base64 -d > /tmp/f && echo ok`)).toEqual([
      ['kubectl', 'get', 'secret', 'x', '-o', 'jsonpath={.data.a|b}'],
      ['base64', '-d'],
      ['echo', 'ok'],
    ]);
    expect(commandsInProse('the pod is not ready: kubectl describe pod kafka-0 -n learnflow (docs: x)')).toEqual(['kubectl describe pod kafka-0 -n learnflow']);
  });
});
