import {
  applyDecorators,
  Controller,
  Inject,
  Injectable,
  SetMetadata,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, type ApiScope, type AppConfig } from '../config/config.js';
import { GatewayError } from '../domain/index.js';
import { RateLimiter } from '../services/rate-limiter.js';
import { CallerAuthService } from '../services/caller-auth.service.js';

const SCOPE = 'statusgate:scope';

/** The scope a route needs; routes without it (health, docs, metrics) are open. */
export const RequireScope = (scope: ApiScope) => SetMetadata(SCOPE, scope);

/**
 * A controller of the keyed API (/v1): every route needs an API key, as X-API-Key or Bearer (both documented),
 * checked by ApiKeyGuard against the route's RequireScope; `tag` groups its operations in the document.
 * Listed in the order stacked decorators apply (bottom-up), so the document is the same as with the stack.
 */
export const ApiKeyController = (path: string, tag: string): ClassDecorator =>
  applyDecorators(
    Controller(path),
    UseGuards(ApiKeyGuard),
    ApiSecurity('bearer'),
    ApiSecurity('apiKey'),
    ApiTags(tag),
  );

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: CallerAuthService,
    @Inject(RateLimiter) private readonly limiter: RateLimiter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const scope = this.reflector.get<ApiScope | undefined>(SCOPE, context.getHandler());
    if (!scope) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const caller = this.auth.authenticate(
      // Without authentication no header is read, so a stray Authorization header cannot fail a request.
      this.auth.enabled ? CallerAuthService.keyFrom(request.headers, request.raw.rawHeaders) : undefined,
    );
    request.ctx.callerId = caller.id;
    request.ctx.scopes = caller.scopes;
    // Per caller key; without authentication every caller is "anonymous", so the client address decides.
    const decision = this.limiter.take(this.auth.enabled ? `key:${caller.id}` : `ip:${request.ip}`);
    if (!decision.allowed) {
      throw new GatewayError(
        'RATE_LIMITED',
        `Caller "${caller.id}" exceeded RATE_LIMIT_PER_MINUTE (${this.config.rateLimitPerMinute}); retry after ${decision.retryAfterSeconds} s`,
        { retryAfter: decision.retryAfterSeconds },
      );
    }
    CallerAuthService.require(caller, scope, `for ${request.method} ${request.routeOptions.url ?? ''}`);
    return true;
  }
}
