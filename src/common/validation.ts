import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { GatewayError, type FieldError } from '../domain/index.js';

/** Deeper bodies are refused before class-transformer walks them (it recurses: thousands of levels overflow). */
export const MAX_BODY_DEPTH = 16;

/** Keys class-transformer silently drops (they name Object.prototype members), so the whitelist never sees them. */
const PROTOTYPE_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/** `items[3].status`: array elements by index in brackets (CONTRACT §6), object members dotted. */
function childPath(parent: string, property: string): string {
  if (!parent) return property;
  return /^\d+$/.test(property) ? `${parent}[${property}]` : `${parent}.${property}`;
}

/** Flattens class-validator errors to `{field, message}` with dotted paths. */
export function fieldErrors(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = childPath(parent, error.property);
    const own = Object.entries(error.constraints ?? {}).map(([rule, message]) => ({
      field,
      message: rule === 'whitelistValidation' ? `${field} is not a known field` : message,
    }));
    return [...own, ...fieldErrors(error.children ?? [], field)];
  });
}

/**
 * Checks a raw body without recursion: nesting depth, and keys that would vanish in the transform.
 * Returns the field errors (empty when fine).
 */
export function rawBodyProblems(value: unknown): FieldError[] {
  const problems: FieldError[] = [];
  const stack: Array<{ node: unknown; path: string; depth: number }> = [{ node: value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { node, path, depth } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= MAX_BODY_DEPTH) {
      return [{ field: path || 'body', message: `the body is nested deeper than ${MAX_BODY_DEPTH} levels` }];
    }
    for (const key of Object.keys(node)) {
      const child = Array.isArray(node) ? `${path}[${key}]` : childPath(path, key);
      if (PROTOTYPE_KEYS.has(key)) problems.push({ field: child, message: `${child} is not a known field` });
      stack.push({ node: (node as Record<string, unknown>)[key], path: child, depth: depth + 1 });
    }
  }
  return problems;
}

/** The shared pipe: unknown fields refused, every failure a VALIDATION_FAILED naming the field. */
class GatewayValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body') {
      const problems = rawBodyProblems(value);
      if (problems.length > 0) throw GatewayError.validation(problems);
    }
    return super.transform(value, metadata) as Promise<unknown>;
  }
}

export function createValidationPipe(): ValidationPipe {
  return new GatewayValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    stopAtFirstError: false,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => GatewayError.validation(fieldErrors(errors)),
  });
}
