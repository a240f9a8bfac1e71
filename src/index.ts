// The library API: `startAgent` runs an agent in this process; `connect` talks to a daemon.
export { startAgent, type EmbeddedAgent } from './embedded.js';
export { connect, type AgentClient, type ConnectOptions } from './api/client.js';
export type { AgentOptions, PoolSettings } from './agent/options.js';
export type { AgentEvent } from './agent/events.js';
export type { CallOptions, SnakepitClient, AgentStats, ToolInfo, WatchOptions, WatchUpdate } from './client/types.js';
export type { ReloadResult, ScaleResult } from './api/agent-api.js';
export type { ToolDescription, ParamDescription } from './worker/channel.js';
export { SnakepitError, isSnakepitError, ERROR_CODES, type ErrorCode, type ErrorInfo } from './errors.js';
export { DEFAULTS } from './defaults.js';
export { VERSION } from './paths.js';
