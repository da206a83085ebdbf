import { uuidv7 } from './ids.js';

describe(uuidv7.name, () => {
  it('should produce RFC 9562 version 7, variant 10 ids carrying the timestamp', () => {
    const at = Date.UTC(2026, 10, 21, 9, 0, 0);
    const id = uuidv7(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });

  it('should sort in creation order, also within one millisecond', () => {
    const at = Date.UTC(2030, 0, 1);
    const ids = Array.from({ length: 5000 }, () => uuidv7(at));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('should not go backwards when the clock does', () => {
    const later = uuidv7(Date.UTC(2031, 0, 1));
    const earlier = uuidv7(Date.UTC(2031, 0, 1) - 5000);
    expect(earlier > later).toBe(true);
  });
});
