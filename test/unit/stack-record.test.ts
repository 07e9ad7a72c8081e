// The stack's record (components/shared/stack-record.ts): which laptop ports a stack gets beside the others, and
// the one read a run makes of them.

import { describe, expect, it } from 'vitest';
import { choosePorts, laptopPortOf, laptopPorts, parseStackRecord, portsOfSlot, renderStackRecord } from '../../scripts/lib/components/shared/stack-record.js';
import { fakeExec, fakeStep, on } from '../support/fakes.js';

const items = (xs: object[]) => ({ stdout: JSON.stringify({ items: xs }) });

describe('laptop ports of a stack', () => {
  it('the first stack keeps 5432 and 29092; the next ones take the first slot nobody holds', () => {
    expect(choosePorts([])).toEqual({ postgres: 5432, kafka: 29092 });
    expect(choosePorts([portsOfSlot(0)])).toEqual({ postgres: 15432, kafka: 29102 });
    expect(choosePorts([portsOfSlot(0), portsOfSlot(2)])).toEqual(portsOfSlot(1));
    // A stack's Kafka ports are a range (up to 9 brokers): a slot whose range meets a taken one is skipped.
    expect(choosePorts([{ postgres: 1, kafka: 29100 }])).toEqual({ postgres: 15433, kafka: 29112 });
  });

  it('keeps its JSON as every kit wrote it: an older record loads, a new one is written byte for byte the same', () => {
    const json = '{"version":1,"laptopPorts":{"postgres":15432,"kafka":29102}}';
    expect(parseStackRecord({ metadata: { name: 'learnflow-stack' }, data: { 'stack.json': json } })?.laptopPorts).toEqual(portsOfSlot(1));
    expect((renderStackRecord('team-b', portsOfSlot(1)).data as Record<string, string>)['stack.json']).toBe(json);
    expect(parseStackRecord({ metadata: { name: 'x' }, data: { 'stack.json': '{"version":1,"laptopPorts":{"postgres":5432}}' } })).toBeUndefined();
  });

  it("gives a component that forwards but is not in the record its port of the stack's slot", () => {
    const toy = { port: (n: number) => 18080 + n, span: 1 };
    expect(laptopPortOf(portsOfSlot(3), 'kafka', toy)).toBe(29122);
    expect(laptopPortOf(portsOfSlot(3), 'toy', toy)).toBe(18083);
    expect(laptopPortOf(portsOfSlot(0), 'toy', toy)).toBe(18080);
    // Ports no slot gives (set by hand): the first stack's.
    expect(laptopPortOf({ postgres: 7000, kafka: 29102 }, 'toy', toy)).toBe(18080);
  });

  it('round-trips through its ConfigMap; anything else reads as no record', () => {
    const cm = renderStackRecord('team-b', portsOfSlot(1)) as never;
    expect(parseStackRecord(cm)).toEqual({ version: 1, laptopPorts: { postgres: 15432, kafka: 29102 } });
    expect(parseStackRecord({ metadata: { name: 'x' }, data: { 'stack.json': '{"version":2}' } })).toBeUndefined();
    expect(parseStackRecord({ metadata: { name: 'x' }, data: { 'stack.json': 'not json' } })).toBeUndefined();
    expect(parseStackRecord(undefined)).toBeUndefined();
  });

  it("a stack's own record wins; without one, the other stacks' records and an older kit's stacks (slot 0) are avoided; read once per run", async () => {
    const own = fakeExec(on(['get', 'configmap', 'learnflow-stack'], { stdout: JSON.stringify(renderStackRecord('learnflow', portsOfSlot(3))) }));
    const a = fakeStep(own);
    expect(await laptopPorts(a)).toEqual(portsOfSlot(3));
    expect(await laptopPorts(a)).toEqual(portsOfSlot(3));
    expect(own.calls).toHaveLength(1);

    const others = fakeExec(
      on(['get', 'configmap', 'learnflow-stack'], { stdout: '' }),
      on(
        ['get', 'configmap', '--all-namespaces'],
        items([{ ...renderStackRecord('team-c', portsOfSlot(1)), metadata: { name: 'learnflow-stack', namespace: 'team-c' } }]),
      ),
      // learnflow itself (no record yet) and team-old, deployed by a kit without records
      on(
        ['get', 'statefulset', '--all-namespaces'],
        items([{ metadata: { name: 'kafka', namespace: 'team-old' } }, { metadata: { name: 'kafka', namespace: 'learnflow' } }]),
      ),
    );
    expect(await laptopPorts(fakeStep(others))).toEqual(portsOfSlot(2));
  });

  it('needs no cluster for a dry run', async () => {
    const exec = fakeExec();
    expect(await laptopPorts(fakeStep(exec, { values: { 'dry-run': true } }))).toEqual(portsOfSlot(0));
    expect(exec.calls).toEqual([]);
  });
});
