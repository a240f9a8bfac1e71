// The Agent API service for grpc-js (messages encoded by agent-codec.ts), shared by the server
// and the management client, plus the wire shapes of its messages.
import * as grpc from '@grpc/grpc-js';
import { agentServiceDefinition } from './agent-codec.js';
import { MESSAGE_SLACK_BYTES } from './grpc-frame.js';

export interface WireValue {
  json: Buffer;
  blobs: Buffer[];
}
export interface WireError {
  code: string;
  message: string;
  type: string;
  traceback: string;
  agent: string;
}
export interface WireExecuteRequest {
  tool: string;
  argsJson: Buffer;
  blobs: Buffer[];
  session: string;
  timeoutMs: number;
  idempotent: boolean;
  pool: string;
  /** "key=value" labels an agent must carry. */
  require: string[];
}
export interface WireExecuteReply {
  outcome?: 'result' | 'error';
  result?: WireValue | null;
  error?: WireError | null;
}
export interface WireStreamReply {
  item?: 'chunk' | 'end' | 'error';
  chunk?: WireValue | null;
  end?: boolean;
  error?: WireError | null;
}
export interface WireClientBatch {
  calls: Array<{ id: number; request: WireExecuteRequest | null; stream: boolean }>;
  cancels: number[];
}
export interface WireReply {
  id: number;
  result?: WireValue;
  chunk?: WireValue;
  end?: boolean;
  error?: WireError;
}
export interface WireServerBatch {
  replies: WireReply[];
}
export interface WireTool {
  name: string;
  doc: string;
  params: Array<{ name: string; type: string; required: boolean; defaultJson: string }>;
  stream: boolean;
  pool: string;
  agents?: string[];
}

let cached: grpc.ServiceClientConstructor | undefined;

/** The `snakepit.v1.Agent` client constructor, with its `.service` definition for servers. */
export function agentService(): grpc.ServiceClientConstructor {
  cached ??= grpc.makeGenericClientConstructor(agentServiceDefinition(), 'Agent');
  return cached;
}

/** Message size limits on both ends: a payload of `maxPayloadBytes` plus room for framing. */
export function channelOptions(maxPayloadBytes: number): grpc.ChannelOptions {
  const limit = maxPayloadBytes + MESSAGE_SLACK_BYTES;
  // channelz (grpc-js's live introspection service, on by default) keeps counters, traces and a
  // registry entry per channel, subchannel, server and socket; nothing here serves it.
  return { 'grpc.max_receive_message_length': limit, 'grpc.max_send_message_length': limit, 'grpc.enable_channelz': 0 };
}
