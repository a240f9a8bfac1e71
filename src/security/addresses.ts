// TCP addresses of the Agent API, as flags and options write them: `HOST:PORT`, `[IPv6]:PORT`.
// Pure (the host's interfaces are passed in), so every rule here is tested as a table: what
// counts as loopback (plaintext is allowed there), and what an agent listening on every
// interface advertises to others.
import { isIP } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';
import { SnakepitError } from '../errors.js';

export interface HostPort {
  /** An IP literal (IPv6 without brackets) or a DNS name. */
  host: string;
  port: number;
}

/** A DNS name: dot-separated labels of letters, digits and inner hyphens. */
const DNS_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Whether `host` is an IP literal or a well-formed DNS name (nothing else may reach a URL or a certificate). */
export function validHost(host: string): boolean {
  return isIP(host) !== 0 || DNS_NAME.test(host);
}

/** Parses `HOST:PORT` or `[IPv6]:PORT`; a usage error naming `what` (e.g. `--listen`) otherwise. */
export function parseHostPort(raw: string, what: string): HostPort {
  const bad = (why: string): SnakepitError => new SnakepitError('USAGE', `${what} expects HOST:PORT (e.g. 127.0.0.1:7000, [::1]:7000 or agent1.example:7000), got '${raw.slice(0, 200)}': ${why}`);
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(raw) ?? /^([^:[\]]+):(\d+)$/.exec(raw);
  if (!m) throw bad(raw.includes(':') && !raw.startsWith('[') && raw.split(':').length > 2 ? 'an IPv6 address goes in brackets' : 'no :PORT');
  const host = m[1]!;
  const port = Number(m[2]);
  if (raw.startsWith('[') && isIP(host) !== 6) throw bad(`'${host}' is not an IPv6 address`);
  if (!validHost(host)) throw bad(`'${host}' is neither an IP address nor a host name`);
  if (!Number.isInteger(port) || port > 65535) throw bad('the port is 0-65535');
  return { host, port };
}

/** `HOST:PORT`, with an IPv6 host in brackets. */
export function formatHostPort(a: HostPort): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Whether traffic to `host` never leaves this machine: 127.0.0.0/8, ::1 (also IPv4-mapped), `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

/** Whether `host` is an "every interface" address (0.0.0.0, ::). */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || (isIP(host) === 6 && /^[0:]+$/.test(host));
}

/**
 * What others dial to reach an agent listening on `listen` (bound to `boundPort`): `advertise`
 * when given (its port 0 means the bound one), else the listen address; an agent on every
 * interface advertises the machine's one address of that family, and is refused when it has none
 * or several (then only the user knows which one the others reach).
 */
export function advertiseAddress(listen: HostPort, boundPort: number, advertise: HostPort | undefined, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string {
  if (advertise) {
    if (isWildcardHost(advertise.host)) throw new SnakepitError('USAGE', `--advertise ${formatHostPort(advertise)} is not an address others can dial; give this host's name or IP address`);
    return formatHostPort({ host: advertise.host, port: advertise.port || boundPort });
  }
  if (!isWildcardHost(listen.host)) return formatHostPort({ host: listen.host, port: boundPort });
  const family = listen.host === '0.0.0.0' ? 'IPv4' : 'IPv6';
  const candidates = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .filter((i) => !i.internal && i.family === family && !(family === 'IPv6' && i.address.toLowerCase().startsWith('fe80:')))
    .map((i) => i.address);
  const unique = [...new Set(candidates)];
  if (unique.length === 1) return formatHostPort({ host: unique[0]!, port: boundPort });
  const listed = unique.length === 0 ? `this host has no ${family} address but loopback` : `this host has several ${family} addresses (${unique.slice(0, 8).join(', ')})`;
  throw new SnakepitError('USAGE', `--listen ${formatHostPort(listen)} binds every interface and ${listed}: say which one others dial with --advertise HOST:PORT`);
}
