// The kit's Dapr objects (Components, Configuration, Resiliency) validated against the REAL CRD schemas of the
// pinned chart (crds/ of the chart copied from the github.com/dapr/dapr Go module by test/substrate/provision-kube.sh).
// The validator below covers the OpenAPI v3 subset those CRDs use, strictly: an unknown field is an error, as it
// is for `kubectl apply --server-side` (field validation Strict), and a schema keyword it does not know fails the
// test instead of being ignored. Its own behaviour is pinned by the first describe block.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderAll } from '../../scripts/lib/components/dapr/manifests.js';
import { zipkinEndpointIn } from '../../scripts/lib/components/dapr/settings.js';
import { type Manifest } from '../../scripts/lib/kube/manifests.js';
import { readVersions } from '../../scripts/lib/core/repo.js';
import { PINNED_DAPR_CHART } from '../support/paths.js';

// ------------------------------------------------------------------------------------------- validator

interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: boolean | Schema;
  enum?: unknown[];
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  nullable?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  [k: string]: unknown;
}

/** Keywords that only document or annotate. */
const INERT = new Set(['description', 'default', 'example', 'title', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type']);
const CHECKED = new Set([
  'type',
  'properties',
  'required',
  'items',
  'additionalProperties',
  'enum',
  'format',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'pattern',
  'nullable',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function validateSchema(value: unknown, schema: Schema, at: string, errors: string[]): void {
  for (const k of Object.keys(schema)) {
    if (!INERT.has(k) && !CHECKED.has(k)) errors.push(`${at}: the test's validator does not support the schema keyword '${k}'`);
  }
  if (value === null) {
    if (!schema.nullable) errors.push(`${at}: null is not allowed`);
    return;
  }
  const t = typeOf(value);
  if (schema['x-kubernetes-int-or-string']) {
    if (t !== 'integer' && t !== 'string') errors.push(`${at}: expected an integer or a string, got ${t}`);
  } else if (schema.type) {
    const ok = schema.type === t || (schema.type === 'number' && t === 'integer');
    if (!ok) {
      errors.push(`${at}: expected ${schema.type}, got ${t} (${JSON.stringify(value)})`);
      return;
    }
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) errors.push(`${at}: does not match ${schema.pattern}`);
  }
  if (typeof value === 'number') {
    if (schema.format === 'int32' && (value < -(2 ** 31) || value >= 2 ** 31)) errors.push(`${at}: out of int32 range`);
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((v, i) => validateSchema(v, schema.items!, `${at}[${i}]`, errors));
    return;
  }
  if (t === 'object') {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) errors.push(`${at}: missing required field '${r}'`);
    const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties?.[k];
      if (sub) validateSchema(v, sub, `${at}.${k}`, errors);
      else if (typeof schema.additionalProperties === 'object') validateSchema(v, schema.additionalProperties, `${at}.${k}`, errors);
      else if (schema.additionalProperties === true || preserve || (!schema.properties && schema.type !== 'object')) continue;
      else if (
        !schema.properties &&
        schema.additionalProperties === undefined &&
        schema.type === 'object' &&
        at.endsWith('.metadata') &&
        at.split('.').length === 2
      )
        continue;
      else errors.push(`${at}: unknown field '${k}'`);
    }
  }
}

interface Crd {
  spec: { group: string; names: { kind: string }; scope: string; versions: { name: string; served: boolean; schema: { openAPIV3Schema: Schema } }[] };
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Validates one object against the CRD of its kind: apiVersion, ObjectMeta basics, then the schema. */
export function validateAgainstCrds(obj: Manifest, crds: readonly Crd[]): string[] {
  const crd = crds.find((c) => c.spec.names.kind === obj.kind && obj.apiVersion.startsWith(`${c.spec.group}/`));
  if (!crd) return [`${obj.kind}/${obj.metadata.name}: no CRD for ${obj.apiVersion} ${obj.kind}`];
  const version = crd.spec.versions.find((v) => `${crd.spec.group}/${v.name}` === obj.apiVersion);
  if (!version?.served) return [`${obj.kind}/${obj.metadata.name}: ${obj.apiVersion} is not a served version`];
  const errors: string[] = [];
  const m = obj.metadata;
  if (!DNS_SUBDOMAIN.test(m.name) || m.name.length > 253) errors.push(`metadata.name '${m.name}' is not a DNS subdomain`);
  if (crd.spec.scope === 'Namespaced' && !m.namespace) errors.push('metadata.namespace missing on a namespaced kind');
  for (const [k, v] of Object.entries({ ...(m.labels ?? {}), ...(m.annotations ?? {}) }))
    if (typeof v !== 'string') errors.push(`metadata: label/annotation ${k} is not a string`);
  validateSchema(obj, version.schema.openAPIV3Schema, obj.kind, errors);
  return errors.map((e) => `${obj.kind}/${obj.metadata.name}: ${e}`);
}

// ---------------------------------------------------------------------------------------------- the CRDs

const DAPR_VERSION = readVersions().dapr.version;
const CRD_DIR = path.join(PINNED_DAPR_CHART, 'crds');

function loadCrds(): Crd[] {
  if (!existsSync(CRD_DIR)) {
    throw new Error(`the Dapr ${DAPR_VERSION} chart is not provisioned: ${CRD_DIR} is missing; run bash test/substrate/provision-kube.sh`);
  }
  return readdirSync(CRD_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(CRD_DIR, f), 'utf8')).map((d) => d.toJS() as Crd | null))
    .filter((c): c is Crd => Boolean(c?.spec?.names?.kind));
}

/** Manifests as the API server receives them (kubectl sends JSON). */
const asJson = (ms: Manifest[]): Manifest[] => JSON.parse(JSON.stringify(ms)) as Manifest[];

describe('the schema validator (so that a pass means something)', () => {
  const schema: Schema = {
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: {
        type: 'object',
        required: ['type'],
        properties: {
          type: { type: 'string' },
          n: { type: 'integer', format: 'int32' },
          items: {
            type: 'array',
            items: { type: 'object', properties: { name: { type: 'string' }, value: { 'x-kubernetes-preserve-unknown-fields': true } } },
          },
          map: { type: 'object', additionalProperties: { type: 'string' } },
          mode: { type: 'string', enum: ['a', 'b'] },
        },
      },
    },
  };
  const run = (v: unknown) => {
    const e: string[] = [];
    validateSchema(v, schema, 'X', e);
    return e;
  };

  it('accepts a conforming object, free-form values and ObjectMeta', () => {
    expect(
      run({
        apiVersion: 'a/v1',
        kind: 'X',
        metadata: { name: 'x', labels: { a: 'b' } },
        spec: { type: 't', n: 3, items: [{ name: 'a', value: { any: [1] } }], map: { k: 'v' }, mode: 'a' },
      }),
    ).toEqual([]);
  });

  it('rejects unknown fields, wrong types, missing required fields, enum misses and unknown keywords', () => {
    expect(run({ spec: { type: 't', typo: 1 } })).toEqual(["X.spec: unknown field 'typo'"]);
    expect(run({ spec: { type: 3 } })[0]).toMatch(/X\.spec\.type: expected string, got integer/);
    expect(run({ spec: {} })).toEqual(["X.spec: missing required field 'type'"]);
    expect(run({ spec: { type: 't', n: 1.5 } })[0]).toMatch(/expected integer, got number/);
    expect(run({ spec: { type: 't', map: { k: 1 } } })[0]).toMatch(/X\.spec\.map\.k: expected string/);
    expect(run({ spec: { type: 't', mode: 'c' } })[0]).toMatch(/not one of/);
    expect(run({ spec: { type: 't', items: [{ nam: 'a' }] } })).toEqual(["X.spec.items[0]: unknown field 'nam'"]);
    const e: string[] = [];
    validateSchema('x', { type: 'string', 'x-kubernetes-validations': [] }, 'Y', e);
    expect(e[0]).toMatch(/does not support the schema keyword 'x-kubernetes-validations'/);
  });
});

describe(`kit objects against the Dapr ${DAPR_VERSION} CRD schemas`, () => {
  const crds = loadCrds();
  const settings = {
    namespace: 'learnflow',
    consumerGroup: 'learnflow-consumers',
    samplingRate: '1',
    zipkinEndpoint: zipkinEndpointIn('learnflow'),
    withRedis: true,
  };
  const all = asJson(renderAll(settings, { connectionString: 'host=x password=y', redisPassword: 'z'.repeat(32) }));
  const daprObjects = all.filter((m) => m.apiVersion.startsWith('dapr.io/'));

  it('finds the CRDs of every kind the kit renders', () => {
    expect(crds.map((c) => c.spec.names.kind)).toEqual(expect.arrayContaining(['Component', 'Configuration', 'Resiliency', 'Subscription']));
    expect(daprObjects.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'Component/kafka-pubsub',
      'Component/statestore',
      'Component/statestore-redis',
      'Configuration/learnflow-config',
      'Resiliency/learnflow-resiliency',
    ]);
  });

  for (const obj of daprObjects) {
    it(`${obj.kind}/${obj.metadata.name} is valid`, () => {
      expect(validateAgainstCrds(obj, crds)).toEqual([]);
    });
  }

  it('catches a mistake in a real object (a misspelt field, a number where the CRD wants a string)', () => {
    const comp = structuredClone(daprObjects.find((m) => m.metadata.name === 'kafka-pubsub')!) as Manifest & { spec: Record<string, unknown> };
    comp.spec.metdata = [];
    const res = structuredClone(daprObjects.find((m) => m.kind === 'Resiliency')!) as Manifest & { spec: { policies: { timeouts: Record<string, unknown> } } };
    res.spec.policies.timeouts.publish = 5;
    expect(validateAgainstCrds(comp, crds).join('\n')).toMatch(/unknown field 'metdata'/);
    expect(validateAgainstCrds(res, crds).join('\n')).toMatch(/timeouts\.publish: expected string/);
  });

  it('every resiliency target names a policy that exists', () => {
    const res = daprObjects.find((m) => m.kind === 'Resiliency') as unknown as {
      spec: { policies: Record<string, Record<string, unknown>>; targets: { components: Record<string, Record<string, Record<string, string>>> } };
    };
    const kindOf: Record<string, string> = { timeout: 'timeouts', retry: 'retries', circuitBreaker: 'circuitBreakers' };
    for (const [component, dirs] of Object.entries(res.spec.targets.components)) {
      for (const [dir, refs] of Object.entries(dirs)) {
        for (const [kind, name] of Object.entries(refs)) {
          expect(res.spec.policies[kindOf[kind]!]?.[name], `${component}.${dir}.${kind} -> ${name}`).toBeDefined();
        }
      }
    }
  });
});
