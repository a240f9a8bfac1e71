// Starts the interactive dashboard on this terminal and resolves when it is closed (`q`, Ctrl-C).
// Ink is imported only here, after the environment is settled, so no other command pays for it.
import { connect, type ConnectOptions } from '../api/client.js';

export interface DashboardOptions {
  /** Which agent, and how (src/cli/target.ts). */
  target: ConnectOptions;
  intervalMs: number;
  color: boolean;
}

/** The most frames per second: events can come in bursts (a crash loop), snapshots cannot. */
const MAX_FPS = 10;

export async function runDashboard(options: DashboardOptions): Promise<void> {
  // Ink draws no live frames when it believes it runs in CI (CI or CONTINUOUS_INTEGRATION set).
  // Here stdin and stdout are a terminal, so someone is watching whatever CI says.
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  const [{ render }, { App }] = await Promise.all([import('ink'), import('./App.js')]);
  const target = options.target;
  const probe = connect(target);
  const address = probe.address;
  probe.close();
  const open = () => connect(target);
  const app = render(<App open={open} address={address} intervalMs={options.intervalMs} color={options.color} />, { maxFps: MAX_FPS });
  await app.waitUntilExit();
}
