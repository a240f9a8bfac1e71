// A seeded random source for the cluster's tests (mulberry32): the modules take `random`
// injected, and a simulation that fails must fail the same way again.
export function seededRandom(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform in [lo, hi). */
export const uniform = (random: () => number, lo: number, hi: number): number => lo + random() * (hi - lo);
