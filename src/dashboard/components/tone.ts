// Colours of the dashboard in one place. With colour off (NO_COLOR, not a terminal) every colour
// is undefined, which Ink's <Text> renders as plain text.
import type { Tone } from '../state.js';

const TONES: Record<Tone, string | undefined> = { info: undefined, good: 'green', warn: 'yellow', bad: 'red' };

export function toneColor(tone: Tone, color: boolean): string | undefined {
  return color ? TONES[tone] : undefined;
}

/** Tone of a worker's state, or of an agent's as a router sees it (alive, suspect, cordoned…). */
export function stateTone(state: string): Tone {
  if (state === 'ready' || state === 'alive') return 'good';
  if (state === 'busy' || state === 'starting' || state === 'draining' || state === 'stopping' || state === 'suspect' || state === 'cordoned') return 'warn';
  if (state === 'exited' || state === 'down') return 'bad';
  return 'info';
}

/** A fixed accent (headings, selection) or nothing without colour. */
export function accent(color: boolean): string | undefined {
  return color ? 'cyan' : undefined;
}
