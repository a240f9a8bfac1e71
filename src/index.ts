// The library API: `startAgent` runs an agent in this process; `connect` talks to a daemon.
export { startAgent, type EmbeddedAgent } from './embedded.js';
export { connect, type AgentClient, type ConnectOptions } from './api/client.js';
export type { AgentOptions, PoolSettings } from './agent/agent-options.js';
export type { AgentEvent } from './agent/events.js';
export type { CallOptions, AbortSignalLike, SnakepitClient, ManagedClient, ReloadResult, ScaleResult, AgentStats, ToolInfo, WatchOptions, WatchUpdate, ToolDescription, ParamDescription, ClusterAgentStats, ClusterOutcome } from './client/types.js';
export { SnakepitError, isSnakepitError, ERROR_CODES, type ErrorCode, type ErrorInfo } from './errors.js';
export { DEFAULTS } from './defaults.js';
export { VERSION } from './paths.js';
