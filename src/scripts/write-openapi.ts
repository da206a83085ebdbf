/** Writes the OpenAPI document the app generates to openapi.json (committed; a test fails on drift). */
import { writeFileSync } from 'node:fs';
import { createApp } from '../app.factory.js';
import { loadConfig } from '../runtime/config.js';
import { stableJson } from '../common/stable-json.js';
import { buildOpenApiDocument } from '../api/openapi.js';

const { app } = await createApp(loadConfig({ LOG_LEVEL: 'silent', SANDBOX: 'true' }));
writeFileSync('openapi.json', stableJson(buildOpenApiDocument(app)));
await app.close();
process.stdout.write('wrote openapi.json\n');
