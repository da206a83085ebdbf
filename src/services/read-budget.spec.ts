import { ReadBudget } from './read-budget.js';

describe(ReadBudget.name, () => {
  it('should allow at most perMinute reads in any 60 s, per key', () => {
    let now = 1_000_000;
    const budget = new ReadBudget(3, () => now);
    expect([budget.take('canopy'), budget.take('canopy'), budget.take('canopy')]).toEqual([true, true, true]);
    expect(budget.take('canopy')).toBe(false);
    expect(budget.available('canopy')).toBe(0);
    expect(budget.available('spidr')).toBe(3);
    now += 59_999;
    expect(budget.take('canopy')).toBe(false);
    now += 1;
    expect(budget.available('canopy')).toBe(3);
  });

  it('should free each read exactly one minute after it was spent (a sliding window, not a burst plus refill)', () => {
    let now = 0;
    const budget = new ReadBudget(2, () => now);
    budget.take('pismo');
    now = 30_000;
    budget.take('pismo');
    now = 59_000;
    expect(budget.take('pismo')).toBe(false);
    now = 60_001;
    expect(budget.available('pismo')).toBe(1);
    expect(budget.take('pismo')).toBe(true);
    expect(budget.take('pismo')).toBe(false);
  });
});
