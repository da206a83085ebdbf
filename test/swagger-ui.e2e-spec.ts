/**
 * Issue 6 item 6: Swagger UI works for a person, proven in real Chromium (Debian chromium driven by
 * playwright-core). Opens /docs, authorizes with an API key, runs Try it out → Execute on the status change
 * against the sandboxes and reads the answer off the page; then checks the sandbox got the call and the
 * gateway's log line carries the key id as callerId (so Authorize was used). A second case executes without
 * authorizing and sees 401. Any Content-Security-Policy violation or page error fails the test.
 * Screenshots go to test/artifacts/ (ignored by git).
 *
 * Without a Chromium at CHROMIUM_PATH (default /usr/bin/chromium) the suite is skipped loudly; under CI=true
 * that is a failure instead, so a broken CI image cannot pass by skipping.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { call, sandboxCalls, startGateway, type TestGateway } from './support/gateway.js';
import { testApiKey } from './support/api-keys.js';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join('test', 'artifacts');
const KEY = testApiKey('swagger-tester', 'sk-swagger-ui-7c41e9a2b5d8f036');
const CHANGE_PATH = '/v1/accounts/{provider}/{accountId}/status';
const STEP_TIMEOUT_MS = 15_000;

const chromiumMissing = !existsSync(CHROMIUM_PATH);
if (chromiumMissing) {
  if (process.env.CI === 'true') {
    throw new Error(`Swagger UI browser test cannot run under CI: no Chromium at ${CHROMIUM_PATH}`);
  }
  process.stderr.write(
    `\n*** Swagger UI browser tests SKIPPED: no Chromium at ${CHROMIUM_PATH} ` +
      `(apt-get install chromium, or set CHROMIUM_PATH) ***\n\n`,
  );
}
// Skipped: still registered, so every test is counted as skipped, with the reason in its title.
const describeWithBrowser = chromiumMissing
  ? (title: string, body: () => void) =>
      describe.skip(`${title} [SKIPPED: no Chromium at ${CHROMIUM_PATH}]`, body)
  : describe;

interface PageWatch {
  /** CSP violations seen by the page (securitypolicyviolation events) and console errors mentioning CSP. */
  csp: string[];
  /** Uncaught page errors and console errors. */
  errors: string[];
}

/** A fresh browser context (no stored authorization) with /docs open and every problem recorded. */
async function openDocs(
  browser: Browser,
  gw: TestGateway,
): Promise<{ context: BrowserContext; page: Page; watch: PageWatch }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const watch: PageWatch = { csp: [], errors: [] };
  await page.exposeFunction('__reportCspViolation', (text: string) => watch.csp.push(text));
  // A string, not a function: it runs in the page, and this project's TypeScript has no DOM types.
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) =>
      window.__reportCspViolation(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
        ' (' + e.sourceFile + ':' + e.lineNumber + ')'));`,
  });
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (/Content.Security.Policy/i.test(message.text())) watch.csp.push(message.text());
    // The 401 of the unauthorized case is logged by Chromium as a failed resource; that is the point of it.
    else if (!/status of 401/.test(message.text())) watch.errors.push(message.text());
  });
  page.on('pageerror', (error) => watch.errors.push(error.message));
  const response = await page.goto(`${gw.url}/docs`);
  expect(response?.status()).toBe(200);
  await page.locator('.opblock').first().waitFor();
  return { context, page, watch };
}

/** The operation block of PUT …/status, located through its operationId in the served document. */
async function changeOperation(page: Page, gw: TestGateway) {
  const doc = (await call('GET', `${gw.url}/docs-json`)).body;
  const op = doc.paths[CHANGE_PATH].put;
  return page.locator(`#operations-${op.tags[0]}-${op.operationId}`);
}

/** Expands the operation, switches to Try it out if needed, fills path and body, and clicks Execute. */
async function executeChange(
  page: Page,
  gw: TestGateway,
  accountId: string,
  body: unknown,
): Promise<{ status: string; body: string }> {
  const op = await changeOperation(page, gw);
  await op.locator('.opblock-summary').first().click();
  const tryOut = op.locator('button.try-out__btn');
  // tryItOutEnabled opens the editor at once (the button then reads "Cancel"); otherwise press "Try it out".
  if ((await tryOut.innerText()).trim() === 'Try it out') await tryOut.click();
  await op.locator('tr[data-param-name="provider"] select').selectOption('spidr');
  await op.locator('tr[data-param-name="accountId"] input').fill(accountId);
  await op.locator('textarea.body-param__text').fill(JSON.stringify(body));
  await op.locator('button.execute').click();
  const live = op.locator('.live-responses-table .response').first();
  await live.waitFor();
  const status = (await live.locator('.response-col_status').innerText()).trim();
  const responseBody = await live.locator('.response-col_description pre.microlight').first().innerText();
  return { status, body: responseBody };
}

async function changesOf(gw: TestGateway, accountId: string) {
  return (await sandboxCalls(gw.providerUrl('spidr'))).filter(
    (c) => c.method === 'PATCH' && c.url.endsWith(`/v1/account/${accountId}`),
  );
}

describeWithBrowser('Swagger UI in Chromium (/docs)', () => {
  let gw: TestGateway;
  let browser: Browser;
  let startedAt: number;

  beforeAll(async () => {
    startedAt = Date.now();
    mkdirSync(ARTIFACTS, { recursive: true });
    gw = await startGateway({ API_KEYS: JSON.stringify([KEY]) });
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: 30_000,
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    process.stderr.write(`Swagger UI browser suite took ${Date.now() - startedAt} ms\n`);
  });

  it('should authorize with an API key and change a status with Try it out → Execute', async () => {
    const { context, page, watch } = await openDocs(browser, gw);
    try {
      await page.locator('.auth-wrapper button.authorize').click();
      const dialog = page.locator('.dialog-ux .modal-ux');
      const apiKey = dialog.locator('.auth-container').filter({ hasText: 'X-API-Key' });
      await apiKey.locator('input').fill(KEY.key);
      await apiKey.locator('button.authorize').click();
      await apiKey.getByText('Authorized').waitFor();
      await dialog.locator('button.btn-done').first().click();
      await dialog.waitFor({ state: 'detached' });

      const accountId = `ui-${Date.now()}`;
      const shown = await executeChange(page, gw, accountId, { status: 'SUSPENDED', reason: 'FRAUD' });
      await page.screenshot({ path: join(ARTIFACTS, 'swagger-try-it-out.png'), fullPage: true });

      expect(shown.status).toBe('200');
      const body = JSON.parse(shown.body) as Record<string, unknown>;
      expect(body).toMatchObject({
        provider: 'spidr',
        accountId,
        status: 'SUSPENDED',
        reason: 'FRAUD',
        outcome: 'APPLIED',
        providerStatus: 'suspended',
      });
      const calls = await changesOf(gw, accountId);
      expect(calls.map((c) => c.body)).toEqual([{ status: 'suspended' }]);
      const line = gw.logs.find((l) => l.msg === 'request' && l.requestId === body.requestId);
      expect(line).toMatchObject({ method: 'PUT', httpStatus: 200, callerId: KEY.id });
      expect(watch.csp).toEqual([]);
      expect(watch.errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 90_000);

  it('should show 401 UNAUTHENTICATED when executing without authorizing', async () => {
    const { context, page, watch } = await openDocs(browser, gw);
    try {
      const accountId = `ui-anon-${Date.now()}`;
      const shown = await executeChange(page, gw, accountId, { status: 'SUSPENDED', reason: 'FRAUD' });
      await page.screenshot({ path: join(ARTIFACTS, 'swagger-try-it-out-401.png'), fullPage: true });

      expect(shown.status).toBe('401');
      expect(JSON.parse(shown.body)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
      expect(await changesOf(gw, accountId)).toEqual([]);
      expect(watch.csp).toEqual([]);
      expect(watch.errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 90_000);
});
