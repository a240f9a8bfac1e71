// Key handling of the dashboard, apart from the view: a pure mapping from a key press to a
// command, and the hook that feeds Ink's input to it.
import { useInput, type Key } from 'ink';

/**
 * `focus` (Tab) switches between a cluster's agent table and the selected agent's workers;
 * `agents` (←) and `workers` (→, Enter) go to one of them. A single agent has only its workers.
 */
export type KeyCommand = 'up' | 'down' | 'first' | 'last' | 'focus' | 'agents' | 'workers' | 'restart' | 'drain' | 'cordon' | 'quit' | 'other';

type KeyFlags = Pick<Key, 'upArrow' | 'downArrow' | 'home' | 'end' | 'pageUp' | 'pageDown' | 'ctrl' | 'escape'> & Partial<Pick<Key, 'leftArrow' | 'rightArrow' | 'tab' | 'return' | 'shift'>>;

export function commandFor(input: string, key: KeyFlags): KeyCommand {
  if (key.ctrl && input === 'c') return 'quit';
  if (key.upArrow || input === 'k') return 'up';
  if (key.downArrow || input === 'j') return 'down';
  if (key.home || key.pageUp) return 'first';
  if (key.end || key.pageDown) return 'last';
  if (key.tab) return 'focus';
  if (key.leftArrow || input === 'h') return 'agents';
  if (key.rightArrow || key.return || input === 'l') return 'workers';
  if (key.ctrl) return 'other';
  switch (input) {
    case 'q':
      return 'quit';
    case 'r':
      return 'restart';
    case 'd':
      return 'drain';
    case 'c':
      return 'cordon';
    default:
      return 'other';
  }
}

/** Calls `onCommand` for every key press while `active` (stdin supports raw mode). */
export function useKeyCommands(onCommand: (command: KeyCommand) => void, active = true): void {
  useInput((input, key) => onCommand(commandFor(input, key)), { isActive: active });
}
