// Key handling of the dashboard, apart from the view: a pure mapping from a key press to a
// command, and the hook that feeds Ink's input to it.
import { useInput, type Key } from 'ink';

export type KeyCommand = 'up' | 'down' | 'first' | 'last' | 'restart' | 'drain' | 'quit' | 'other';

export function commandFor(input: string, key: Pick<Key, 'upArrow' | 'downArrow' | 'home' | 'end' | 'pageUp' | 'pageDown' | 'ctrl' | 'escape'>): KeyCommand {
  if (key.ctrl && input === 'c') return 'quit';
  if (key.upArrow || input === 'k') return 'up';
  if (key.downArrow || input === 'j') return 'down';
  if (key.home || key.pageUp) return 'first';
  if (key.end || key.pageDown) return 'last';
  if (key.ctrl) return 'other';
  switch (input) {
    case 'q':
      return 'quit';
    case 'r':
      return 'restart';
    case 'd':
      return 'drain';
    default:
      return 'other';
  }
}

/** Calls `onCommand` for every key press while `active` (stdin supports raw mode). */
export function useKeyCommands(onCommand: (command: KeyCommand) => void, active = true): void {
  useInput((input, key) => onCommand(commandFor(input, key)), { isActive: active });
}
