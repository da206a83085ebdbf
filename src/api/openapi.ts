import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

const DESCRIPTION = `One canonical account-status API over ClearGrid, Canopy, Pismo and Spidr.

Statuses: ACTIVE, SUSPENDED, DELINQUENT, DISPUTED, DO_NOT_CONTACT, CLOSED. Every error is
application/problem+json (RFC 9457) with \`code\`, \`retryable\`, \`requestId\` and, whenever a provider
answered, \`provider\` {id, httpStatus, code, message} holding the provider's own code and message.

Authorize with an API key (X-API-Key or Authorization: Bearer) when the gateway has API_KEYS configured.
Scopes: status:read for GET /v1/…, status:write for changes, status:close in addition for CLOSED.

**Try it out**: click Authorize, paste the key under apiKey (or bearer), Authorize, Close; open an operation, fill
it in and press Execute. Every response lists its error codes with named example bodies. On the built-in sandboxes
(SANDBOX=true) any account id works, and these prefixes make the sandbox fail the documented way (e.g. spidr,
NOTFOUND-1): NOTFOUND- → ACCOUNT_NOT_FOUND, CLOSED- → ACCOUNT_CLOSED (not Canopy), REJECT- → PROVIDER_REJECTED,
ERROR500- → PROVIDER_ERROR, RATELIMIT- → RATE_LIMITED (after the retries), SLOW- → an answer after 3 s.`;

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('statusgate')
    .setDescription(DESCRIPTION)
    .setVersion('1.0.0')
    // 3.0.3, not 3.1: @nestjs/swagger writes 3.0 shapes (`nullable`, `example`) from the DTOs, so 3.0.3 is what
    // the decorators express without rewriting the output; 3.0.3 also states that a nullable enum lists null.
    .setOpenAPIVersion('3.0.3')
    .setLicense('UNLICENSED (internal service)', 'https://spdx.org/licenses/')
    // Relative: the gateway serves its own document, so clients resolve it against wherever they fetched it.
    .addServer('/', 'This gateway (the host that serves this document)')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'API key' }, 'apiKey')
    // addBearerAuth would add bearerFormat: JWT; the key is an opaque string.
    .addSecurity('bearer', {
      type: 'http',
      scheme: 'bearer',
      description: 'The same API key as a bearer token (an opaque string, not a JWT)',
    })
    .build();
  return SwaggerModule.createDocument(app, config);
}

/**
 * Serves the document and Swagger UI at /docs. The document is built on the first request for it, not at
 * start-up: scanning every route and DTO costs start time and memory that most gateways never need.
 */
export function setupSwagger(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
    customSiteTitle: 'statusgate API',
    swaggerOptions: { persistAuthorization: true, displayRequestDuration: true, tryItOutEnabled: true },
  });
}
