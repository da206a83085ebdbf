import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { ApiScope } from '../config/config.js';
import { CallerAuthService } from '../services/caller-auth.service.js';

const SCOPE = 'statusgate:scope';

/** The scope a route needs; routes without it (health, docs, metrics) are open. */
export const RequireScope = (scope: ApiScope) => SetMetadata(SCOPE, scope);

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: CallerAuthService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const scope = this.reflector.get<ApiScope | undefined>(SCOPE, context.getHandler());
    if (!scope) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const caller = this.auth.authenticate(CallerAuthService.keyFrom(request.headers));
    request.ctx.callerId = caller.id;
    request.ctx.scopes = caller.scopes;
    CallerAuthService.require(caller, scope, `for ${request.method} ${request.routeOptions.url ?? ''}`);
    return true;
  }
}
