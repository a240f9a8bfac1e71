// What a small cluster needs to run TLS, made with the `openssl` command (a well-kept tool, and
// present on nearly every host; nothing of our own does cryptography): a CA (`init`) and, per
// host, a certificate signed by it (`issue`) whose subjectAltNames carry the host's IPs and DNS
// names, usable as a server and as a client certificate (extendedKeyUsage serverAuth,clientAuth),
// so one CA serves TLS and mTLS. Keys are EC P-256. Everything is made in memory first, then
// written with mode 0600 into a directory of mode 0700; an existing file is never overwritten
// without `force`, and never written through a symbolic link.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { octal, who } from '../daemon/home.js';
import { validHost } from './addresses.js';
import { readPemFile } from './trusted-file.js';

export interface CertFile {
  path: string;
  kind: 'ca-key' | 'ca-cert' | 'key' | 'cert';
  mode: string;
}

export interface CertOptions {
  /** Replace files that exist. */
  force?: boolean | undefined;
  /** Validity, days (default DEFAULTS.certCaDays / DEFAULTS.certDays). */
  days?: number | undefined;
}

export const CA_KEY = 'ca.key';
export const CA_CERT = 'ca.crt';

/** `certs init DIR`: a new CA (ca.key, ca.crt). */
export function initCa(dir: string, opts: CertOptions = {}): CertFile[] {
  const root = resolve(dir);
  const files = [join(root, CA_KEY), join(root, CA_CERT)];
  openssl(['version']);
  ensureDir(root);
  refuseExisting(files, opts.force);
  const days = String(opts.days ?? DEFAULTS.certCaDays);
  scratch(root, (tmp) => {
    const { key, keyFile } = newKey(tmp);
    const cert = openssl(['req', '-x509', '-new', '-key', keyFile, '-sha256', '-days', days, '-subj', '/CN=snakepit cluster CA', '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    writeNew(files[0]!, key, opts.force);
    writeNew(files[1]!, cert, opts.force);
  });
  return [
    { path: files[0]!, kind: 'ca-key', mode: '0600' },
    { path: files[1]!, kind: 'ca-cert', mode: '0600' },
  ];
}

/** The subjectAltName entries for `hosts`: IP for IP literals, DNS otherwise; anything else is a usage error. */
export function subjectAltNames(hosts: readonly string[]): string[] {
  if (hosts.length === 0) throw new SnakepitError('USAGE', 'certs issue needs at least one HOST (an IP address or a DNS name the certificate is for)');
  return hosts.map((h) => {
    const host = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
    if (isIP(host)) return `IP:${host}`;
    if (validHost(host) || (host.startsWith('*.') && validHost(host.slice(2)))) return `DNS:${host.replace(/\.$/, '')}`;
    throw new SnakepitError('USAGE', `certs issue: '${h.slice(0, 100)}' is neither an IP address nor a DNS name`);
  });
}

/** The file name a certificate for `hosts` gets: `name`, else the first host made safe. */
export function certName(hosts: readonly string[], name?: string): string {
  const n = name ?? (hosts[0] ?? '').replace(/^\[|\]$/g, '').replace(/^\*\./, 'wildcard.').replace(/[^A-Za-z0-9._-]/g, '_');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/.test(n) || n === 'ca') throw new SnakepitError('USAGE', `certs issue: '${n}' cannot name a certificate file (letters, digits, . _ -; not 'ca'): pass --name NAME`);
  return n;
}

/** `certs issue DIR HOST…`: NAME.key and NAME.crt signed by DIR's CA. */
export function issueCert(dir: string, hosts: readonly string[], opts: CertOptions & { name?: string | undefined } = {}): { files: CertFile[]; sans: string[] } {
  const root = resolve(dir);
  const sans = subjectAltNames(hosts);
  const name = certName(hosts, opts.name);
  const caKey = join(root, CA_KEY);
  const caCert = join(root, CA_CERT);
  openssl(['version']);
  if (!existsSync(caKey) || !existsSync(caCert)) throw new SnakepitError('FILE_ERROR', `${root} holds no CA (${CA_KEY} and ${CA_CERT}): make one with \`snakepit certs init ${dir}\``);
  checkDir(root);
  readPemFile(caKey, 'secret', 'the CA key');
  readPemFile(caCert, 'public', 'the CA certificate');
  const files = [join(root, `${name}.key`), join(root, `${name}.crt`)];
  refuseExisting(files, opts.force);
  const cn = sans[0]!.slice(sans[0]!.indexOf(':') + 1);
  scratch(root, (tmp) => {
    const { key, keyFile } = newKey(tmp);
    const csr = openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${cn}`]);
    // The extensions go in a file (openssl x509 takes them no other way before 3.0).
    const ext = join(tmp, 'ext.cnf');
    writeFileSync(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${sans.join(',')}\n`, { mode: 0o600 });
    const serial = randomBytes(16);
    serial[0]! &= 0x7f; // a positive serial
    const cert = openssl(['x509', '-req', '-CA', caCert, '-CAkey', caKey, '-set_serial', `0x${serial.toString('hex')}`, '-sha256', '-days', String(opts.days ?? DEFAULTS.certDays), '-extfile', ext], csr);
    writeNew(files[0]!, key, opts.force);
    writeNew(files[1]!, cert, opts.force);
  });
  return {
    files: [
      { path: files[0]!, kind: 'key', mode: '0600' },
      { path: files[1]!, kind: 'cert', mode: '0600' },
    ],
    sans,
  };
}

/**
 * Runs `work` with a private scratch directory inside `root` (mode 0700, like `root`), removed
 * after: openssl reads keys and extensions only from files (stdin is a socket here, which it
 * cannot open as /dev/stdin).
 */
function scratch(root: string, work: (dir: string) => void): void {
  const tmp = mkdtempSync(join(root, '.tmp-'));
  try {
    work(tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A new EC P-256 key: its PEM, and a copy in `dir` (0600) for openssl to read. */
function newKey(dir: string): { key: Buffer; keyFile: string } {
  const key = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const keyFile = join(dir, 'key.pem');
  writeFileSync(keyFile, key, { mode: 0o600, flag: 'wx' });
  return { key, keyFile };
}

/** Runs openssl with `input` on stdin; its stdout. OPENSSL_NOT_FOUND when there is none. */
function openssl(args: string[], input?: Buffer): Buffer {
  const r = spawnSync('openssl', args, { input: input ?? Buffer.alloc(0), maxBuffer: 1024 * 1024, timeout: 30_000 });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new SnakepitError('OPENSSL_NOT_FOUND', 'snakepit certs needs the openssl command, which is not on PATH: install it (Debian/Ubuntu: apt-get install openssl; Fedora/RHEL: dnf install openssl; Alpine: apk add openssl)');
    throw new SnakepitError('INTERNAL', `openssl ${args[0]} failed: ${r.error.message}`);
  }
  if (r.status !== 0) throw new SnakepitError('INTERNAL', `openssl ${args[0]} failed (exit ${r.status}): ${r.stderr.toString('utf8').trim().split('\n').slice(-3).join(' ')}`);
  return r.stdout;
}

/** Makes `dir` (mode 0700, only what it creates) or proves an existing one private and ours. */
function ensureDir(dir: string): void {
  if (!existsSync(dir)) {
    const missing: string[] = [];
    for (let d = dir; !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
    for (const d of missing) {
      mkdirSync(d, { mode: 0o700 });
      chmodSync(d, 0o700); // mkdir's mode is masked by the umask
    }
  }
  checkDir(dir);
}

function checkDir(dir: string): void {
  const st = lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (st.isSymbolicLink() || !st.isDirectory()) throw new SnakepitError('FILE_UNSAFE', `${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; certificates go in a real directory of your own`);
  if (st.uid !== uid) throw new SnakepitError('FILE_UNSAFE', `${dir} is owned by ${who(st.uid)}, not by you (${who(uid)}); keys go in a directory of your own`);
  if (st.mode & 0o077) throw new SnakepitError('FILE_UNSAFE', `${dir} is open to group or others (mode ${octal(statSync(dir).mode)}); it holds private keys. Fix: chmod 700 ${dir}`);
}

function refuseExisting(files: readonly string[], force: boolean | undefined): void {
  for (const f of files) {
    let st;
    try {
      st = lstatSync(f);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) throw new SnakepitError('FILE_UNSAFE', `${f} is a symbolic link; nothing is written through one (remove it first)`);
    if (!force) throw new SnakepitError('FILE_ERROR', `${f} already exists; pass --force to replace it`);
  }
}

/** Writes mode 0600: a new file is created exclusively; with `force` an existing one is replaced atomically. */
function writeNew(path: string, data: Buffer, force: boolean | undefined): void {
  if (force) writeFileAtomic(path, data.toString('utf8'), 0o600);
  else writeFileSync(path, data, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}
