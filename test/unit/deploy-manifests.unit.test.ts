/**
 * deploy/k8s (kustomize base, dev and production overlays) and docker-compose.yml: every Kubernetes object
 * validates against the Kubernetes schemas (kubernetes-models), Strimzi's resources have the shape their
 * CRDs require, the workloads are what DESIGN.md §5a asks for, every environment variable set for a
 * service is one its config module declares (read from the spec objects, not copied), secrets only come
 * from Secret objects, and the KafkaTopics are the topics of services/common/topics.ts with the
 * replication the configuration asks for.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { loadConfig, TOPIC_ENV, topicDeclarations, topicReplication, type Field } from '../../services/common/index.js';
import { GATEWAY_ENV } from '../../services/gateway/config.js';
import { LEARNER_ENV } from '../../services/learner/config.js';
import { SERVING_ENV } from '../../services/serving/config.js';
import { SESSIONIZER_ENV } from '../../services/sessionizer/config.js';
import { kustomize, podContainers, type K8sObject } from '../support/kustomize.js';

const K8S = 'deploy/k8s';
const BUILDS = { base: `${K8S}/base`, dev: `${K8S}/overlays/dev`, production: `${K8S}/overlays/production` } as const;
type BuildName = keyof typeof BUILDS;
const rendered = Object.fromEntries(Object.entries(BUILDS).map(([n, dir]) => [n, kustomize(dir)])) as Record<BuildName, K8sObject[]>;

/** Each service's environment variables: the spec its config module validates at start. */
const SERVICE_ENV_SPECS: Record<string, Record<string, Field<unknown>>> = {
  gateway: GATEWAY_ENV,
  sessionizer: SESSIONIZER_ENV,
  learner: LEARNER_ENV,
  serving: SERVING_ENV,
};

/** The kubernetes-models class that validates each built-in kind these manifests may use. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

const STRIMZI = 'kafka.strimzi.io/v1beta2';

type Container = ReturnType<typeof podContainers>[number];
type EnvVar = { name: string; value?: string; valueFrom?: Record<string, any> };

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is missing`);
  return o;
}

/** The service a container runs (`node … services/<name>/main.ts`), or null for a third-party image. */
function serviceOf(command: unknown): string | null {
  const text = Array.isArray(command) ? command.join(' ') : String(command ?? '');
  return /services\/([a-z]+)\/main\.ts/.exec(text)?.[1] ?? null;
}

function serviceContainers(objects: K8sObject[]): { service: string; container: Container; owner: K8sObject }[] {
  return objects.flatMap((owner) =>
    podContainers(owner).flatMap((container) => {
      const service = serviceOf(container.command);
      return service ? [{ service, container, owner }] : [];
    }),
  );
}

function envOf(container: Container): EnvVar[] {
  return (container.env ?? []) as EnvVar[];
}

/** Problems with a Strimzi resource: the fields its v1beta2 CRD requires, with the types it expects. */
function strimziProblems(o: K8sObject, all: K8sObject[]): string[] {
  const at = `${o.kind}/${o.metadata.name}`;
  const spec = o.spec as any;
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => void (ok || problems.push(`${at}: ${what}`));
  const isInt = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min;
  need(o.apiVersion === STRIMZI, `apiVersion must be ${STRIMZI}`);
  need(typeof spec === 'object' && spec !== null, 'spec is required');
  if (!spec) return problems;
  const clusters = all.filter((x) => x.kind === 'Kafka').map((x) => x.metadata.name);
  const clusterLabel = o.metadata.labels?.['strimzi.io/cluster'];
  switch (o.kind) {
    case 'Kafka': {
      need(typeof spec.kafka === 'object', 'spec.kafka is required');
      const listeners = spec.kafka?.listeners;
      need(Array.isArray(listeners) && listeners.length > 0, 'spec.kafka.listeners must list at least one listener');
      for (const l of listeners ?? []) {
        need(typeof l.name === 'string' && /^[a-z0-9]{1,11}$/.test(l.name), `listener name '${l.name}' must be 1-11 lower-case letters or digits`);
        need(isInt(l.port, 9092), `listener ${l.name}: port must be an integer from 9092`);
        need(['internal', 'route', 'loadbalancer', 'nodeport', 'ingress', 'cluster-ip'].includes(l.type), `listener ${l.name}: unknown type '${l.type}'`);
        need(typeof l.tls === 'boolean', `listener ${l.name}: tls must be true or false`);
      }
      need(typeof spec.kafka?.version === 'string', 'spec.kafka.version must be a string');
      need(typeof spec.kafka?.config === 'object', 'spec.kafka.config must be an object');
      need(typeof spec.entityOperator?.topicOperator === 'object', 'spec.entityOperator.topicOperator is required (KafkaTopics)');
      break;
    }
    case 'KafkaNodePool': {
      need(clusters.includes(clusterLabel ?? ''), `label strimzi.io/cluster must name a Kafka of this build (${clusters.join(', ')})`);
      need(isInt(spec.replicas, 1), 'spec.replicas must be an integer of at least 1');
      need(Array.isArray(spec.roles) && spec.roles.length > 0 && spec.roles.every((r: string) => r === 'controller' || r === 'broker'),
        'spec.roles must list controller and/or broker');
      const storage = spec.storage;
      need(['ephemeral', 'persistent-claim', 'jbod'].includes(storage?.type), 'spec.storage.type must be ephemeral, persistent-claim or jbod');
      for (const v of storage?.type === 'jbod' ? storage.volumes ?? [] : []) {
        need(isInt(v.id, 0), 'every jbod volume needs an integer id');
        need(v.type === 'ephemeral' || (v.type === 'persistent-claim' && /^\d+(Mi|Gi|Ti)$/.test(String(v.size))),
          `jbod volume ${v.id}: a persistent-claim needs a size such as 100Gi`);
      }
      break;
    }
    case 'KafkaTopic': {
      need(clusters.includes(clusterLabel ?? ''), `label strimzi.io/cluster must name a Kafka of this build (${clusters.join(', ')})`);
      need(isInt(spec.partitions, 1), 'spec.partitions must be an integer of at least 1');
      need(isInt(spec.replicas, 1), 'spec.replicas must be an integer of at least 1');
      need(typeof spec.config === 'object' && Object.values(spec.config ?? {}).every((v) => ['string', 'number', 'boolean'].includes(typeof v)),
        'spec.config must map names to strings, numbers or booleans');
      break;
    }
    default:
      problems.push(`${at}: not a Strimzi kind these manifests use (Kafka, KafkaNodePool, KafkaTopic)`);
  }
  return problems;
}

for (const [build, objects] of Object.entries(rendered) as [BuildName, K8sObject[]][]) {
  test(`${build}: every object validates against the Kubernetes schemas, Strimzi's by the shape of their CRDs`, () => {
    const problems: string[] = [];
    for (const o of objects) {
      if (o.apiVersion.startsWith('kafka.strimzi.io/')) {
        problems.push(...strimziProblems(o, objects));
        continue;
      }
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      if (!Model) {
        problems.push(`${o.kind}/${o.metadata?.name} (${o.apiVersion}): no schema here for this kind`);
        continue;
      }
      try {
        new Model(o).validate();
      } catch (err) {
        problems.push(`${o.kind}/${o.metadata.name}: ${(err as Error).message}`);
      }
    }
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    assert.equal(new Set(names).size, names.length, 'two objects share a kind and name');
    assert.deepEqual(problems, []);
  });

  test(`${build}: gateway and serving are Deployments with readiness and liveness probes, resources, an autoscaler and a disruption budget`, () => {
    for (const name of ['gateway', 'serving']) {
      const d = find(objects, 'Deployment', name);
      const [c] = podContainers(d);
      assert.ok(c && serviceOf(c.command) === name);
      const port = (c.ports ?? []).find((p: any) => p.name === 'http');
      assert.equal(String(port?.containerPort), envOf(c).find((e) => e.name === 'HTTP_PORT')?.value, `${name}: the http port is HTTP_PORT`);
      assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'http' }, `${name}: readiness on /readyz`);
      assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'http' }, `${name}: liveness on /healthz`);
      for (const kind of ['requests', 'limits']) {
        assert.ok(c.resources?.[kind]?.cpu && c.resources?.[kind]?.memory, `${name}: resources.${kind} has cpu and memory`);
      }
      const hpa = find(objects, 'HorizontalPodAutoscaler', name).spec as any;
      assert.deepEqual(hpa.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name });
      assert.ok(hpa.minReplicas >= 1 && hpa.maxReplicas > hpa.minReplicas);
      const pdb = find(objects, 'PodDisruptionBudget', name).spec as any;
      const labels = (d.spec as any).template.metadata.labels;
      for (const [k, v] of Object.entries(pdb.selector.matchLabels)) assert.equal(labels[k], v, `${name}: the budget selects its pods`);
    }
  });

  test(`${build}: the sessionizer is a StatefulSet whose stable pod name is its instance id`, () => {
    const s = find(objects, 'StatefulSet', 'sessionizer');
    const [c] = podContainers(s);
    assert.ok(c && serviceOf(c.command) === 'sessionizer');
    const id = envOf(c).find((e) => e.name === 'SESSIONIZER_INSTANCE_ID');
    assert.deepEqual(id?.valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'http' });
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'http' });
    const governing = find(objects, 'Service', (s.spec as any).serviceName).spec as any;
    assert.equal(governing.clusterIP, 'None', 'the governing Service is headless');
    const partitions = topicDeclarations().find((t) => t.topic === 'events')!.numPartitions ?? 0;
    assert.ok((s.spec as any).replicas <= partitions, `no more sessionizers than partitions of events (${partitions})`);
    find(objects, 'PodDisruptionBudget', 'sessionizer');
  });

  test(`${build}: one learner per model, each a single-replica Deployment replaced with Recreate`, () => {
    const learners = serviceContainers(objects).filter((x) => x.service === 'learner');
    assert.ok(learners.length >= 1);
    const models = learners.map(({ container, owner }) => {
      assert.equal(owner.kind, 'Deployment');
      assert.equal((owner.spec as any).replicas, 1, `${owner.metadata.name}: one replica`);
      assert.equal((owner.spec as any).strategy?.type, 'Recreate', `${owner.metadata.name}: the old learner stops before the new one starts`);
      const model = envOf(container).find((e) => e.name === 'MODEL_NAME')?.value;
      assert.ok(model, `${owner.metadata.name}: MODEL_NAME is set`);
      return model;
    });
    assert.equal(new Set(models).size, models.length, 'two learners train the same model');
  });

  test(`${build}: every environment variable set for a service is one its config declares, with a valid value`, () => {
    const found = serviceContainers(objects);
    assert.deepEqual([...new Set(found.map((x) => x.service))].sort(), Object.keys(SERVICE_ENV_SPECS).sort());
    const problems: string[] = [];
    for (const { service, container, owner } of found) {
      const spec = SERVICE_ENV_SPECS[service]!;
      const where = `${owner.kind}/${owner.metadata.name} (${service})`;
      if ((container.envFrom ?? []).length > 0) problems.push(`${where}: envFrom hides which variables are set; list them in env`);
      const env = envOf(container);
      for (const e of env) {
        const field = spec[e.name];
        if (!field) problems.push(`${where}: ${e.name} is not a variable of services/${service}/config.ts`);
        else if (e.value !== undefined) {
          try {
            field.parse(String(e.value));
          } catch (err) {
            problems.push(`${where}: ${e.name}: ${(err as Error).message}`);
          }
        }
      }
      for (const [name, field] of Object.entries(spec)) {
        if (field.defaultValue === undefined && !env.some((e) => e.name === name)) problems.push(`${where}: required ${name} is not set`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test(`${build}: secrets come from Secret objects through secretKeyRef, never as values`, () => {
    assert.deepEqual(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name), [], 'no Secret (with its values) is checked in');
    const problems: string[] = [];
    for (const o of objects) {
      for (const c of podContainers(o)) {
        for (const e of envOf(c)) {
          const secretName = /PASSWORD|SECRET|TOKEN|API_KEYS|USERNAME|_USER$|DATABASE_URL/.test(e.name);
          const credentialsInUrl = typeof e.value === 'string' && /:\/\/[^/@\s]+:[^/@\s]+@/.test(e.value);
          if ((secretName && !e.valueFrom?.secretKeyRef) || credentialsInUrl) {
            problems.push(`${o.kind}/${o.metadata.name} ${c.name}: ${e.name} must come from a Secret (valueFrom.secretKeyRef)`);
          }
          const ref = e.valueFrom?.secretKeyRef;
          if (ref && !(typeof ref.name === 'string' && typeof ref.key === 'string')) problems.push(`${o.kind}/${o.metadata.name}: ${e.name}: secretKeyRef needs name and key`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test(`${build}: a KafkaTopic for every topic of services/common/topics.ts, replicated as the brokers and the sessionizer are configured`, () => {
    const sessionizer = podContainers(find(objects, 'StatefulSet', 'sessionizer'))[0]!;
    const values = Object.fromEntries(envOf(sessionizer).filter((e) => e.value !== undefined).map((e) => [e.name, String(e.value)]));
    const replication = topicReplication(loadConfig(TOPIC_ENV, values));
    assert.equal(replication.replicationFactor, build === 'production' ? 3 : 1, 'replication 1 on one node, 3 in production');
    const topics = objects.filter((o) => o.kind === 'KafkaTopic');
    const actual = topics.map((t) => {
      const spec = t.spec as any;
      return {
        topic: spec.topicName ?? t.metadata.name,
        numPartitions: spec.partitions,
        replicationFactor: spec.replicas,
        configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value: String(value) })),
      };
    });
    const byName = <T extends { topic: string }>(l: T[]) => [...l].sort((a, b) => a.topic.localeCompare(b.topic));
    const sortEntries = (l: { configEntries: { name: string }[] }[]) => l.forEach((t) => t.configEntries.sort((a, b) => a.name.localeCompare(b.name)));
    const expected = topicDeclarations('', replication);
    sortEntries(actual);
    sortEntries(expected as any);
    assert.deepEqual(byName(actual), byName(expected as any));

    const kafka = find(objects, 'Kafka', 'deepchain').spec as any;
    const config = kafka.kafka.config;
    for (const key of ['default.replication.factor', 'offsets.topic.replication.factor', 'transaction.state.log.replication.factor']) {
      assert.equal(Number(config[key]), replication.replicationFactor, `Kafka ${key}`);
    }
    for (const key of ['min.insync.replicas', 'transaction.state.log.min.isr']) {
      assert.equal(Number(config[key]), replication.minInsyncReplicas, `Kafka ${key}`);
    }
    const brokers = objects
      .filter((o) => o.kind === 'KafkaNodePool' && ((o.spec as any).roles as string[]).includes('broker'))
      .reduce((n, o) => n + (o.spec as any).replicas, 0);
    assert.ok(brokers >= replication.replicationFactor, `${brokers} brokers cannot hold ${replication.replicationFactor} replicas`);
  });

  test(`${build}: the schema registry is Apicurio Registry 3 with its SQL storage on Postgres`, () => {
    const [c] = podContainers(find(objects, 'Deployment', 'registry'));
    assert.match(c!.image, /^apicurio\/apicurio-registry:3\./);
    const env = Object.fromEntries(envOf(c!).map((e) => [e.name, e]));
    assert.equal(env.APICURIO_STORAGE_KIND?.value, 'sql');
    assert.equal(env.APICURIO_STORAGE_SQL_KIND?.value, 'postgresql');
    assert.match(env.APICURIO_DATASOURCE_URL?.value ?? '', /^jdbc:postgresql:\/\/postgres:5432\/\w+$/);
    for (const name of ['APICURIO_DATASOURCE_USERNAME', 'APICURIO_DATASOURCE_PASSWORD']) assert.ok(env[name]?.valueFrom?.secretKeyRef, `${name} from a Secret`);
    const postgres = find(objects, 'StatefulSet', 'postgres').spec as any;
    assert.ok(postgres.volumeClaimTemplates?.length === 1, 'Postgres keeps its data on a persistent volume');
  });
}

test('Prometheus finds each service through a headless Service of all its pods, on the port the service listens on', () => {
  const prometheus = parseYaml(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')) as any;
  const jobs = prometheus.scrape_configs as { job_name: string; dns_sd_configs: { names: string[]; port: number; type: string }[] }[];
  assert.deepEqual(jobs.map((j) => j.job_name).sort(), Object.keys(SERVICE_ENV_SPECS).sort(), 'one job per service');
  for (const job of jobs) {
    const [sd] = job.dns_sd_configs;
    const svc = find(rendered.base, 'Service', sd!.names[0]!).spec as any;
    assert.equal(svc.clusterIP, 'None');
    assert.equal(svc.publishNotReadyAddresses, true, 'unready pods are scraped too (a serving node without a version)');
    assert.equal(svc.selector['app.kubernetes.io/name'], job.job_name);
    const { container } = serviceContainers(rendered.base).find((x) => x.service === job.job_name)!;
    const port = envOf(container).find((e) => e.name === 'HTTP_PORT')?.value;
    assert.equal(String(sd!.port), port, `${job.job_name}: scraped on HTTP_PORT`);
    assert.equal(String(svc.ports[0].port), port);
  }
});

test('docker-compose.yml: every variable set for a service is one its config declares; data in named volumes', () => {
  const compose = parseYaml(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as any;
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [name, s] of Object.entries<any>(compose.services)) {
    const service = serviceOf(s.command);
    if (!service) continue;
    seen.add(service);
    const spec = SERVICE_ENV_SPECS[service];
    if (!spec) {
      problems.push(`${name}: runs services/${service}, which has no config spec here`);
      continue;
    }
    for (const [key, value] of Object.entries<unknown>(s.environment ?? {})) {
      if (!spec[key]) problems.push(`${name}: ${key} is not a variable of services/${service}/config.ts`);
      else {
        try {
          spec[key]!.parse(String(value));
        } catch (err) {
          problems.push(`${name}: ${key}: ${(err as Error).message}`);
        }
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.deepEqual([...seen].sort(), Object.keys(SERVICE_ENV_SPECS).sort());
  const mounts = (svc: string) => (compose.services[svc].volumes ?? []) as string[];
  assert.ok(mounts('kafka').some((m) => m.startsWith('kafka-data:')), 'Kafka data in a named volume');
  assert.ok(mounts('postgres').some((m) => m.startsWith('postgres-data:')), 'Postgres data in a named volume');
  assert.deepEqual(Object.keys(compose.volumes ?? {}).sort(), ['kafka-data', 'postgres-data']);
  assert.equal(compose.services.registry.environment.APICURIO_STORAGE_KIND, 'sql', 'the registry keeps its schemas in Postgres');
});

test('every YAML file under deploy/k8s parses', () => {
  const files = spawnSync('find', [K8S, '-name', '*.yaml'], { encoding: 'utf8' }).stdout.trim().split('\n');
  assert.ok(files.length > 5);
  for (const f of files) {
    for (const d of parseAllDocuments(readFileSync(f, 'utf8'))) assert.deepEqual(d.errors, [], f);
  }
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

test('kubectl kustomize builds the same objects as the test does', { skip: kubectl ? false : 'kubectl is not installed' }, () => {
  // Lists merged by name come out in another order from kubectl; the order of env and containers is not
  // meaningful here (no $(VAR) references), so compare with named lists sorted.
  const normalise = (v: unknown): unknown => {
    if (Array.isArray(v)) {
      const items = v.map(normalise);
      return items.every((i) => typeof i === 'object' && i !== null && typeof (i as any).name === 'string')
        ? [...items].sort((a: any, b: any) => a.name.localeCompare(b.name))
        : items;
    }
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, normalise(x)]));
    return v;
  };
  const key = (o: any) => `${o.kind}/${o.metadata.name}`;
  for (const [build, dir] of Object.entries(BUILDS) as [BuildName, string][]) {
    const out = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const theirs = parseAllDocuments(out.stdout).map((d) => d.toJS() as K8sObject);
    const sort = (l: K8sObject[]) => [...l].sort((a, b) => key(a).localeCompare(key(b))).map(normalise);
    assert.deepEqual(sort(rendered[build]), sort(theirs), build);
  }
});
