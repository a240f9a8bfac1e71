// The process registry file: recorded before any worker exists, coalesced writes, other runs
// preserved, exited workers kept while their group still has members, invalid files and stale
// locks handled. Real processes only where a process group must exist (sh + sleep).
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentEvent, EventSink } from '../../src/agent/events.js';
import { ProcessRegistry, readRegistry, updateRegistry } from '../../src/agent/registry.js';
import { processStartTime } from '../../src/proc.js';
import { killPids, pidAlive, tempDir, waitFor } from '../helpers/env.js';

const dir = tempDir('sp-reg-');
const recorded: number[] = [];
let n = 0;
const freshFile = (): string => join(dir.path, `registry-${n++}.json`);

afterAll(() => {
  killPids(recorded.filter(pidAlive));
  dir.cleanup();
});

class FakeAgent {
  private listener: EventSink | undefined;
  constructor(readonly runId: string) {}
  onEvent(l: EventSink): () => void {
    this.listener = l;
    return () => (this.listener = undefined);
  }
  emit(e: AgentEvent): void {
    this.listener?.(e);
  }
}

/** A pid that cannot exist (above pid_max), so its group is certainly empty. */
const NO_PID = 4_000_000;
const spawned = (pid: number, startTime = 12345): AgentEvent => ({ type: 'worker.spawned', pool: 'p', worker: `p-${pid}`, pid, pgid: pid, startTime, cmdline: ['python3', '-m', 'snakepit'] });
const exited = (pid: number): AgentEvent => ({ type: 'worker.exited', pool: 'p', worker: `p-${pid}`, pid, code: 0, signal: null, expected: true, reason: null });

describe('ProcessRegistry', () => {
  it('records the run at attach, private and atomic, then a burst of events in one deferred write', async () => {
    const file = freshFile();
    const agent = new FakeAgent('run-a');
    const reg = new ProcessRegistry(file, 'run-a');
    reg.attach(agent);
    expect(readRegistry(file).runs['run-a']).toMatchObject({ agentPid: process.pid, agentStartTime: processStartTime(process.pid), workers: {} });
    expect(statSync(file).mode & 0o777).toBe(0o600);

    for (const pid of [NO_PID, NO_PID + 1, NO_PID + 2]) agent.emit(spawned(pid));
    expect(Object.keys(readRegistry(file).runs['run-a']!.workers)).toHaveLength(0); // not yet: coalesced
    await waitFor(() => Object.keys(readRegistry(file).runs['run-a']!.workers).length === 3, 2000);
    expect(readRegistry(file).runs['run-a']!.workers[NO_PID]).toMatchObject({ pid: NO_PID, pgid: NO_PID, startTime: 12345, cmdline: ['python3', '-m', 'snakepit'] });
    expect(readdirSync(dir.path).filter((f) => f.includes('.tmp') || f.endsWith('.lock'))).toEqual([]);
    reg.remove();
  });

  it('flush() writes at once; an exited worker with an empty group is dropped', () => {
    const file = freshFile();
    const agent = new FakeAgent('run-b');
    const reg = new ProcessRegistry(file, 'run-b');
    reg.attach(agent);
    agent.emit(spawned(NO_PID));
    reg.flush();
    expect(Object.keys(readRegistry(file).runs['run-b']!.workers)).toEqual([String(NO_PID)]);
    agent.emit(exited(NO_PID));
    reg.flush();
    expect(readRegistry(file).runs['run-b']!.workers).toEqual({});
    reg.remove();
  });

  it('keeps an exited worker while a tool child is still in its group, drops it once the group is empty', async () => {
    const file = freshFile();
    const agent = new FakeAgent('run-c');
    const reg = new ProcessRegistry(file, 'run-c');
    reg.attach(agent);
    // A "worker" that leads its own group, starts a child carrying the run id, and exits.
    const worker = spawn('sh', ['-c', 'sleep 300 & echo $!; read _'], { detached: true, env: { ...process.env, SNAKEPIT_RUN_ID: 'run-c' }, stdio: ['pipe', 'pipe', 'ignore'] });
    recorded.push(worker.pid!);
    const startTime = processStartTime(worker.pid!)!;
    const child = await new Promise<number>((r) => worker.stdout!.once('data', (d: Buffer) => r(Number(d.toString().trim()))));
    recorded.push(child);
    agent.emit(spawned(worker.pid!, startTime));
    worker.stdin!.end(); // the worker exits; its child stays in the group
    await new Promise((r) => worker.once('exit', r));
    agent.emit(exited(worker.pid!));
    reg.flush();
    expect(readRegistry(file).runs['run-c']!.workers[worker.pid!]).toMatchObject({ pid: worker.pid, exitedAt: expect.any(String) });

    process.kill(child, 'SIGKILL');
    await waitFor(() => !pidAlive(child));
    agent.emit(spawned(NO_PID)); // any later write re-checks the group
    reg.flush();
    expect(Object.keys(readRegistry(file).runs['run-c']!.workers)).toEqual([String(NO_PID)]);
    reg.remove();
  });

  it('re-checks exited groups at most once a second, without delaying the record of a new worker', async () => {
    const file = freshFile();
    const agent = new FakeAgent('run-f');
    const reg = new ProcessRegistry(file, 'run-f');
    reg.attach(agent);
    agent.emit(spawned(NO_PID));
    agent.emit(exited(NO_PID));
    reg.flush(); // an explicit flush always re-checks
    expect(readRegistry(file).runs['run-f']!.workers).toEqual({});

    agent.emit(spawned(NO_PID + 1));
    agent.emit(exited(NO_PID + 1));
    const workers = (): Record<string, { exitedAt?: string }> => readRegistry(file).runs['run-f']!.workers;
    await waitFor(() => workers()[NO_PID + 1]?.exitedAt !== undefined, 500); // written, not yet re-checked
    agent.emit(spawned(NO_PID + 2));
    await waitFor(() => workers()[NO_PID + 2] !== undefined, 300); // a new worker is not held back
    await waitFor(() => workers()[NO_PID + 1] === undefined, 2000); // the re-check comes later
    expect(Object.keys(workers())).toEqual([String(NO_PID + 2)]);
    reg.remove();
  });

  it('keeps other runs; remove() forgets only its own, and the file goes with the last run', () => {
    const file = freshFile();
    updateRegistry(file, (doc) => (doc.runs['other'] = { agentPid: NO_PID, agentStartTime: 1, startedAt: '', workers: {} }));
    const reg = new ProcessRegistry(file, 'run-d');
    reg.attach(new FakeAgent('run-d'));
    expect(Object.keys(readRegistry(file).runs).sort()).toEqual(['other', 'run-d']);
    reg.remove();
    expect(Object.keys(readRegistry(file).runs)).toEqual(['other']);
    updateRegistry(file, (doc) => delete doc.runs['other']);
    expect(existsSync(file)).toBe(false);
  });

  it('moves an invalid file aside (and says so) instead of losing its own run', () => {
    const file = freshFile();
    writeFileSync(file, '{ not json');
    expect(() => readRegistry(file)).toThrow(expect.objectContaining({ code: 'REGISTRY_INVALID' }));
    const errors: Error[] = [];
    const reg = new ProcessRegistry(file, 'run-e', (e) => errors.push(e));
    reg.attach(new FakeAgent('run-e'));
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['REGISTRY_INVALID']);
    expect(Object.keys(readRegistry(file).runs)).toEqual(['run-e']);
    expect(readdirSync(dir.path).some((f) => f.startsWith(`${file.split('/').pop()}.invalid-`))).toBe(true);
    reg.remove();
  });

  it('breaks a lock whose holder is dead; waits for, then gives up on, a live holder', () => {
    const file = freshFile();
    writeFileSync(`${file}.lock`, `${NO_PID} 1\n`);
    updateRegistry(file, (doc) => (doc.runs['x'] = { agentPid: NO_PID, agentStartTime: 1, startedAt: '', workers: {} }));
    expect(Object.keys(readRegistry(file).runs)).toEqual(['x']);
    expect(existsSync(`${file}.lock`)).toBe(false);

    writeFileSync(`${file}.lock`, `${process.ppid} ${processStartTime(process.ppid)}\n`);
    expect(() => updateRegistry(file, () => {})).toThrow(expect.objectContaining({ code: 'REGISTRY_LOCKED' }));
    expect(readFileSync(`${file}.lock`, 'utf8')).toContain(String(process.ppid));
  });
});
