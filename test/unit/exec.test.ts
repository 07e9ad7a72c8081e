import { describe, expect, it } from 'vitest';
import { CommandError, EnvironmentError } from '../../scripts/lib/core/errors.js';
import { createExec, formatCommand, shellQuote } from '../../scripts/lib/core/exec.js';
import { memoryLogger, SecretRegistry } from '../../scripts/lib/core/log.js';

describe('exec', () => {
  it('quotes arguments so the logged line can be pasted', () => {
    expect(shellQuote('simple-arg_1.2')).toBe('simple-arg_1.2');
    expect(shellQuote("it's a b")).toBe(`'it'\\''s a b'`);
    expect(shellQuote('')).toBe("''");
    expect(formatCommand('kubectl', ['get', 'pods', '-l', 'app in (a, b)'])).toBe("kubectl get pods -l 'app in (a, b)'");
  });

  it('masks registered secrets and URL passwords in the logged command', () => {
    const secrets = new SecretRegistry();
    secrets.add('s3cr3t-pw');
    expect(formatCommand('psql', ['postgres://u:hunter22@h/db', '--pw', 's3cr3t-pw'], secrets)).toBe('psql postgres://u:***@h/db --pw ***');
  });

  it('runs a real program with an argument array: no shell interpretation', async () => {
    const log = memoryLogger();
    const exec = createExec(log);
    const r = await exec('printf', ['%s|', 'a b', '$HOME', '; rm -rf /']);
    expect(r.stdout).toBe('a b|$HOME|; rm -rf /|');
    expect(log.lines.some((l) => l.includes("$ printf '%s|' 'a b' '$HOME' '; rm -rf /'"))).toBe(true);
  });

  it('keeps a UTF-8 character that arrives split across two chunks of output', async () => {
    const exec = createExec(memoryLogger());
    // 'é' is 0xc3 0xa9: its two bytes written apart, so they reach the kit in two reads.
    const script = 'process.stdout.write(Buffer.from([0x61, 0xc3])); setTimeout(() => process.stdout.write(Buffer.from([0xa9, 0x62])), 100);';
    const r = await exec(process.execPath, ['-e', script]);
    expect(r.stdout).toBe('aéb');
  });

  it('passes stdin and extra environment without putting them in argv or the log', async () => {
    const log = memoryLogger();
    const exec = createExec(log);
    const r = await exec('sh', ['-c', 'cat; printf "%s" "$KIT_SECRET"'], { input: 'from-stdin:', env: { KIT_SECRET: 'envpw' } });
    expect(r.stdout).toBe('from-stdin:envpw');
    expect(log.lines.join('\n')).not.toContain('envpw');
  });

  it('turns a non-zero exit into a CommandError that keeps the command, code and stderr tail', async () => {
    const exec = createExec(memoryLogger());
    const err = await exec('sh', ['-c', 'echo out; for i in $(seq 1 30); do echo "line $i" >&2; done; exit 3']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    const ce = err as CommandError;
    expect(ce.code).toBe(3);
    expect(ce.command).toContain('sh -c');
    expect(ce.stderrTail).toContain('line 30');
    expect(ce.stderrTail).not.toContain('line 1\n');
    expect(ce.message).toMatch(/exited with code 3/);
  });

  it('returns the result instead of throwing when allowed to fail', async () => {
    const r = await createExec(memoryLogger())('sh', ['-c', 'exit 4'], { allowFailure: true });
    expect(r.exitCode).toBe(4);
  });

  it('kills a command at its timeout', async () => {
    const started = Date.now();
    const err = (await createExec(memoryLogger())('sleep', ['5'], { timeoutMs: 300 }).catch((e: unknown) => e)) as CommandError;
    expect(err).toBeInstanceOf(CommandError);
    expect(err.timedOut).toBe(true);
    expect(err.message).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('reports a missing program as an environment problem (exit 3) with a fix', async () => {
    const err = await createExec(memoryLogger())('no-such-tool-xyz', ['--version']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).exitCode).toBe(3);
    expect((err as EnvironmentError).message).toMatch(/no-such-tool-xyz is not installed/);
  });
});
