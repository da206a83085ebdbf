/** Writes clients/typescript/schema.d.ts from the committed openapi.json (see client-types.ts). */
import { readFileSync, writeFileSync } from 'node:fs';
import { clientTypes, type Document } from './client-types.js';

const OUTPUT = 'clients/typescript/schema.d.ts';
writeFileSync(OUTPUT, await clientTypes(JSON.parse(readFileSync('openapi.json', 'utf8')) as Document));
process.stdout.write(`wrote ${OUTPUT}\n`);
