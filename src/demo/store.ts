// The demo's store (the dashboard's store, around the demo's reducer): the live view subscribes,
// the progress printer reads it once a second, the command dispatches.
import { reducerStore, type Store } from '../dashboard/store.js';
import { reduce, type DemoAction, type DemoState } from './state.js';

export type DemoStore = Store<DemoState, DemoAction>;

export function createStore(initial: DemoState): DemoStore {
  return reducerStore(initial, reduce);
}
