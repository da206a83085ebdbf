/** The soak run's side of the sandboxes: which fault each account gets, and how many writes reached them. */

export const FAULTS = [
  'none',
  'none',
  'none',
  'slow',
  'error500',
  'ratelimit',
  'flaky503',
  'flakyReset',
  'reset',
  'malformed',
] as const;
export type Fault = (typeof FAULTS)[number];

/** Sets up the fault for one fresh account and returns the account id to use. */
export async function arrange(base: string, fault: Fault, id: string): Promise<string> {
  const rule = (r: Record<string, unknown>) =>
    post(`${base}/__sandbox/faults`, { match: { accountId: id }, ...r });
  switch (fault) {
    case 'none':
      return id;
    case 'slow':
      return `SLOW600-${id}`;
    case 'error500':
      return `ERROR500-${id}`;
    case 'ratelimit':
      await rule({ fault: 'status', status: 429, retryAfter: 1 });
      return id;
    case 'flaky503':
      await rule({ fault: 'status', status: 503, times: 1 });
      return id;
    case 'flakyReset':
      await rule({ fault: 'reset', times: 1 });
      return id;
    case 'reset':
      await rule({ fault: 'reset' });
      return id;
    case 'malformed':
      await rule({ fault: 'malformed', times: 1 });
      return id;
  }
}

export async function writes(base: string, provider: string, accountId: string): Promise<number> {
  const { calls } = (await (await fetch(`${base}/__sandbox/calls`)).json()) as {
    calls: Array<{ method: string; url: string }>;
  };
  const path = provider === 'spidr' ? `/v1/account/${accountId}` : `/accounts/${accountId}/status`;
  return calls.filter((c) => (c.method === 'PATCH' || c.method === 'PUT') && c.url === path).length;
}

export async function post(url: string, body: unknown): Promise<void> {
  await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}
