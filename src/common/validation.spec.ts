import { MAX_BODY_DEPTH, rawBodyProblems } from './validation.js';

describe(rawBodyProblems.name, () => {
  it('should accept ordinary bodies', () => {
    expect(
      rawBodyProblems({ status: 'ACTIVE', providerOptions: { metadata: { a: [1, { b: 2 }] } } }),
    ).toEqual([]);
    expect(rawBodyProblems('text')).toEqual([]);
  });

  it('should refuse nesting deeper than the limit without recursing', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(rawBodyProblems({ note: deep })[0]?.message).toMatch(`deeper than ${MAX_BODY_DEPTH}`);
  });

  it('should name keys that would vanish in the transform, at any depth', () => {
    const body = JSON.parse(
      '{"status":"ACTIVE","constructor":1,"providerOptions":{"toString":"x","__proto__":{}}}',
    );
    expect(
      rawBodyProblems(body)
        .map((p) => p.field)
        .sort(),
    ).toEqual(['constructor', 'providerOptions.__proto__', 'providerOptions.toString']);
  });
});
