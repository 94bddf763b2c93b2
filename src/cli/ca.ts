// `portcullis ca ...`: a small workload CA for meshes without istiod, and for tests
// and demos. init makes a root; issue signs SPIFFE workload certificates (Istio's
// shape); issue-server signs listener certificates. Key material is only ever
// written to files (0600), never printed.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isAbsolute, join, resolve } from 'node:path';
import { createRootCa, issueServerCert, issueWorkloadCert, trustDomainOfCa, DEFAULT_TRUST_DOMAIN } from '../ca/ca.ts';
import { parseTtl } from '../ca/duration.ts';
import { CACERTS_FILE, DEFAULT_CA_DIR, ROOT_CERT_FILE, ROOT_KEY_FILE, exists, loadCaDir, writeFileAtomic } from '../ca/files.ts';
import { renderCacertsSecret, renderTlsSecret } from '../ca/cacerts-secret.ts';
import { isValidNamespace, isValidServiceAccount, isValidTrustDomain } from '../auth/spiffe.ts';

export interface CaCommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Directory relative paths are resolved against (default: process.cwd()). */
  cwd?: string;
}

const defaultIo: CaCommandIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** Thrown for problems the user can fix; printed without a stack, exit status 1. */
class UsageError extends Error {}

const HELP = `Usage: portcullis ca <command> [options]

A certificate authority for workload identities (SPIFFE, as Istio issues them)
and for gateway listener certificates.

Commands:
  init           create a root CA and its trust bundle (cacerts.yaml)
  issue          issue a workload certificate for a namespace/service account
  issue-server   issue a server certificate for a TLS listener

Run \`portcullis ca <command> --help\` for the options of a command.
`;

const INIT_HELP = `Usage: portcullis ca init [--dir DIR] [--trust-domain TD] [--root-namespace NS] [--common-name CN] [--force]

Creates a root CA in DIR:
  root-cert.pem   the root certificate (trust domain in a spiffe://TD URI SAN)
  root-key.pem    its private key (mode 0600; keep it off shared storage)
  cacerts.yaml    Secret "cacerts" in the root namespace with root-cert.pem only,
                  the trust bundle for \`portcullis -f cacerts.yaml\` (no key inside)

Options:
  --dir DIR             CA directory (default ${DEFAULT_CA_DIR})
  --trust-domain TD     SPIFFE trust domain (default ${DEFAULT_TRUST_DOMAIN})
  --root-namespace NS   Istio root namespace for cacerts.yaml (default istio-system)
  --common-name CN      subject CN of the root (default "Portcullis Root CA")
  --force               replace an existing CA (certificates it issued stop verifying)
`;

const ISSUE_HELP = `Usage: portcullis ca issue --namespace NS --service-account SA [--dir DIR] [--ttl 24h] [--out PREFIX]

Issues a workload certificate with the URI SAN spiffe://TD/ns/NS/sa/SA
(serverAuth + clientAuth) and prints that SPIFFE id. Writes:
  PREFIX-cert.pem   the certificate
  PREFIX-key.pem    its private key (mode 0600)
  PREFIX-chain.pem  the certificate followed by the root (present this as a client)

Options:
  -n, --namespace NS          Kubernetes namespace (DNS-1123 label)
  -s, --service-account SA    service account name (DNS-1123 subdomain)
  --dir DIR                   CA directory (default ${DEFAULT_CA_DIR})
  --ttl DURATION              lifetime, e.g. 24h, 90m, 7d (default 24h)
  --trust-domain TD           override the CA's trust domain
  --out PREFIX                output path prefix (default ./NS-SA)
`;

const ISSUE_SERVER_HELP = `Usage: portcullis ca issue-server --host NAME [--host NAME...] [--ip ADDR...] [--dir DIR] [--ttl 90d] [--out PREFIX]

Issues a server certificate (serverAuth) for a gateway TLS listener. Writes
PREFIX-cert.pem, PREFIX-key.pem (mode 0600) and PREFIX-chain.pem, and with
--secret NAME also PREFIX-secret.yaml: a kubernetes.io/tls Secret to reference
from a Gateway listener's certificateRefs (it contains the key: mode 0600).

Options:
  --host NAME            DNS name (repeatable; "*.example.com" allowed)
  --ip ADDR              IP address (repeatable)
  --dir DIR              CA directory (default ${DEFAULT_CA_DIR})
  --ttl DURATION         lifetime (default 90d)
  --out PREFIX           output path prefix (default ./server)
  --secret NAME          also write PREFIX-secret.yaml with this Secret name
  --secret-namespace NS  namespace of that Secret (default "default")
`;

const COMMON = { help: { type: 'boolean', short: 'h' }, dir: { type: 'string' } } as const;

export async function runCaCommand(argv: string[], io: CaCommandIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'init':
        return await init(rest, io);
      case 'issue':
        return await issue(rest, io);
      case 'issue-server':
        return await issueServer(rest, io);
      case undefined:
        io.err(HELP);
        return 1;
      case 'help':
      case '-h':
      case '--help':
        io.out(HELP);
        return 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${HELP}`);
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    io.err(`portcullis ca${command ? ` ${command}` : ''}: ${msg}\n`);
    return 1;
  }
}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, help: string) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (e) {
    // parseArgs names the offending option; add where to read about the right ones.
    throw new UsageError(`${(e as Error).message}\n\n${help}`);
  }
}

async function init(args: string[], io: CaCommandIo): Promise<number> {
  const { values } = parse(args, {
    ...COMMON,
    'trust-domain': { type: 'string' },
    'root-namespace': { type: 'string' },
    'common-name': { type: 'string' },
    force: { type: 'boolean' },
  }, INIT_HELP);
  if (values.help) {
    io.out(INIT_HELP);
    return 0;
  }
  const dir = pathFrom(io, values.dir ?? DEFAULT_CA_DIR);
  const trustDomain = values['trust-domain'] ?? DEFAULT_TRUST_DOMAIN;
  if (!isValidTrustDomain(trustDomain)) throw new UsageError(`invalid --trust-domain ${JSON.stringify(trustDomain)}: lowercase letters, digits, '.', '-', '_'`);
  const rootNamespace = values['root-namespace'] ?? 'istio-system';
  if (!isValidNamespace(rootNamespace)) throw new UsageError(`invalid --root-namespace ${JSON.stringify(rootNamespace)}: must be a DNS-1123 label`);
  if (!values.force) {
    for (const f of [ROOT_KEY_FILE, ROOT_CERT_FILE, CACERTS_FILE]) {
      if (await exists(join(dir, f))) {
        throw new UsageError(`${join(dir, f)} already exists; use --force to replace the CA (certificates it issued will no longer verify)`);
      }
    }
  }
  const root = await createRootCa({ trustDomain, commonName: values['common-name'] });
  // Key first: a certificate without its key would be a CA nobody can use.
  await writeFileAtomic(join(dir, ROOT_KEY_FILE), root.keyPem, 0o600);
  await writeFileAtomic(join(dir, ROOT_CERT_FILE), root.certPem, 0o644);
  await writeFileAtomic(join(dir, CACERTS_FILE), renderCacertsSecret(root.certPem, rootNamespace), 0o644);
  io.out(
    `Created a root CA for trust domain ${trustDomain} in ${dir} (valid until ${root.notAfter.toISOString()}):\n` +
      `  ${join(dir, ROOT_CERT_FILE)}\n  ${join(dir, ROOT_KEY_FILE)} (private, 0600)\n  ${join(dir, CACERTS_FILE)} (Secret ${rootNamespace}/cacerts: the trust bundle, no key)\n`,
  );
  return 0;
}

async function issue(args: string[], io: CaCommandIo): Promise<number> {
  const { values } = parse(args, {
    ...COMMON,
    namespace: { type: 'string', short: 'n' },
    'service-account': { type: 'string', short: 's' },
    ttl: { type: 'string' },
    'trust-domain': { type: 'string' },
    out: { type: 'string' },
  }, ISSUE_HELP);
  if (values.help) {
    io.out(ISSUE_HELP);
    return 0;
  }
  const ns = values.namespace;
  const sa = values['service-account'];
  if (ns === undefined || sa === undefined) throw new UsageError(`--namespace and --service-account are required\n\n${ISSUE_HELP}`);
  if (!isValidNamespace(ns)) throw new UsageError(`invalid --namespace ${JSON.stringify(ns)}: must be a DNS-1123 label (lowercase letters, digits, '-', at most 63)`);
  if (!isValidServiceAccount(sa)) throw new UsageError(`invalid --service-account ${JSON.stringify(sa)}: must be a DNS-1123 subdomain`);
  const td = values['trust-domain'];
  if (td !== undefined && !isValidTrustDomain(td)) throw new UsageError(`invalid --trust-domain ${JSON.stringify(td)}`);
  const ttlMs = parseTtl(values.ttl ?? '24h');
  const dir = pathFrom(io, values.dir ?? DEFAULT_CA_DIR);
  const ca = await loadCa(dir, io);
  const trustDomain = td ?? trustDomainOfCa(ca.certPem) ?? DEFAULT_TRUST_DOMAIN;
  const cert = await issueWorkloadCert(ca, { namespace: ns, serviceAccount: sa, trustDomain, ttlMs });
  const prefix = pathFrom(io, values.out ?? `${ns}-${sa}`);
  await writeIssued(prefix, cert);
  io.out(`${cert.spiffeId}\n`);
  io.err(`Wrote ${prefix}-cert.pem, ${prefix}-key.pem (0600), ${prefix}-chain.pem; valid until ${cert.notAfter.toISOString()}\n`);
  return 0;
}

async function issueServer(args: string[], io: CaCommandIo): Promise<number> {
  const { values } = parse(args, {
    ...COMMON,
    host: { type: 'string', multiple: true },
    ip: { type: 'string', multiple: true },
    ttl: { type: 'string' },
    out: { type: 'string' },
    secret: { type: 'string' },
    'secret-namespace': { type: 'string' },
  }, ISSUE_SERVER_HELP);
  if (values.help) {
    io.out(ISSUE_SERVER_HELP);
    return 0;
  }
  const hosts = (values.host ?? []).map((h) => h.toLowerCase());
  const ips = values.ip ?? [];
  if (hosts.length === 0 && ips.length === 0) throw new UsageError(`at least one --host or --ip is required\n\n${ISSUE_SERVER_HELP}`);
  const secretNs = values['secret-namespace'] ?? 'default';
  if (values.secret !== undefined && !isValidServiceAccount(values.secret)) throw new UsageError(`invalid --secret ${JSON.stringify(values.secret)}: must be a DNS-1123 subdomain`);
  if (!isValidNamespace(secretNs)) throw new UsageError(`invalid --secret-namespace ${JSON.stringify(secretNs)}`);
  const ttlMs = parseTtl(values.ttl ?? '90d');
  const dir = pathFrom(io, values.dir ?? DEFAULT_CA_DIR);
  const ca = await loadCa(dir, io);
  const cert = await issueServerCert(ca, { hostnames: hosts, ips, ttlMs });
  const prefix = pathFrom(io, values.out ?? 'server');
  await writeIssued(prefix, cert);
  const written = [`${prefix}-cert.pem`, `${prefix}-key.pem (0600)`, `${prefix}-chain.pem`];
  if (values.secret !== undefined) {
    await writeFileAtomic(`${prefix}-secret.yaml`, renderTlsSecret(values.secret, secretNs, cert.chainPem, cert.keyPem), 0o600);
    written.push(`${prefix}-secret.yaml (Secret ${secretNs}/${values.secret}, 0600)`);
  }
  io.out(`Issued a server certificate for ${[...hosts, ...ips].join(', ')}, valid until ${cert.notAfter.toISOString()}:\n  ${written.join('\n  ')}\n`);
  return 0;
}

async function loadCa(dir: string, io: CaCommandIo) {
  const ca = await loadCaDir(dir);
  if (ca.keyTooOpen) io.err(`warning: ${join(dir, ROOT_KEY_FILE)} is readable by group or others; run chmod 600 on it\n`);
  return ca;
}

async function writeIssued(prefix: string, cert: { certPem: string; keyPem: string; chainPem: string }): Promise<void> {
  await writeFileAtomic(`${prefix}-key.pem`, cert.keyPem, 0o600);
  await writeFileAtomic(`${prefix}-cert.pem`, cert.certPem, 0o644);
  await writeFileAtomic(`${prefix}-chain.pem`, cert.chainPem, 0o644);
}

function pathFrom(io: CaCommandIo, p: string): string {
  if (p === '') throw new UsageError('empty path');
  return isAbsolute(p) ? p : resolve(io.cwd ?? process.cwd(), p);
}

if (import.meta.main) {
  process.exitCode = await runCaCommand(process.argv.slice(2));
}
