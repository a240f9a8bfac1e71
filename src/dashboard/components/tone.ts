// Colours of the dashboard in one place. With colour off (NO_COLOR, not a terminal) every colour
// is undefined, which Ink's <Text> renders as plain text.
import type { Tone } from '../state.js';

const TONES: Record<Tone, string | undefined> = { info: undefined, good: 'green', warn: 'yellow', bad: 'red' };

export function toneColor(tone: Tone, color: boolean): string | undefined {
  return color ? TONES[tone] : undefined;
}

export function stateTone(state: string): Tone {
  if (state === 'ready') return 'good';
  if (state === 'busy' || state === 'starting' || state === 'draining' || state === 'stopping') return 'warn';
  if (state === 'exited') return 'bad';
  return 'info';
}

/** A fixed accent (headings, selection) or nothing without colour. */
export function accent(color: boolean): string | undefined {
  return color ? 'cyan' : undefined;
}
