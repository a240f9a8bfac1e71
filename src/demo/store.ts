// A tiny external store around the demo's reducer (as the dashboard's): the live view subscribes,
// the progress printer reads it once a second, the command dispatches.
import { reduce, type DemoAction, type DemoState } from './state.js';

export interface DemoStore {
  get(): DemoState;
  dispatch(action: DemoAction): void;
  subscribe(listener: () => void): () => void;
}

export function createStore(initial: DemoState): DemoStore {
  let state = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => state,
    dispatch(action) {
      const next = reduce(state, action);
      if (next === state) return;
      state = next;
      for (const l of listeners) l();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
