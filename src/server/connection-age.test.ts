import { describe, expect, it } from 'vitest';
import { jitteredAgeMs } from './connection-age.ts';

describe('jitteredAgeMs: gRFC A9 jitter in whole seconds (issue 16 bug 14)', () => {
  it.each([
    { name: 'lowest draw: -10%', age: 30 * 60_000, random: 0, want: 27 * 60_000 },
    { name: 'highest draw: +10%', age: 30 * 60_000, random: 1, want: 33 * 60_000 },
    { name: 'middle draw: the age', age: 30 * 60_000, random: 0.5, want: 30 * 60_000 },
    { name: 'a draw between seconds rounds to a whole second', age: 30 * 60_000, random: 0.5 + 1.4 / 360, want: 30 * 60_000 + 1000 },
    { name: 'an age too short for a second of jitter gets none', age: 400, random: 1, want: 400 },
    { name: 'never past the longest Node timer (a longer one would fire at once)', age: 2 ** 31 - 2, random: 1, want: 2 ** 31 - 1 },
  ])('$name', ({ age, random, want }) => {
    expect(jitteredAgeMs(age, () => random)).toBe(want);
  });

  it('issue 16 bug 14: 10,000 connections at the default age share at most 361 durations (each had its own)', () => {
    const durations = new Set(Array.from({ length: 10_000 }, () => jitteredAgeMs(30 * 60_000)));
    expect(durations.size).toBeLessThanOrEqual(361);
    for (const d of durations) expect(d % 1000).toBe(0);
  });
});
