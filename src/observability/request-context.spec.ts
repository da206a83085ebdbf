import { traceFrom } from './request-context.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('traceFrom (W3C Trace Context)', () => {
  it('should keep a valid traceparent exactly as sent, with its tracestate', () => {
    expect(traceFrom(`00-${TRACE}-${PARENT}-01`, 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE')).toEqual({
      traceparent: `00-${TRACE}-${PARENT}-01`,
      tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    });
    expect(traceFrom(`00-${TRACE}-${PARENT}-00`, undefined)).toEqual({
      traceparent: `00-${TRACE}-${PARENT}-00`,
    });
  });

  it('should accept a later version with extra fields (forward compatible), but not on version 00', () => {
    expect(traceFrom(`01-${TRACE}-${PARENT}-01-what-ever`, '')?.traceparent).toBe(
      `01-${TRACE}-${PARENT}-01-what-ever`,
    );
    expect(traceFrom(`00-${TRACE}-${PARENT}-01-what-ever`, '')).toBeUndefined();
  });

  it.each([
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ['short trace id', `00-${TRACE.slice(1)}-${PARENT}-01`],
    ['two headers joined', `00-${TRACE}-${PARENT}-01, 00-${TRACE}-${PARENT}-01`],
    ['not a string', ['a', 'b']],
  ])('should drop an invalid traceparent (%s), and its tracestate with it', (_, value) => {
    expect(traceFrom(value, 'vendor=x')).toBeUndefined();
  });

  it('should drop a tracestate that is too long or not printable ASCII, keeping the traceparent', () => {
    expect(traceFrom(`00-${TRACE}-${PARENT}-01`, 'a=' + 'b'.repeat(600))).toEqual({
      traceparent: `00-${TRACE}-${PARENT}-01`,
    });
    expect(traceFrom(`00-${TRACE}-${PARENT}-01`, 'a=\u0001')).toEqual({
      traceparent: `00-${TRACE}-${PARENT}-01`,
    });
  });
});
