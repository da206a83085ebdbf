/**
 * Issue 14 item 5 / issue 19: every request example in the OpenAPI document works on the built-in sandboxes. Each
 * operation is called with its parameters' examples, and the change operation once per named body example against
 * every provider for real (no dry run): a provider may decline an example it cannot express (STATUS_NOT_SUPPORTED,
 * or VALIDATION_FAILED for a field it does not take), but none may fail it otherwise, and at least one must apply it.
 */
import { call, useGateway } from './support/gateway.js';

const PROVIDERS = ['cleargrid', 'canopy', 'pismo', 'spidr'];
const DECLINED = ['STATUS_NOT_SUPPORTED', 'VALIDATION_FAILED'];

describe('OpenAPI request examples on the sandboxes', () => {
  const gw = useGateway();
  let doc: any;
  let counter = 0;

  beforeAll(async () => {
    doc = (await call('GET', `${gw.url}/docs-json`)).body;
  });

  /** The URL of an operation with every parameter at its example (path ids made unique per call). */
  function urlOf(path: string, op: any, overrides: Record<string, string> = {}): string {
    let url = path;
    const query = new URLSearchParams();
    for (const p of op.parameters ?? []) {
      const value = overrides[p.name] ?? p.example ?? p.schema?.example;
      if (value === undefined) continue;
      if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(String(value)));
      if (p.in === 'query') query.set(p.name, String(value));
    }
    const search = query.toString();
    return `${gw.url}${url}${search ? `?${search}` : ''}`;
  }

  it('should answer every GET operation called with its parameter examples', async () => {
    const gets = Object.entries<any>(doc.paths).filter(([, item]) => item.get);
    expect(gets.length).toBeGreaterThan(3);
    // Records addressed by a server-made id: the example id names none here, so a real one stands in.
    const change = await call('PUT', `${gw.url}/v1/accounts/spidr/examples-1/status`, {
      body: { status: 'ACTIVE' },
    });
    const batch = await call('POST', `${gw.url}/v1/batches`, {
      body: { items: [{ provider: 'spidr', accountId: 'examples-2', status: 'ACTIVE' }] },
    });
    const ids = { changeId: change.body.changeId as string, batchId: batch.body.batchId as string };
    for (const [path, item] of gets) {
      const response = await call('GET', urlOf(path, item.get, ids));
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
    }
  });

  it('should apply every change body example at some provider, and fail it at none', async () => {
    const [path, item] = Object.entries<any>(doc.paths).find(
      ([, i]) => i.put?.operationId === 'changeAccountStatus',
    )!;
    const examples = Object.entries<any>(item.put.requestBody.content['application/json'].examples);
    expect(examples.length).toBeGreaterThan(0);
    const outcomes: Record<string, Record<string, string>> = {};
    for (const [name, example] of examples) {
      outcomes[name] = {};
      for (const provider of PROVIDERS) {
        counter += 1;
        const url = urlOf(path, item.put, { provider, accountId: `ex-${counter}`, dryRun: 'false' });
        const response = await call('PUT', url, { body: example.value });
        outcomes[name][provider] =
          response.status < 300
            ? 'applied'
            : DECLINED.includes(response.body?.code)
              ? 'declined'
              : JSON.stringify(response.body);
      }
    }
    for (const [name, byProvider] of Object.entries(outcomes)) {
      const failures = Object.entries(byProvider).filter(([, o]) => o !== 'applied' && o !== 'declined');
      expect({ name, failures }).toEqual({ name, failures: [] });
      expect({ name, applied: Object.values(byProvider).includes('applied') }).toEqual({
        name,
        applied: true,
      });
    }
  });

  it('should apply the Pismo example at Pismo itself', async () => {
    const body =
      doc.paths['/v1/accounts/{provider}/{accountId}/status'].put.requestBody.content['application/json']
        .examples.pismoBlockWithOptions.value;
    const response = await call('PUT', `${gw.url}/v1/accounts/pismo/EXT-1/status`, { body });
    expect({ status: response.status, body: response.body }).toMatchObject({
      status: 200,
      body: { outcome: 'APPLIED' },
    });
  });
});
