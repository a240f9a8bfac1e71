// Small helpers for the text people read: messages, progress lines, logs.

/** `n noun`, the noun in the plural unless n is 1: "1 worker", "2 workers", "1 process". */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
