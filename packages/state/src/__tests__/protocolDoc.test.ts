import { readFileSync } from 'node:fs';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { parseClientFrame } from '../internal/frames.js';
import { applyPatch, type JsonValue, type Patch } from '../server.js';

const doc = readFileSync(new URL('../../../../docs/protocol.md', import.meta.url), 'utf8');
const blocks = [...doc.matchAll(/```json (client-frame|server-frame)\n([\s\S]*?)```/g)].map((m) => ({ kind: m[1]!, text: m[2]! }));

const json: v.GenericSchema<JsonValue> = v.lazy(() => v.union([v.string(), v.number(), v.boolean(), v.null(), v.array(json), v.record(v.string(), json)]));
const key = v.union([v.string(), v.number()]);
const path = v.array(v.union([v.string(), v.tuple([key]), v.tuple([key, v.string()])]));
const by = v.optional(v.string());
const op = v.variant('op', [
  v.strictObject({ op: v.literal('set'), path, value: json }),
  v.strictObject({ op: v.literal('del'), path }),
  v.strictObject({ op: v.literal('ins'), path, after: v.nullable(key), value: json, by }),
  v.strictObject({ op: v.literal('rm'), path, key, by }),
  v.strictObject({ op: v.literal('mv'), path, key, after: v.nullable(key), by }),
]);
const patches = v.record(v.string(), v.array(op));
const wireError = v.strictObject({ code: v.pipe(v.string(), v.regex(/^[A-Z][A-Z0-9_]+$/)), message: v.string(), fields: v.optional(v.record(v.string(), v.array(v.string()))) });
const action = v.variant('type', [
  v.strictObject({ type: v.literal('redirect'), to: v.string(), replace: v.optional(v.boolean()) }),
  v.strictObject({ type: v.literal('toast'), message: v.string(), level: v.picklist(['info', 'success', 'warning', 'error']) }),
  v.strictObject({ type: v.literal('download'), filename: v.string(), url: v.optional(v.string()), content: v.optional(v.string()), contentType: v.optional(v.string()) }),
  v.strictObject({ type: v.literal('call'), name: v.string(), args: v.array(json) }),
]);
const seq = v.pipe(v.number(), v.integer(), v.minValue(1));
/** The server frames of src/protocol.ts, as a schema: the doc's examples must fit it exactly. */
const serverFrame = v.variant('t', [
  v.strictObject({ t: v.literal('welcome'), v: v.literal(1), tab: v.string(), token: v.string(), ack: v.pipe(v.number(), v.integer(), v.minValue(0)), states: v.record(v.string(), json) }),
  v.strictObject({ t: v.literal('state'), states: v.record(v.string(), json) }),
  v.strictObject({ t: v.literal('result'), seq, value: v.optional(json), error: v.optional(wireError), patch: v.optional(patches), actions: v.optional(v.array(action)), task: v.optional(v.literal(true)) }),
  v.strictObject({ t: v.literal('done'), seq, value: v.optional(json), error: v.optional(wireError) }),
  v.strictObject({ t: v.literal('patch'), patch: patches, actions: v.optional(v.array(action)) }),
  v.strictObject({ t: v.literal('error'), error: wireError, seq: v.optional(seq) }),
  v.strictObject({ t: v.literal('token'), token: v.string() }),
]);

describe('docs/protocol.md', () => {
  it('has examples of every client and server frame type', () => {
    const types = (kind: string) => new Set(blocks.filter((b) => b.kind === kind).map((b) => (JSON.parse(b.text) as { t: string }).t));
    expect([...types('client-frame')].sort()).toEqual(['cancel', 'event', 'join', 'sub', 'unsub']);
    expect([...types('server-frame')].sort()).toEqual(['done', 'error', 'patch', 'result', 'state', 'token', 'welcome']);
  });

  it.each(blocks.filter((b) => b.kind === 'client-frame').map((b) => [b.text.trim().slice(0, 60), b.text]))('client frame %s parses with the server’s parser', (_, text) => {
    expect(parseClientFrame(text)).toEqual(JSON.parse(text));
  });

  it.each(blocks.filter((b) => b.kind === 'server-frame').map((b) => [b.text.trim().slice(0, 60), b.text]))('server frame %s fits the frame types', (_, text) => {
    const result = v.safeParse(serverFrame, JSON.parse(text));
    expect(result.issues?.map((issue) => `${v.getDotPath(issue)}: ${issue.message}`) ?? []).toEqual([]);
  });

  it('documents patches that fit the op types', () => {
    const examples = [...doc.matchAll(/```json patch\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as unknown);
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const example of examples) expect(v.safeParse(v.array(op), example).issues ?? []).toEqual([]);
  });

  it('applies the welcome, then the result patch, to the documented state', () => {
    const frames = blocks.filter((b) => b.kind === 'server-frame').map((b) => JSON.parse(b.text) as Record<string, unknown>);
    const welcome = frames.find((f) => f.t === 'welcome') as { states: Record<string, JsonValue> };
    const result = frames.find((f) => f.t === 'result' && f.patch) as { patch: Record<string, Patch> };
    const counter = applyPatch(structuredClone(welcome.states.counter!), result.patch.counter!);
    expect(counter).toEqual({ count: 2, double: 4 });
  });

  it('lists every error code of the state runtime in its error table or close codes', async () => {
    const { stateErrorCodes } = await import('../server.js');
    const wire = Object.keys(stateErrorCodes).filter((code) => !['STRATA_STATE_DEFINITION', 'STRATA_STATE_BAD_PATCH', 'STRATA_STATE_CLOSED'].includes(code));
    for (const code of wire) expect(doc, code).toContain(`\`${code}\``);
  });
});
