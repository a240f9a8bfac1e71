// A tiny external store around a reducer: the state is current the moment an action is
// dispatched, so two quick key presses (`d`, `d`) see each other without waiting for a render.
// The dashboard and `cluster demo` each keep one around their own reducer.
import { initialState, reduce, type DashboardAction, type DashboardState } from './state.js';

export interface Store<S, A> {
  get(): S;
  dispatch(action: A): void;
  subscribe(listener: () => void): () => void;
}

export type DashboardStore = Store<DashboardState, DashboardAction>;

/** A store over `reducer`: listeners hear of every dispatch that changed the state. */
export function reducerStore<S, A>(initial: S, reducer: (state: S, action: A) => S): Store<S, A> {
  let state = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => state,
    dispatch(action) {
      const next = reducer(state, action);
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

export function createStore(initial: DashboardState = initialState()): DashboardStore {
  return reducerStore(initial, reduce);
}
