/** Writes the OpenAPI document the app generates to openapi.json (committed; a test fails on drift). */
import { writeFileSync } from 'node:fs';
import { createApp } from '../app.factory.js';
import { loadConfig } from '../runtime/config.js';
import { stableJson } from '../common/stable-json.js';
import { buildOpenApiDocument } from '../api/openapi.js';

const { app } = await createApp(loadConfig({ LOG_LEVEL: 'silent', SANDBOX: 'true' }));
writeFileSync('openapi.json', stableJson(buildOpenApiDocument(app)));
process.stdout.write('wrote openapi.json\n');
// The SQLite checkpointer's stop() waits only on unref'd handles, so without this ref'd timer Node can find the loop
// empty mid-close and exit 13 (after the file is written). Reported; the fix belongs in persistence/database.ts.
const keepAlive = setInterval(() => undefined, 1_000);
await app.close();
clearInterval(keepAlive);
