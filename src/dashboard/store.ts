// A tiny external store around the reducer: the state is current the moment an action is
// dispatched, so two quick key presses (`d`, `d`) see each other without waiting for a render.
import { initialState, reduce, type DashboardAction, type DashboardState } from './state.js';

export interface DashboardStore {
  get(): DashboardState;
  dispatch(action: DashboardAction): void;
  subscribe(listener: () => void): () => void;
}

export function createStore(initial: DashboardState = initialState()): DashboardStore {
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
