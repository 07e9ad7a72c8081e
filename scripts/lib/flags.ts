// Flags as data: parsing, validation, --help and docs/configuration.md all come from these specs.

import { UsageError } from './errors.js';
import { parseDuration } from './duration.js';

export type FlagKind = 'boolean' | 'string' | 'int' | 'duration' | 'list';
export type FlagValue = string | number | boolean | string[];

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  description: string;
  /** Environment variable read when the flag is not given. */
  env?: string;
  default?: FlagValue;
  /** Shown in help: --namespace NAME */
  valueName?: string;
  short?: string;
  choices?: readonly string[];
  /** Extra check on the parsed value; returns why it is wrong. */
  validate?: (value: FlagValue) => string | undefined;
  /** May be given several times (values accumulate, for 'list'). */
  repeatable?: boolean;
}

export interface ParsedFlags {
  values: Record<string, FlagValue | undefined>;
  /** Flags the user set on the command line or through the environment. */
  given: Set<string>;
  positionals: string[];
}

export function parseFlags(specs: readonly FlagSpec[], argv: readonly string[], env: NodeJS.ProcessEnv = {}): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const values: Record<string, FlagValue | undefined> = {};
  const given = new Set<string>();
  const positionals: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let spec: FlagSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      spec = byName.get(name);
      if (!spec) throw unknownFlag(`--${name}`, specs);
    } else if (/^-[a-zA-Z]$/.test(arg)) {
      spec = byShort.get(arg.slice(1));
      if (!spec) throw unknownFlag(arg, specs);
    } else {
      positionals.push(arg);
      continue;
    }
    let raw: string;
    if (spec.kind === 'boolean') {
      raw = inline ?? 'true';
    } else if (inline !== undefined) {
      raw = inline;
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new UsageError(`--${spec.name} needs a value${spec.valueName ? ` (${spec.valueName})` : ''}`, {
          fix: `e.g. --${spec.name} ${example(spec)}`,
        });
      }
      raw = next;
      i++;
    }
    const value = convert(spec, raw, `--${spec.name}`);
    if (spec.kind === 'list' && spec.repeatable && Array.isArray(values[spec.name])) {
      values[spec.name] = [...(values[spec.name] as string[]), ...(value as string[])];
    } else {
      values[spec.name] = value;
    }
    given.add(spec.name);
  }

  for (const spec of specs) {
    if (given.has(spec.name)) continue;
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') {
      values[spec.name] = convert(spec, fromEnv, `${spec.env} (environment)`);
      given.add(spec.name);
    } else {
      values[spec.name] = spec.default;
    }
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument '${positionals[0]}': this script takes flags only`, { fix: 'see --help' });
  }
  return { values, given, positionals };
}

function convert(spec: FlagSpec, raw: string, where: string): FlagValue {
  let value: FlagValue;
  switch (spec.kind) {
    case 'boolean':
      if (!['true', 'false', '1', '0'].includes(raw)) throw new UsageError(`${where} takes no value (or true/false), got '${raw}'`);
      value = raw === 'true' || raw === '1';
      break;
    case 'int': {
      if (!/^\d+$/.test(raw)) throw new UsageError(`${where} must be a whole number, got '${raw}'`);
      value = Number(raw);
      break;
    }
    case 'duration': {
      const ms = parseDuration(raw);
      if (ms === undefined || ms <= 0) throw new UsageError(`${where} must be a duration like 90s, 10m or 1h, got '${raw}'`);
      value = ms;
      break;
    }
    case 'list':
      value = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      break;
    default:
      value = raw;
  }
  if (spec.choices) {
    const items = Array.isArray(value) ? value : [String(value)];
    const bad = items.find((v) => !spec.choices!.includes(v));
    if (bad !== undefined) throw new UsageError(`${where}: '${bad}' is not one of ${spec.choices.join(', ')}`);
  }
  const why = spec.validate?.(value);
  if (why) throw new UsageError(`${where}: ${why}`);
  return value;
}

function unknownFlag(flag: string, specs: readonly FlagSpec[]): UsageError {
  const name = flag.replace(/^-+/, '');
  const near = specs.map((s) => s.name).find((n) => n.startsWith(name.slice(0, 3)) || name.startsWith(n));
  return new UsageError(`unknown flag ${flag}${near ? ` (did you mean --${near}?)` : ''}`, { fix: 'see --help for the flags this script takes' });
}

function example(spec: FlagSpec): string {
  if (spec.default !== undefined && spec.default !== false) return String(spec.default);
  return { int: '3', duration: '10m', list: 'a,b', string: spec.valueName ?? 'VALUE', boolean: '' }[spec.kind];
}

export function formatHelp(usage: string, summary: string, specs: readonly FlagSpec[], footer?: string): string {
  const rows = specs.map((s) => {
    const left = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.kind === 'boolean' ? '' : ` ${s.valueName ?? s.kind.toUpperCase()}`}`;
    const extras = [
      s.choices ? `one of: ${s.choices.join(', ')}` : '',
      s.default !== undefined && s.default !== false && !(Array.isArray(s.default) && s.default.length === 0)
        ? `default: ${s.kind === 'duration' ? `${Number(s.default) / 60_000}m` : String(s.default)}`
        : '',
      s.env ? `env: ${s.env}` : '',
    ].filter(Boolean);
    return { left, right: s.description + (extras.length ? ` (${extras.join('; ')})` : '') };
  });
  const width = Math.max(...rows.map((r) => r.left.length)) + 2;
  const lines = [`Usage: ${usage}`, '', summary, '', 'Flags:', ...rows.map((r) => `  ${r.left.padEnd(width)}${r.right}`)];
  if (footer) lines.push('', footer);
  return lines.join('\n') + '\n';
}
