import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { BACKEND_SERVICES, SERVICE_NAMES } from '@strongroom/contracts';

// js-yaml 3 ships with Jest's toolchain; only its two loaders are used here.
const yaml = require('js-yaml') as { safeLoad(text: string): unknown; safeLoadAll(text: string): unknown[] };

const ROOT = path.join(__dirname, '..');
const read = (relative: string) => readFileSync(path.join(ROOT, relative), 'utf8');
const APPS = readdirSync(path.join(ROOT, 'apps')).filter((entry) =>
  statSync(path.join(ROOT, 'apps', entry)).isDirectory(),
);

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  environment?: Record<string, string>;
  volumes?: string[];
  user?: string;
  read_only?: boolean;
  depends_on?: Record<string, { condition: string }>;
}
const compose = yaml.safeLoad(read('docker-compose.yml')) as { services: Record<string, ComposeService> };

describe('apps', () => {
  it('are exactly the services declared in contracts', () => {
    expect([...APPS].sort()).toEqual([...SERVICE_NAMES].sort());
  });
});

describe('the Dockerfile (infra/docker/Dockerfile, one recipe for every app)', () => {
  const dockerfile = read('infra/docker/Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  it('is multi-stage', () => {
    expect(instructions.filter((line) => /^FROM\s/i.test(line)).length).toBeGreaterThanOrEqual(2);
  });

  it('runs the final stage as a numeric non-root user', () => {
    const finalStage = instructions.slice(instructions.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true));
    const users = finalStage.filter((line) => /^USER\s/i.test(line));
    expect(users.length).toBeGreaterThan(0);
    const [uid] = users.at(-1)!.split(/\s+/)[1]!.split(':');
    // Numeric, so Kubernetes can check runAsNonRoot against the image.
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
  });

  it('builds the APP it is given with turbo, checks its health and execs node directly', () => {
    expect(dockerfile).toContain('--filter=@strongroom/${APP}...');
    expect(instructions.some((line) => /^HEALTHCHECK\s.*\/health\/(ready|live)/.test(line))).toBe(true);
    expect(instructions.at(-1)).toBe('CMD ["sh", "-c", "exec node apps/$APP/dist/src/main.js"]');
  });

  it('copies the manifest of every workspace package that exists, and of nothing else', () => {
    const copied = [...dockerfile.matchAll(/^COPY (\S+)\/package\.json /gm)].map((m) => m[1]);
    const workspaces = ['packages', 'apps'].flatMap((dir) =>
      readdirSync(path.join(ROOT, dir)).map((name) => `${dir}/${name}`),
    );
    expect(copied.sort()).toEqual(workspaces.filter((w) => existsSync(path.join(ROOT, w, 'package.json'))).sort());
  });
});

describe('docker-compose.yml', () => {
  const nats = compose.services.nats!;

  it.each(APPS)('has a %s service built from its Dockerfile, non-root and read-only', (app) => {
    const service = compose.services[app];
    expect(service?.build).toMatchObject({ context: '.', dockerfile: 'infra/docker/Dockerfile', args: { APP: app } });
    expect(service?.user).toMatch(/^\$\{STRONGROOM_UID:-\d+\}:/);
    expect(service?.read_only).toBe(true);
  });

  it.each(APPS)('gives %s the bus over TLS, its PKI mounted read-only, Vault and the collector', (app) => {
    const { environment = {}, volumes = [] } = compose.services[app]!;
    expect(environment.NATS_URL).toMatch(/^tls:\/\/nats:\d+$/);
    expect(volumes).toContain(`./.strongroom/pki:${environment.NATS_PKI_DIR}:ro`);
    expect(environment.VAULT_ADDR).toBe('http://vault:8200');
    expect(environment.VAULT_ROLE_ID).toBe(`strongroom-${app}`);
    expect(environment.VAULT_SECRET_ID).toBeDefined();
    expect(environment.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel-collector:4318');
    expect(environment.OPS_HOST).toBe('0.0.0.0');
  });

  it.each([...BACKEND_SERVICES])(
    'gives %s its own database, as owner for migrations and as runtime role',
    (service) => {
      const { environment = {} } = compose.services[service]!;
      expect(environment.DATABASE_MIGRATION_URL).toMatch(
        new RegExp(`^postgres://strongroom_${service}_owner:.+@postgres:5432/strongroom_${service}$`),
      );
      expect(environment.DATABASE_RUNTIME_URL).toMatch(
        new RegExp(`^postgres://strongroom_${service}_app:.+@postgres:5432/strongroom_${service}$`),
      );
    },
  );

  it('mounts the NATS configuration and the PKI into nats', () => {
    expect(nats.volumes).toContain('./.strongroom/pki:/etc/strongroom/pki:ro');
    expect(nats.volumes).toContain('./infra/nats/nats-server.conf:/etc/nats/nats-server.conf:ro');
  });

  it('mounts only files that exist in the repository', () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const [source] = volume.split(':');
        if (!source!.startsWith('./') || source!.startsWith('./.strongroom')) continue;
        expect(existsSync(path.join(ROOT, source!))).toBe(true);
      }
    }
  });
});

describe('the NATS configuration used by compose', () => {
  const conf = read('infra/nats/nats-server.conf').replace(/^\s*#.*$/gm, '');

  it('requires TLS with client certificates mapped to users', () => {
    const tls = blockOf(conf, 'tls');
    expect(tls).toMatch(/verify_and_map\s*[:=]\s*true/);
    expect(tls).toContain('/etc/strongroom/pki/ca.crt');
    expect(tls).toContain('/etc/strongroom/pki/server.crt');
  });

  it('opens no plain listener: no websocket, MQTT, leaf, cluster or gateway port, no TLS opt-out', () => {
    for (const listener of ['websocket', 'mqtt', 'leafnodes', 'leaf', 'cluster', 'gateway']) {
      expect(blockOf(conf, listener)).toBeUndefined();
    }
    expect(conf).not.toMatch(/\bno_tls\b|\ballow_non_tls\s*[:=]\s*true/);
    // The monitoring port, if any, listens on the container's loopback only.
    const monitor = /^\s*(http|https|http_port|monitor_port)\s*[:=]\s*"?([^"\s]+)"?/m.exec(conf);
    if (monitor) expect(monitor[2]).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});

describe('infra', () => {
  it('creates a database for every backend service and the gateway (rate limits, idempotency keys)', () => {
    const script = read('infra/postgres/init/10-strongroom-databases.sh');
    const services = /^SERVICES="([^"]+)"/m.exec(script)![1]!.split(' ');
    expect(services.sort()).toEqual([...BACKEND_SERVICES, 'gateway'].sort());
    expect(statSync(path.join(ROOT, 'infra/postgres/init/10-strongroom-databases.sh')).mode & 0o111).not.toBe(0);
  });

  it('gives every service a Vault policy limited to its own secrets and Transit keys', () => {
    const script = read('infra/vault/init.sh');
    const services = /^SERVICES="([^"]+)"/m.exec(script)![1]!.split(' ');
    expect(services.sort()).toEqual([...SERVICE_NAMES].sort());
    const paths = [...script.matchAll(/^path "([^"]+)"/gm)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(0);
    for (const policyPath of paths) expect(policyPath).toMatch(/^(secret\/data\/\$1\/\*|transit\/[a-z/]+\/\$1-\*)$/);
    expect(script).toMatch(/vault secrets enable -path=secret -version=2 kv/);
    expect(script).toMatch(/vault secrets enable -path=transit transit/);
  });

  it('sends traces from the collector to Jaeger', () => {
    const collector = yaml.safeLoad(read('infra/otel/collector.yaml')) as {
      receivers: { otlp: { protocols: { http: { endpoint: string } } } };
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
      exporters: Record<string, { endpoint: string }>;
    };
    expect(collector.receivers.otlp.protocols.http.endpoint).toBe('0.0.0.0:4318');
    const [exporter] = collector.service.pipelines.traces.exporters;
    expect(collector.exporters[exporter!]!.endpoint).toBe('jaeger:4317');
  });
});

describe.each(APPS)('the %s Kubernetes manifest', (app) => {
  const docs = (
    existsSync(path.join(ROOT, `infra/k8s/${app}.yaml`)) ? yaml.safeLoadAll(read(`infra/k8s/${app}.yaml`)) : []
  ) as Array<{ kind: string; spec: Record<string, unknown> }>;
  const deployment = docs.find((d) => d.kind === 'Deployment') as
    | { spec: { template: { spec: { securityContext: Record<string, unknown>; containers: Container[] } } } }
    | undefined;
  interface Container {
    securityContext: Record<string, unknown>;
    livenessProbe: { httpGet: { path: string } };
    readinessProbe: { httpGet: { path: string } };
  }

  it('has a Deployment and a Service', () => {
    expect(docs.map((d) => d.kind).sort()).toEqual(['Deployment', 'Service']);
  });

  it('runs as non-root on a read-only root filesystem, probing /health/live and /health/ready', () => {
    const pod = deployment!.spec.template.spec;
    const [container] = pod.containers;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container!.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(container!.livenessProbe.httpGet.path).toBe('/health/live');
    expect(container!.readinessProbe.httpGet.path).toBe('/health/ready');
  });
});

/** The body of a top-level `name { ... }` (or `name: { ... }`) block of a nats config, if present. */
function blockOf(conf: string, name: string): string | undefined {
  const start = new RegExp(`^\\s*${name}\\s*[:=]?\\s*\\{`, 'm').exec(conf);
  if (!start) return undefined;
  let depth = 0;
  for (let i = start.index + start[0].length - 1; i < conf.length; i++) {
    if (conf[i] === '{') depth++;
    if (conf[i] === '}' && --depth === 0) return conf.slice(start.index, i + 1);
  }
  return conf.slice(start.index);
}
