// `snakepit up --metrics-port P`: GET /metrics on HOST:P serves the agent's Prometheus metrics.
// A busy port fails the start with CONFIG_INVALID naming it.
import { createServer, type Server } from 'node:http';
import { SnakepitError } from '../errors.js';
import { AgentMetrics, type MetricsSource } from './metrics.js';

export interface MetricsServer {
  /** Where it listens, e.g. "http://127.0.0.1:9464/metrics". */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function serveMetrics(agent: MetricsSource, port: number, host: string): Promise<MetricsServer> {
  const metrics = new AgentMetrics(agent);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    metrics.render().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    metrics.dispose();
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE' ? 'the port is already in use' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new SnakepitError('CONFIG_INVALID', `invalid setting 'metricsPort': cannot serve metrics on ${host}:${port}: ${why}`);
  }
  server.on('error', () => {});
  const bound = server.address();
  const actual = bound && typeof bound === 'object' ? bound.port : port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}/metrics`,
    port: actual,
    close() {
      closing ??= new Promise<void>((resolve) => {
        metrics.dispose();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
