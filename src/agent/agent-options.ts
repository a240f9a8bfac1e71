// What startAgent() takes. Declared apart from options.ts, which checks these options and turns
// them into pool options: its declarations name PoolOptions, and through it the engine's, which
// use Node's types. This module is public (src/index.ts) and reaches only other declarations that
// stand alone (the settings schema, the logger and event types), so a consumer type-checks it
// without @types/node.
import type { PoolSettings } from '../config/schema.js';
import type { AgentEvent } from './events.js';
import type { AgentLogger } from './log.js';

export type { PoolSettings };

export interface AgentOptions extends PoolSettings {
  /** Name of the pool when no config file or `pools` is given (default "default"). */
  pool?: string;
  /** Several named pools; each takes the same settings as the top level, which act as defaults. */
  pools?: Record<string, PoolSettings>;
  /** Path of a project config file (snakepit.config.json). */
  config?: string;
  /** Where agent and worker log lines go (default: nowhere). */
  logger?: AgentLogger;
  /** Receives every agent event from the start (worker spawned, ready, exited, recycled, …). */
  onEvent?: (event: AgentEvent) => void;
}
