import { describe, expect, it } from 'vitest';
import { buildConfig, COMMON_FLAGS, KAFKA_BROKERS_FLAG, NO_CLUSTER_FLAG, PG_URL_FLAG, budgetFlag } from '../../scripts/lib/core/config.js';
import { ExitCode, UsageError } from '../../scripts/lib/core/errors.js';
import { booleanFlag, formatHelp, parseFlags } from '../../scripts/lib/core/flags.js';

const SPECS = [...COMMON_FLAGS, PG_URL_FLAG, KAFKA_BROKERS_FLAG, NO_CLUSTER_FLAG, budgetFlag(600_000)];
const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => buildConfig(parseFlags(SPECS, argv, env));

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('flags and config', () => {
  it('applies defaults', () => {
    const c = parse([]);
    expect(c).toMatchObject({ namespace: 'learnflow', dryRun: false, json: false, noCluster: false });
    expect(c.context).toBeUndefined();
    expect(c.options.get(budgetFlag(1))).toBe(600_000);
  });

  it('reads flags in both --flag value and --flag=value forms, and short flags', () => {
    const c = parse(['-n', 'lf-dev', '--context=kind-kind', '--json', '--budget', '15m', '--kafka-brokers', 'a:1,b:2']);
    expect(c).toMatchObject({ namespace: 'lf-dev', context: 'kind-kind', json: true, kafkaBrokers: ['a:1', 'b:2'] });
    expect(c.options.get(budgetFlag(1))).toBe(900_000);
  });

  it('falls back to the environment, and a flag beats the environment', () => {
    const env = { LEARNFLOW_PG_URL: 'postgres://u:p@db:5432/x', LEARNFLOW_KAFKA_BROKERS: 'k:9092', LEARNFLOW_NAMESPACE: 'from-env' };
    expect(parse([], env)).toMatchObject({ pgUrl: 'postgres://u:p@db:5432/x', kafkaBrokers: ['k:9092'], namespace: 'from-env' });
    expect(parse(['--namespace', 'flag'], env).namespace).toBe('flag');
  });

  it('names an unknown flag and suggests a near one', () => {
    expect(usageError(() => parse(['--namespce', 'x'])).message).toMatch(/unknown flag --namespce \(did you mean --namespace\?\)/);
  });

  it.each([
    [['--namespace', 'Bad_NS'], /--namespace: 'Bad_NS' is not a valid namespace/],
    [['--budget', 'soon'], /--budget must be a duration like 90s, 10m or 1h, got 'soon'/],
    [['--pg-url', 'mysql://x@y/z'], /--pg-url: scheme must be postgres:\/\/ or postgresql:\/\//],
    [['--pg-url', 'not a url'], /--pg-url: not a URL/],
    [['--kafka-brokers', 'localhost'], /'localhost' is not HOST:PORT/],
    [['--namespace'], /--namespace needs a value/],
    [['--json=maybe'], /--json takes no value/],
    [['stray'], /unexpected argument 'stray'/],
  ])('rejects %j with a reason', (argv, message) => {
    expect(usageError(() => parse(argv)).message).toMatch(message);
  });

  it('says where a bad environment value came from', () => {
    expect(usageError(() => parse([], { LEARNFLOW_KAFKA_BROKERS: 'nope' })).message).toMatch(/LEARNFLOW_KAFKA_BROKERS \(environment\)/);
  });

  it('--no-cluster requires the data-plane endpoints', () => {
    expect(usageError(() => parse(['--no-cluster'])).message).toMatch(/--no-cluster needs --pg-url \(or LEARNFLOW_PG_URL\) and --kafka-brokers/);
    expect(usageError(() => parse(['--no-cluster', '--pg-url', 'postgres://a:b@h/db', '--kafka-brokers', 'h:1', '--context', 'x'])).message).toMatch(
      /contradict/,
    );
    expect(parse(['--no-cluster', '--pg-url', 'postgres://a:b@h/db', '--kafka-brokers', 'h:1']).noCluster).toBe(true);
  });

  it('--no-cluster refuses the flags whose spec says they change only the cluster, and no others', () => {
    const specs = [
      ...SPECS,
      { name: 'replicas', kind: 'int' as const, clusterOnly: true, description: 'r' },
      { name: 'plain', kind: 'boolean' as const, description: 'p' },
    ];
    const endpoints = ['--no-cluster', '--pg-url', 'postgres://a:b@h/db', '--kafka-brokers', 'h:1'];
    const config = (argv: string[]) => buildConfig(parseFlags(specs, [...endpoints, ...argv], {}));
    expect(usageError(() => config(['--replicas', '3'])).message).toMatch(/^--no-cluster and --replicas contradict each other/);
    expect(usageError(() => config(['--kubeconfig', '/k'])).message).toMatch(/--kubeconfig contradict/);
    expect(config(['--plain']).options.on(booleanFlag('plain', ''))).toBe(true);
    // Declared but not given: nothing to refuse.
    expect(config([]).noCluster).toBe(true);
  });

  it('help lists every flag with its env variable and default', () => {
    const help = formatHelp('x.mts [flags]', 'Does x.', SPECS);
    for (const s of SPECS) expect(help).toContain(`--${s.name}`);
    expect(help).toContain('env: LEARNFLOW_PG_URL');
    expect(help).toContain('default: learnflow');
    expect(help).toContain('default: 10m');
  });

  it("help keeps a summary's list of subcommands as a list, each item wrapped under its own text", () => {
    const long = 'word '.repeat(30).trim();
    const summary = `Does x.\n  start    ${long}\n           and more\n  stop     stops it`;
    const lines = formatHelp('x.mts start|stop [flags]', summary, SPECS).split('\n');
    const at = lines.indexOf('Does x.');
    expect(lines[at + 1]).toMatch(/^ {2}start {4}word word/);
    expect(lines[at + 2]).toMatch(/^ {11}word/);
    expect(lines.slice(at + 1, at + 5).join('\n')).toContain('word and more');
    expect(lines.find((l) => l.startsWith('  stop'))).toBe('  stop     stops it');
    expect(lines.every((l) => l.length <= 100)).toBe(true);
    // A paragraph that does not end a sentence still comes before the list that follows it.
    const open = formatHelp('x.mts', 'Commands\n  start    starts it', SPECS).split('\n');
    expect(open.slice(2, 4)).toEqual(['Commands', '  start    starts it']);
  });
});
