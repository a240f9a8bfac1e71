// `HOST:PORT` as the cluster writes it: etcd endpoints in `--registry` and the advertised address
// an agent registers. Pure, and strict: what passes is something a socket can dial, so a value
// read from etcd (hostile) cannot smuggle a path, a scheme or credentials into an address.
import { isIPv4, isIPv6 } from 'node:net';

export interface HostPort {
  /** A DNS name, an IPv4 address, or an IPv6 address without its brackets. */
  host: string;
  port: number;
}

/** A DNS name: dot-separated labels of letters, digits and inner hyphens, 253 bytes at most. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** `host:port` parsed, or why it is not one (a phrase to put after "expected HOST:PORT, ..."). */
export function parseHostPort(text: string): HostPort | string {
  if (text.length === 0) return 'got nothing';
  if (text.length > 300) return `got ${text.length} characters`;
  let host: string;
  let port: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return `'${text}' opens '[' without closing it`;
    host = text.slice(1, close);
    if (text[close + 1] !== ':') return `'${text}' has no port after ']' (e.g. [::1]:2379)`;
    port = text.slice(close + 2);
    if (!isIPv6(host)) return `'${host}' in '${text}' is no IPv6 address`;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return `'${text}' has no port (e.g. ${text}:2379)`;
    host = text.slice(0, colon);
    port = text.slice(colon + 1);
    if (host.includes(':')) return `'${text}' looks like an IPv6 address: put it in brackets, e.g. [${host}]:${port}`;
    if (!validHostName(host)) return `'${host}' in '${text}' is no host name or IPv4 address`;
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `the port '${port}' of '${text}' is not a number from 1 to 65535`;
  return { host, port: Number(port) };
}

function validHostName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  if (/^[\d.]+$/.test(host)) return isIPv4(host);
  return host.split('.').every((l) => LABEL.test(l));
}

/** The canonical text of a parsed address (IPv6 in brackets). */
export function formatHostPort(hp: HostPort): string {
  return `${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port}`;
}
