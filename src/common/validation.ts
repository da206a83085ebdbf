import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { GatewayError, type FieldError } from '../domain/index.js';

/** Flattens class-validator errors to `{field, message}` with dotted paths. */
export function fieldErrors(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.entries(error.constraints ?? {}).map(([rule, message]) => ({
      field,
      message: rule === 'whitelistValidation' ? `${field} is not a known field` : message,
    }));
    return [...own, ...fieldErrors(error.children ?? [], field)];
  });
}

/** One shared pipe: unknown fields refused, every failure a VALIDATION_FAILED naming the field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    stopAtFirstError: false,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => GatewayError.validation(fieldErrors(errors)),
  });
}
