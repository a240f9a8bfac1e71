import { describe, expect, it } from 'vitest';
import { CallQueue } from '../../src/agent/queue.js';
import { LatencyWindow } from '../../src/agent/latency.js';
import { nearestNames } from '../../src/errors.js';

describe('CallQueue', () => {
  it('is FIFO, bounded, and pops the first item that fits', () => {
    const q = new CallQueue<string>(3);
    expect(q.push('a', 0)).toBe(true);
    expect(q.push('b', 1)).toBe(true);
    expect(q.push('c', 2)).toBe(true);
    expect(q.push('d', 3)).toBe(false);
    expect(q.popFirst((x) => x !== 'a')).toBe('b');
    expect(q.popFirst(() => true)).toBe('a');
    expect(q.remove('c')).toBe(true);
    expect(q.depth).toBe(0);
  });
});

describe('LatencyWindow', () => {
  it('reports percentiles of the most recent samples only', () => {
    const w = new LatencyWindow(100);
    for (let i = 1; i <= 100; i++) w.record(i);
    expect(w.percentiles(50, 99)).toEqual([50, 99]);
    for (let i = 0; i < 100; i++) w.record(1000);
    expect(w.percentiles(50)).toEqual([1000]);
    expect(new LatencyWindow(4).percentiles(50, 99)).toEqual([0, 0]);
  });
});

describe('nearestNames', () => {
  it('suggests close tool names', () => {
    expect(nearestNames('ad', ['add', 'echo', 'greet'])).toEqual(['add']);
    expect(nearestNames('greeet', ['add', 'echo', 'greet'])).toEqual(['greet']);
    expect(nearestNames('zzzzzz', ['add', 'echo'])).toEqual([]);
  });
});

describe('CallQueue.insert', () => {
  it('puts accepted calls back at a position, even past maxQueue', () => {
    const q = new CallQueue<string>(2);
    q.push('c', 0);
    q.push('d', 0);
    q.insert(0, 'a', 1);
    q.insert(1, 'b', 1);
    expect(q.depth).toBe(4);
    expect(q.clear()).toEqual(['a', 'b', 'c', 'd']);
  });
});
