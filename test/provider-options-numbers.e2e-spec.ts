/**
 * Issue 13 item 9: numbers in `providerOptions` must reach the provider exactly as the caller wrote them.
 * `1e400` used to reach Pismo as null and `9007199254740993` as …992: JSON.parse had already changed them
 * before any validation ran. What cannot be sent faithfully is refused with 400 VALIDATION_FAILED naming
 * the field (CONTRACT §4), before any provider call; what can is sent unchanged. Raw bodies, over HTTP.
 */
import { call, expectProblem, sandboxCalls, useGateway } from './support/gateway.js';

const gw = useGateway();
let counter = 0;
const fresh = () => `num-${process.pid}-${++counter}`;

/** PUT with the body text as written (no JSON.stringify on the way, which would already lose digits). */
function putRaw(provider: string, accountId: string, rawBody: string) {
  return call('PUT', `${gw.url}/v1/accounts/${provider}/${accountId}/status`, { rawBody });
}

/** A Pismo SUSPENDED whose `providerOptions.metadata` is the text `metadata`, as written. */
function suspendWithMetadata(accountId: string, metadata: string) {
  return putRaw('pismo', accountId, `{"status":"SUSPENDED","providerOptions":{"metadata":${metadata}}}`);
}

async function callsFor(provider: 'pismo' | 'spidr', accountId: string) {
  return (await sandboxCalls(gw.providerUrl(provider))).filter((c) => c.url.includes(accountId));
}

describe('numbers in providerOptions', () => {
  it.each([
    ['1e400', 'metadata.big', '{"big":1e400}'],
    ['-1e400', 'metadata.big', '{"big":-1e400}'],
    ['9007199254740993', 'metadata.big', '{"big":9007199254740993}'],
    ['12345678901234567890', 'metadata.big', '{"big":12345678901234567890}'],
    ['0.1000000000000000055511151231257827', 'metadata.big', '{"big":0.1000000000000000055511151231257827}'],
    ['1e-400', 'metadata.big', '{"big":1e-400}'],
    ['nested in an array', 'metadata.list[1].n', '{"list":[1,{"n":9007199254740993}]}'],
  ])(
    'should refuse %s with 400 VALIDATION_FAILED naming the field, before any Pismo call',
    async (_what, path, metadata) => {
      const id = fresh();
      const res = await suspendWithMetadata(id, metadata);
      const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(problem.errors).toEqual([{ field: `providerOptions.${path}`, message: expect.any(String) }]);
      expect(problem.errors[0].message).toMatch(/exactly/);
      expect(await callsFor('pismo', id)).toEqual([]);
    },
  );

  it('should name every unfaithful number, not only the first', async () => {
    const id = fresh();
    const res = await suspendWithMetadata(id, '{"a":1e400,"b":{"c":9007199254740993}}');
    const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(problem.errors.map((e: { field: string }) => e.field)).toEqual([
      'providerOptions.metadata.a',
      'providerOptions.metadata.b.c',
    ]);
  });

  it('should send numbers that a double carries exactly unchanged to Pismo', async () => {
    const id = fresh();
    const metadata = '{"max":9007199254740991,"min":-9007199254740991,"f":1.5,"e":1e21,"small":2.5e-8,"z":0}';
    const res = await suspendWithMetadata(id, metadata);
    expect(res.status).toBe(200);
    const [write] = (await callsFor('pismo', id)).filter((c) => c.method === 'PATCH');
    expect(write.body).toEqual({
      status: 'BLOCKED',
      metadata: { max: 9007199254740991, min: -9007199254740991, f: 1.5, e: 1e21, small: 2.5e-8, z: 0 },
    });
  });

  it('should leave numbers outside providerOptions to the ordinary validation', async () => {
    const res = await putRaw('pismo', fresh(), '{"status":"SUSPENDED","note":1e400}');
    const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(new Set(problem.errors.map((e: { field: string }) => e.field))).toEqual(new Set(['note']));
  });

  it('should accept long digit strings (ids), which are text, not numbers', async () => {
    const id = fresh();
    const res = await suspendWithMetadata(id, '{"card":"12345678901234567890123"}');
    expect(res.status).toBe(200);
  });
});
