// Commands a user is told to paste, as README.md and docs/ give them: the lines of shell blocks (continuations
// joined, prompts and comments dropped) and the inline code spans that start a command. Read by
// test/integration/pasteable-commands.test.ts (each parses) and the real-node e2e (the Kafka lines print their answer).

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './cli.js';

export interface Found {
  where: string;
  text: string;
}

export const DOCS = ['README.md', ...readdirSync(path.join(REPO, 'docs')).map((f) => `docs/${f}`)].filter((f) => f.endsWith('.md'));

/** Lines of ```bash / ```sh blocks (continuations joined, prompts and comments dropped) and `inline code` spans. */
export function docCommands(file: string): Found[] {
  const lines = readFileSync(path.join(REPO, file), 'utf8').split('\n');
  const out: Found[] = [];
  let inShell = false;
  let inOther = false;
  let pending = '';
  lines.forEach((line, i) => {
    const fence = /^\s*```(\w*)/.exec(line);
    if (fence) {
      if (inShell || inOther) {
        inShell = inOther = false;
      } else if (['bash', 'sh', 'shell', 'console'].includes(fence[1]!)) inShell = true;
      else inOther = true;
      return;
    }
    if (inShell) {
      const text = (pending + line.replace(/^\s*\$ /, '')).trimEnd();
      if (text.endsWith('\\')) {
        pending = text.slice(0, -1) + ' ';
        return;
      }
      pending = '';
      if (text.trim() && !text.trim().startsWith('#')) out.push({ where: `${file}:${i + 1}`, text: stripComment(text) });
      return;
    }
    if (inOther) return;
    // Inline code is a command to paste when it gives a flag or runs a kit script with arguments; a bare name
    // (`kubectl`, `./scripts/port-forward.mts`) or a quoted message (`kubectl is not installed`) is not.
    for (const m of line.matchAll(/`([^`]+)`/g)) {
      const words = m[1]!.trim().split(/\s+/);
      if (startsCommand(m[1]!) && words.slice(1).some((w) => w.startsWith('-') || (words[0]!.endsWith('.mts') && !w.startsWith('['))))
        out.push({ where: `${file}:${i + 1}`, text: m[1]! });
    }
  });
  return out;
}

/** A `# comment` after a command (outside quotes). */
function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) return text.slice(0, i).trimEnd();
  }
  return text;
}

export const COMMAND_START = /^(?:\.\/(?:scripts\/)?[\w-]+\.mts|kubectl|helm|minikube|kind|k3d|docker|git)(?=\s|$)/;

export function startsCommand(text: string): boolean {
  return COMMAND_START.test(text.trim());
}
