/**
 * One check on every JSON body, run by the body parser (common/http-edges.ts acceptOnlyJson) after Fastify's own: that the
 * numbers in `providerOptions` can be sent to the provider exactly as the caller wrote them (issue 13
 * item 9). JSON.parse turns `1e400` into Infinity (sent as null) and `9007199254740993` into …992, and by
 * the time a DTO sees the value the digits are gone, so the raw text is read here, with lossless-json
 * (which keeps each number's text), and only when the text holds a number that might not survive.
 */
import { isLosslessNumber, parse } from 'lossless-json';
import type { FieldError } from '../domain/index.js';

/** Where numbers are sent on to a provider, so must survive exactly. */
const SENT_ON = 'providerOptions';

/**
 * A number literal with 16+ significant digits or a 3-digit exponent. Anything shorter always survives a
 * double (15 significant digits and |exponent| < 100 round-trip exactly), so most bodies skip the scan.
 */
const MAYBE_UNFAITHFUL = /(?:\d\.?){16,}|[eE][+-]?\d{3}/;

/** Problems to refuse the body for (empty for almost every body: the scan runs only when the text needs it). */
export function unfaithfulNumbersIn(text: string): FieldError[] {
  return MAYBE_UNFAITHFUL.test(text) ? unfaithfulNumbers(text) : [];
}

/** Every number under `providerOptions` whose value a double cannot carry exactly, named by its path. */
export function unfaithfulNumbers(text: string): FieldError[] {
  const errors: FieldError[] = [];
  const visit = (value: unknown, path: string): void => {
    if (isLosslessNumber(value)) {
      const sent = Number(value.value);
      if (!sameDecimal(value.value, sent)) errors.push({ field: path, message: describe(sent) });
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => visit(item, `${path}[${index}]`));
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, child] of Object.entries(value)) visit(child, `${path}.${key}`);
    }
  };
  const parsed = parse(text) as Record<string, unknown> | null;
  if (parsed && typeof parsed === 'object') {
    if (SENT_ON in parsed) visit(parsed[SENT_ON], SENT_ON);
    // A batch (POST /v1/batches) carries the same options per item.
    if (Array.isArray(parsed.items)) {
      parsed.items.forEach((item: unknown, index) => {
        if (item && typeof item === 'object' && SENT_ON in item) {
          visit((item as Record<string, unknown>)[SENT_ON], `items[${index}].${SENT_ON}`);
        }
      });
    }
  }
  return errors;
}

function describe(sent: number): string {
  const becomes = Number.isFinite(sent) ? String(sent) : 'null';
  return `cannot be sent exactly: a JSON number here is a double and would reach the provider as ${becomes}; send it as a string`;
}

/** True when the literal and the double denote the same decimal number (so "1.0" = 1 and "1e21" = 1e+21). */
function sameDecimal(literal: string, value: number): boolean {
  if (!Number.isFinite(value)) return false;
  return normalized(literal) === normalized(String(value));
}

/** A decimal as sign, significant digits and exponent: "-0012.50e3" → "-125e2"; every zero → "0". */
function normalized(decimal: string): string {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(decimal);
  if (!match) return decimal;
  const [, sign, whole = '', fraction = '', exponent = '0'] = match;
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return '0';
  const significant = digits.replace(/0+$/, '');
  const trailingZeros = digits.length - significant.length;
  const scale = Number(exponent) - fraction.length + trailingZeros;
  return `${sign}${significant}e${scale}`;
}
