import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

const DESCRIPTION = `One canonical account-status API over ClearGrid, Canopy, Pismo and Spidr.

Statuses: ACTIVE, SUSPENDED, DELINQUENT, DISPUTED, DO_NOT_CONTACT, CLOSED. Every error is
application/problem+json (RFC 9457) with \`code\`, \`retryable\`, \`requestId\` and, whenever a provider
answered, \`provider\` {id, httpStatus, code, message} holding the provider's own code and message.

Authorize with an API key (X-API-Key or Authorization: Bearer) when the gateway has API_KEYS configured.
Scopes: status:read for GET /v1/…, status:write for changes, status:close in addition for CLOSED.`;

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('statusgate')
    .setDescription(DESCRIPTION)
    .setVersion('1.0.0')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'API key' }, 'apiKey')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'The same API key as a bearer token' },
      'bearer',
    )
    .build();
  return SwaggerModule.createDocument(app, config);
}

export function setupSwagger(app: INestApplication): OpenAPIObject {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
    customSiteTitle: 'statusgate API',
    swaggerOptions: { persistAuthorization: true, displayRequestDuration: true, tryItOutEnabled: true },
  });
  return document;
}
