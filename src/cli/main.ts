// The snakepit command line. Each command lives in its own module, loaded only when it runs, so
// `snakepit exec` pays for the Agent API client and nothing else. Commands return data; this file
// prints it (text or --json) and maps errors to exit codes, in one place.
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { DEFAULTS } from '../defaults.js';
import { EXIT } from '../errors.js';
import { VERSION } from '../paths.js';
import { parseDuration, parsePositiveInt } from './args.js';
import { emit, processIo, reportError, usage, type CommandResult, type Io } from './output.js';

type Action = (io: Io) => Promise<CommandResult>;

export function buildProgram(io: Io, run: (json: boolean, action: Action) => Promise<void>): Command {
  const program = new Command('snakepit')
    .description('Run Python functions as a supervised, pooled service for Node and the shell.')
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  const home = new Option('--home <dir>', 'Snakepit home (state, socket, logs); default $SNAKEPIT_HOME or ~/.local/state/snakepit');
  const json = new Option('--json', 'print one JSON document on stdout');
  const int = (flag: string) => (v: string) => parsePositiveInt(v, flag);
  // Every command that talks to an agent: which one, and how over TCP (src/cli/target.ts).
  const address = new Option('--address <addr>', 'agent or router address(es) instead of a home: HOST:PORT[,HOST:PORT…] (failing over in order) or unix:/path; default $SNAKEPIT_ADDRESS');
  const tokenFile = new Option('--token-file <file>', 'file with the cluster token, sent to a TCP address (default $SNAKEPIT_TOKEN_FILE)');
  const tlsCa = new Option('--tls-ca <file>', "CA certificate(s) the agent's certificate must chain to (default $SNAKEPIT_TLS_CA; else the system's roots, off loopback)");
  const tlsCert = new Option('--tls-cert <file>', 'client certificate, for an agent that requires one (default $SNAKEPIT_TLS_CERT)');
  const tlsKey = new Option('--tls-key <file>', "the client certificate's key (default $SNAKEPIT_TLS_KEY)");
  const tlsServername = new Option('--tls-servername <name>', "the name the agent's certificate must carry, when not the address's host");
  const insecureTransport = new Option('--insecure-transport', 'plaintext to a non-loopback address: the token and every call in clear text');
  /** A daemon's own TCP listener (`up`, `cluster up`); `what` is what it serves there. */
  const withListener = (cmd: Command, what: string): Command =>
    cmd
      .option('--listen <host:port>', `also serve ${what} on TCP (port 0: any free one); needs --token-file, and TLS off loopback`)
      .option('--advertise <host:port>', 'the address others dial (default: the --listen address; port 0: the bound one)')
      .option('--token-file <file>', 'file with the cluster token every TCP call must carry (default $SNAKEPIT_TOKEN_FILE); mode 0600')
      .option('--tls-cert <file>', "serve TLS with this certificate (see `snakepit certs`)")
      .option('--tls-key <file>', "the certificate's key (mode 0600)")
      .option('--tls-client-ca <file>', 'require client certificates signed by this CA (mTLS)')
      .option('--insecure-transport', 'allow --listen off loopback without TLS: the token and every call in clear text');
  /** TLS to etcd (`up --registry`, `router up`). */
  const withRegistryTls = (cmd: Command): Command =>
    cmd
      .option('--registry-ca <file>', "CA of etcd's certificate (TLS to etcd)")
      .option('--registry-cert <file>', 'client certificate for an etcd that requires one')
      .option('--registry-key <file>', "that certificate's key");

  program
    .command('setup')
    .description('find a Python ≥ 3.9 that can run the worker runtime and remember it')
    .option('--python <path>', 'use this interpreter')
    .option('--check', 'only check; remember nothing')
    .addOption(json)
    .addHelpText('after', '\nExample:\n  $ snakepit setup --python /usr/bin/python3')
    .action((o: { python?: string; check?: boolean; json?: boolean }) =>
      run(!!o.json, async () => (await import('./commands/setup.js')).setupCommand(o)),
    );

  program
    .command('init')
    .description('scaffold a tools module with examples, a snakepit.config.json and a README')
    .argument('[dir]', 'directory to create the files in (default: the current one)')
    .option('--force', 'overwrite files that already exist')
    .addOption(json)
    .addHelpText('after', '\nExample:\n  $ snakepit init my-tools && cd my-tools && snakepit up')
    .action((dir: string | undefined, o: { force?: boolean; json?: boolean }) =>
      run(!!o.json, async () => (await import('./commands/init.js')).initCommand(dir, o)),
    );

  const up = program
    .command('up')
    .alias('start')
    .description('start an agent (detached unless --foreground) that owns a pool of Python workers')
    .option('--config <file>', 'project config file (default: ./snakepit.config.json when present)')
    .option('--tools <module>', 'tools module: a .py file or a module name (default: built-in demo tools)')
    .option('--workers <n>', 'number of workers (default: CPU count)', int('--workers'))
    .option('--threads <n>', 'concurrent calls per worker, for thread-safe tool modules', int('--threads'))
    .addOption(new Option('--worker-transport <name>', 'how the agent talks to its workers').choices(['pipe', 'grpc']))
    .option('--python <path>', 'Python interpreter (default: the one setup chose)')
    .option('--foreground', 'stay attached; logs on stderr; Ctrl-C stops')
    .option('--replace', 'an agent with other settings runs for this home: drain it, then start this one')
    .option('--watch', 'reload when the config or a tools file (or a .py file beside it) changes')
    .option('--metrics-port <port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (0: off)', (v: string) => {
      if (!/^\d+$/.test(v) || Number(v) > 65535) throw usage(`--metrics-port expects a port number (0-65535), got '${v}'`);
      return Number(v);
    })
    .option('--metrics-host <host>', `interface of the metrics server (default: ${DEFAULTS.metricsHost})`);
  withRegistryTls(withListener(up, 'the Agent API').option('--labels <k=v,...>', 'labels of this agent, for routers (--require)').option('--registry <url>', 'register in etcd: etcd://HOST:PORT[,…] (needs --listen; routers on other hosts find the agent there)'))
    .option('--registry-ttl <duration>', `the agent's lease in etcd: 10s, 2s… (default ${DEFAULTS.registryLeaseTtlMs / 1000}s)`, (v: string) => parseDuration(v, '--registry-ttl', 3_600_000))
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExamples:\n  $ snakepit up --tools ./my_tools.py --workers 4\n  $ snakepit up --metrics-port 9464\n  $ snakepit up --listen 10.0.0.5:7000 --token-file ~/.snakepit-token --tls-cert certs/10.0.0.5.crt --tls-key certs/10.0.0.5.key')
    .action((o: Parameters<typeof import('./commands/up.js').upCommand>[0]) =>
      run(!!o.json, async (io) => (await import('./commands/up.js')).upCommand(o, io)),
    );

  program
    .command('down')
    .alias('stop')
    .description("stop the home's agent: in-flight calls finish, then every worker exits")
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExample:\n  $ snakepit down --home ./.snakepit')
    .action((o: { home?: string; json?: boolean }) => run(!!o.json, async (io) => (await import('./commands/down.js')).downCommand(o, io)));

  program
    .command('exec')
    .description('call a tool: arguments as key=value (values parsed as JSON when valid) or one JSON object')
    .argument('<tool>', 'tool name')
    .argument('[args...]', 'key=value pairs, or a single JSON object')
    .option('--session <id>', 'session id: calls of a session go to the same worker')
    .option('--timeout <duration>', 'deadline for the call: 500ms, 5s, 2m, 1h (a bare number is ms)', (v: string) => parseDuration(v, '--timeout', DEFAULTS.maxTimeoutMs))
    .option('--stream', 'print chunks as they arrive (with --json: JSON lines, one {"chunk": …} per chunk)')
    .option('--idempotent', 'the call may be retried on another worker if its worker crashes')
    .option('--out <file>', 'write the result to FILE (a bytes result raw) instead of stdout')
    .option('--pool <name>', 'pool to run in')
    .option('--require <label>', 'through a router: only an agent with this key=value label takes the call (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .addOption(address).addOption(tokenFile).addOption(tlsCa).addOption(tlsCert).addOption(tlsKey).addOption(tlsServername).addOption(insecureTransport)
    .addOption(home)
    .addOption(json)
    .addHelpText('after', `\nExamples:\n  $ snakepit exec add a=1 b=2\n  $ snakepit exec greet '{"name": "Ada", "excited": true}'\n  $ snakepit exec tokens text="a b c" --stream`)
    .action((tool: string, args: string[], o: { session?: string; timeout?: number; stream?: boolean; idempotent?: boolean; pool?: string; require?: string[]; address?: string; home?: string; json?: boolean; out?: string }) =>
      run(!!o.json, async (io) => {
        const { execCommand } = await import('./commands/exec.js');
        const { timeout, ...rest } = o;
        return execCommand(tool, args, { ...rest, ...(timeout ? { timeoutMs: timeout } : {}) }, io);
      }),
    );

  program
    .command('drain')
    .description('stop taking new calls (DRAINING), let accepted calls finish, then stop the agent')
    .option('--deadline <seconds>', 'stop anyway after this long; unfinished calls fail', int('--deadline'))
    .addOption(address).addOption(tokenFile).addOption(tlsCa).addOption(tlsCert).addOption(tlsKey).addOption(tlsServername).addOption(insecureTransport)
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExample:\n  $ snakepit drain --deadline 30')
    .action((o: { deadline?: number; home?: string; json?: boolean }) =>
      run(!!o.json, async () => (await import('./commands/drain.js')).drainCommand(o)),
    );

  program
    .command('reload')
    .alias('restart')
    .description('replace every worker one at a time (new tool code is imported) without failing a call')
    .option('--pool <name>', 'only this pool')
    .addOption(address).addOption(tokenFile).addOption(tlsCa).addOption(tlsCert).addOption(tlsKey).addOption(tlsServername).addOption(insecureTransport)
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExample:\n  $ snakepit reload')
    .action((o: { pool?: string; home?: string; json?: boolean }) =>
      run(!!o.json, async () => (await import('./commands/reload.js')).reloadCommand(o)),
    );

  program
    .command('scale')
    .description('grow or shrink a running pool to N workers (through a cluster: on each agent)')
    .argument('<n>', 'workers the pool should have', int('N'))
    .option('--pool <name>', 'the pool (default: the first)')
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExamples:\n  $ snakepit scale 8\n  $ snakepit scale 2 --pool gpu')
    .action((n: number, o: { pool?: string; home?: string; json?: boolean }) =>
      run(!!o.json, async () => (await import('./commands/reload.js')).scaleCommand(n, o)),
    );

  program
    .command('logs')
    .description("the agent's and its workers' log (what tools print and log), newest last; works without a running agent")
    .option('-f, --follow', 'keep printing lines as they are written (Ctrl-C stops)')
    .option('--worker <id>', 'only the lines of this worker (e.g. default-0), or of "agent" / "daemon"')
    .option('-n, --lines <n>', `how many of the last lines to print (default: ${DEFAULTS.logLines})`, int('--lines'))
    .addOption(home)
    .addOption(new Option('--json', 'print the log records as JSON lines, one per line'))
    .addHelpText('after', '\nExamples:\n  $ snakepit logs --lines 100\n  $ snakepit logs --follow --worker default-0\n  $ snakepit logs --json | jq -r .msg')
    // Prints its own lines (JSON lines with --json), so the result is never printed as a document.
    .action((o: { follow?: boolean; worker?: string; lines?: number; home?: string; json?: boolean }) =>
      run(false, async (io) => (await import('./commands/logs.js')).logsCommand(o, io)),
    );

  program
    .command('tools')
    .description('list the tools the agent serves')
    .option('--pool <name>', 'only this pool')
    .option('--names', 'only the names, one per line (for scripts and shell completion)')
    .addOption(address).addOption(tokenFile).addOption(tlsCa).addOption(tlsCert).addOption(tlsKey).addOption(tlsServername).addOption(insecureTransport)
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExamples:\n  $ snakepit tools\n  $ snakepit tools --pool ml --json\n  $ snakepit tools --names')
    .action((o: { pool?: string; names?: boolean; address?: string; home?: string; json?: boolean }) =>
      run(!!o.json, async () => (await import('./commands/tools.js')).toolsCommand(o)),
    );

  program
    .command('stats')
    .alias('status')
    .description('agent, workers, queue, calls and latency')
    .addOption(address).addOption(tokenFile).addOption(tlsCa).addOption(tlsCert).addOption(tlsKey).addOption(tlsServername).addOption(insecureTransport)
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExamples:\n  $ snakepit stats\n  $ snakepit stats --json | jq .latencyMs')
    .action((o: { address?: string; home?: string; json?: boolean }) =>
      run(!!o.json, async () => (await import('./commands/stats.js')).statsCommand(o)),
    );

  program
    .command('dashboard')
    .description('live view of workers, throughput, latency, queue and events; keys restart a worker or drain')
    .option('--interval <ms>', `interval of stats snapshots, ms (default ${DEFAULTS.watchIntervalMs})`, int('--interval'))
    .addOption(address).addOption(tokenFile).addOption(tlsCa).addOption(tlsCert).addOption(tlsKey).addOption(tlsServername).addOption(insecureTransport)
    .addOption(home)
    .addOption(json)
    .addHelpText(
      'after',
      '\nOn a terminal: ↑/↓ select a worker, r restarts it, d (twice) drains the agent, q quits.\nOtherwise (piped, or --json) it prints one snapshot and exits.\n\nExample:\n  $ snakepit dashboard --interval 500',
    )
    .action((o: { interval?: number; address?: string; home?: string; json?: boolean }) =>
      run(!!o.json, async () => (await import('./commands/dashboard.js')).dashboardCommand(o)),
    );

  const router = program
    .command('router')
    .description('a router over the agents registered in etcd (agents on other hosts: `snakepit up --registry …` there)')
    .addHelpText('after', '\nExamples:\n  $ snakepit router up --registry etcd://10.0.0.2:2379 --listen 10.0.0.1:7100 --token-file ~/.snakepit-token \\\n      --tls-cert certs/10.0.0.1.crt --tls-key certs/10.0.0.1.key --tls-ca certs/ca.crt\n  $ snakepit router status\n  $ snakepit router down');
  const routerHome = async (h: string | undefined): Promise<string> => h ?? join((await import('../daemon/home.js')).resolveHome(), 'router');
  const routerUp = router
    .command('up')
    .alias('start')
    .description("start a router (detached unless --foreground) that routes to the agents in etcd; its home (default: the default home's router/) answers as one service")
    .option('--registry <url>', 'the etcd the agents register in: etcd://HOST:PORT[,…]');
  withRegistryTls(routerUp)
    .option('--listen <host:port>', 'also serve the Agent API on TCP (clients on other hosts); needs --token-file, and TLS off loopback')
    .option('--advertise <host:port>', 'the address others dial (default: the --listen address)')
    .option('--token-file <file>', 'the cluster token (default $SNAKEPIT_TOKEN_FILE): sent to the agents, and required of TCP clients')
    .option('--tls-cert <file>', 'serve TLS with this certificate (with --listen); also the client certificate shown to agents that require one')
    .option('--tls-key <file>', "the certificate's key (mode 0600)")
    .option('--tls-client-ca <file>', 'require client certificates signed by this CA (mTLS)')
    .option('--tls-ca <file>', "CA the agents' certificates chain to (default $SNAKEPIT_TLS_CA; required unless --insecure-transport: the token goes to every address in etcd)")
    .option('--insecure-transport', 'plaintext off loopback (to agents, and --listen): the token and every call in clear text')
    .option('--foreground', 'stay attached; logs on stderr; Ctrl-C stops')
    .option('--replace', 'a router with other settings runs for this home: drain it, then start this one')
    .addOption(home)
    .addOption(json)
    .action((o: Parameters<typeof import('./commands/up.js').upCommand>[0]) =>
      run(!!o.json, async (io) => (await import('./commands/up.js')).upCommand({ ...o, router: true, home: await routerHome(o.home) }, io)),
    );
  router
    .command('status')
    .description('the router, its membership (etcd ok or degraded) and each agent: state, workers, in-flight, phi, breaker')
    .addOption(address).addOption(tokenFile).addOption(tlsCa).addOption(tlsCert).addOption(tlsKey).addOption(tlsServername).addOption(insecureTransport)
    .addOption(home)
    .addOption(json)
    .action((o: { home?: string; address?: string; json?: boolean }) =>
      run(!!o.json, async () => {
        const { clusterStatusCommand } = await import('./commands/cluster.js');
        if (o.address) return clusterStatusCommand(o);
        const home = await routerHome(o.home);
        return clusterStatusCommand({ ...o, home }).catch(async (err: unknown) => {
          const { SnakepitError } = await import('../errors.js');
          if (err instanceof SnakepitError && err.code === 'AGENT_UNAVAILABLE') throw new SnakepitError('AGENT_UNAVAILABLE', `no router running for home ${home}; start one with \`snakepit router up --registry etcd://HOST:PORT --token-file FILE --tls-ca FILE\`${o.home ? ` --home ${home}` : ''}`);
          throw err;
        });
      }),
    );
  router
    .command('down')
    .alias('stop')
    .description('stop the router (its calls in flight finish); the agents keep running on their hosts')
    .addOption(home)
    .addOption(json)
    .action((o: { home?: string; json?: boolean }) => run(!!o.json, async (io) => (await import('./commands/down.js')).downCommand({ ...o, home: await routerHome(o.home) }, io)));

  const cluster = program
    .command('cluster')
    .description('a local cluster: several agents behind one router, used by exec, stats and connect() unchanged')
    .addHelpText('after', '\nExamples:\n  $ snakepit cluster demo\n  $ snakepit cluster up --agents 3\n  $ snakepit cluster status\n  $ snakepit cluster down');
  const clusterUp = cluster
    .command('up')
    .description('start a router and N agents (each in a sub-home); the home answers as one service')
    .option('--agents <n>', 'number of agents (default 3)', int('--agents'), 3)
    .option('--config <file>', 'project config file (default: ./snakepit.config.json when present)')
    .option('--tools <module>', 'tools module of every agent: a .py file or a module name (default: built-in demo tools)')
    .option('--workers <n>', 'workers per agent (default: CPU count)', int('--workers'))
    .option('--threads <n>', 'concurrent calls per worker, for thread-safe tool modules', int('--threads'))
    .option('--python <path>', 'Python interpreter (default: the one setup chose)')
    .option('--replace', 'a cluster (or agent) with other settings runs for this home: drain it, then start this one');
  withListener(clusterUp, 'the router')
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExamples:\n  $ snakepit cluster up --agents 3 --workers 2\n  $ snakepit exec add a=1 b=2   # through the router')
    .action((o: Parameters<typeof import('./commands/cluster.js').clusterUpCommand>[0]) =>
      run(!!o.json, async (io) => (await import('./commands/cluster.js')).clusterUpCommand(o, io)),
    );
  cluster
    .command('status')
    .description('the router and each agent: state, pid, workers, in-flight, queue, capacity, sessions, phi, breaker')
    .addOption(address).addOption(tokenFile).addOption(tlsCa).addOption(tlsCert).addOption(tlsKey).addOption(tlsServername).addOption(insecureTransport)
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExample:\n  $ snakepit cluster status --json | jq .agents')
    .action((o: { home?: string; address?: string; json?: boolean }) =>
      run(!!o.json, async () => (await import('./commands/cluster.js')).clusterStatusCommand(o)),
    );
  for (const [op, what] of [
    ['cordon', 'no new calls or sessions go to the agent (its calls in flight finish)'],
    ['uncordon', 'the agent takes calls again (a drained one is started again)'],
    ['drain', 'cordon the agent, let its calls finish, re-home its sessions, then stop it (it stays cordoned)'],
  ] as const) {
    const c = cluster
      .command(op)
      .description(what)
      .argument('<agent>', 'agent id, as `cluster status` shows it (e.g. agent-2)')
      .addOption(address).addOption(tokenFile).addOption(tlsCa).addOption(tlsCert).addOption(tlsKey).addOption(tlsServername).addOption(insecureTransport)
      .addOption(home)
      .addOption(json)
      .addHelpText('after', `\nExample:\n  $ snakepit cluster ${op} agent-2`);
    if (op === 'drain') c.option('--deadline <seconds>', 'stop the agent then, whatever is left', int('--deadline'));
    c.action((agent: string, o: { home?: string; address?: string; deadline?: number; json?: boolean }) =>
      run(!!o.json, async () => (await import('./commands/cluster.js')).clusterControlCommand(op, agent, o)),
    );
  }
  cluster
    .command('scale')
    .description('grow or shrink the cluster to N agents (removed ones finish their calls first)')
    .argument('<n>', 'number of agents')
    .addOption(address).addOption(tokenFile).addOption(tlsCa).addOption(tlsCert).addOption(tlsKey).addOption(tlsServername).addOption(insecureTransport)
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExample:\n  $ snakepit cluster scale 5')
    .action((n: string, o: { home?: string; address?: string; json?: boolean }) =>
      run(!!o.json, async () => (await import('./commands/cluster.js')).clusterControlCommand('scale', n, o)),
    );
  cluster
    .command('down')
    .alias('stop')
    .description('stop the router and every agent (in-flight calls finish); nothing is left running')
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExample:\n  $ snakepit cluster down')
    .action((o: { home?: string; json?: boolean }) => run(!!o.json, async (io) => (await import('./commands/cluster.js')).clusterDownCommand(o, io)));
  cluster
    .command('demo')
    .description('boot a local cluster in a temporary home, run a mixed load while showing it live, SIGKILL one agent midway, summarize; leaves nothing running')
    .option('--agents <n>', 'number of agents (default 3)', int('--agents'))
    .option('--workers <n>', 'workers per agent (default 2)', int('--workers'))
    .option('--requests <n>', 'calls in all (default 3000)', int('--requests'))
    .option('--concurrency <n>', 'calls in flight at once (default 8)', int('--concurrency'))
    .option('--no-kill', 'do not kill an agent')
    .option('--python <path>', 'Python interpreter (default: the one setup chose)')
    .addOption(json)
    .addHelpText(
      'after',
      '\nOn a terminal it shows each agent live (state, calls/s, in flight) and the kill and its detection as events;\notherwise (piped, or --json) one progress line per second on stderr. Ctrl-C stops it and cleans up (exit 130).\n\nExamples:\n  $ snakepit cluster demo\n  $ snakepit cluster demo --agents 5 --requests 10000\n  $ snakepit cluster demo --no-kill --json | jq .succeeded',
    )
    .action((o: { agents?: number; workers?: number; requests?: number; concurrency?: number; kill?: boolean; python?: string; json?: boolean }) =>
      run(!!o.json, async (io) => (await import('./commands/cluster-demo.js')).clusterDemoCommand(o, io)),
    );

  const certs = program
    .command('certs')
    .description('make a CA and host certificates (with openssl) for agents and clients on TCP')
    .addHelpText('after', '\nExamples:\n  $ snakepit certs init ./certs\n  $ snakepit certs issue ./certs 10.0.0.5 agent1.example');
  certs
    .command('init')
    .description('make a CA in DIR: ca.key (keep it private) and ca.crt (give it to clients as --tls-ca); files 0600, DIR 0700')
    .argument('<dir>', 'directory of the CA (created with mode 0700)')
    .option('--days <n>', `validity in days (default ${DEFAULTS.certCaDays})`, int('--days'))
    .option('--force', 'replace files that exist')
    .addOption(json)
    .addHelpText('after', '\nExample:\n  $ snakepit certs init ./certs')
    .action((dir: string, o: { days?: number; force?: boolean; json?: boolean }) => run(!!o.json, async () => (await import('./commands/certs.js')).certsInitCommand(dir, o)));
  certs
    .command('issue')
    .description("a certificate and key for HOST… signed by DIR's CA: IP SANs for IP addresses, DNS SANs otherwise; for servers and clients (mTLS)")
    .argument('<dir>', 'directory of the CA (from `certs init`)')
    .argument('<hosts...>', 'IP addresses and DNS names the certificate is for')
    .option('--name <name>', 'file name of NAME.crt / NAME.key (default: the first host)')
    .option('--days <n>', `validity in days (default ${DEFAULTS.certDays})`, int('--days'))
    .option('--force', 'replace files that exist')
    .addOption(json)
    .addHelpText('after', '\nExample:\n  $ snakepit certs issue ./certs 10.0.0.5 agent1.example   # ./certs/10.0.0.5.crt and .key')
    .action((dir: string, hosts: string[], o: { name?: string; days?: number; force?: boolean; json?: boolean }) => run(!!o.json, async () => (await import('./commands/certs.js')).certsIssueCommand(dir, hosts, o)));

  const doctor = program
    .command('doctor')
    .description('check the setup: python, home trust and permissions, agent reachable, version match, stale files, orphans, containment')
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExit code 1 when a check fails; each failure comes with a fix.\n\nExample:\n  $ snakepit doctor --json')
    .action((o: { home?: string; json?: boolean }) => run(!!o.json, async () => (await import('./commands/doctor.js')).doctorCommand(o)));

  doctor
    .command('cleanup')
    .description('kill processes of dead runs that the process registry proves are ours (TERM, then KILL), nothing else')
    .option('--dry-run', 'only list what would be killed')
    .addOption(home)
    .addOption(json)
    .addHelpText('after', '\nExample:\n  $ snakepit doctor cleanup --dry-run')
    .action((o: { home?: string; json?: boolean; dryRun?: boolean }) => {
      // `doctor --home H cleanup` puts the option on the parent command.
      const all = { ...(doctor.opts() as { home?: string; json?: boolean }), ...o };
      return run(!!all.json, async () => (await import('./commands/doctor-cleanup.js')).doctorCleanupCommand(all));
    });

  program
    .command('python-path')
    .description("the directory of Snakepit's Python package, to pip install it where tools are tested or edited")
    .addOption(json)
    .addHelpText('after', '\nExamples:\n  $ snakepit python-path\n  $ pip install "$(npx snakepit python-path)"   # then `import snakepit` works in that venv')
    .action((o: { json?: boolean }) =>
      run(!!o.json, async () => {
        const { PYTHON_RUNTIME_DIR } = await import('../paths.js');
        return { json: { path: PYTHON_RUNTIME_DIR }, text: PYTHON_RUNTIME_DIR };
      }),
    );

  program
    .command('completion')
    .description('print a shell completion script (bash or zsh)')
    .argument('[shell]', 'bash (default) or zsh')
    .addOption(json)
    .addHelpText('after', '\nExamples:\n  $ snakepit completion >> ~/.bashrc\n  $ snakepit completion zsh >> ~/.zshrc')
    .action((shell: string | undefined, o: { json?: boolean }) =>
      run(!!o.json, async () => (await import('./commands/completion.js')).completionCommand(program, shell)),
    );

  return program;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, async (json, action) => {
    try {
      const result = await action(io);
      exitCode = emit(result, json, io);
    } catch (err) {
      exitCode = reportError(err, json, io);
    }
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; anything else is a usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(err, argv.includes('--json'), io);
  }
  return exitCode;
}
