/**
 * Builds a kustomization the way `kubectl kustomize` does, for the few features deploy/k8s uses, so the
 * manifest tests need no kubectl: resources (files and directories), configMapGenerator (files, no name
 * hash), namespace, images, replicas, and patches (strategic-merge documents, or JSON 6902 operations with
 * a target). A feature outside that set is an error, not a silent difference; where kubectl is installed,
 * the manifest test also compares this output with kubectl's.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const SUPPORTED = new Set([
  'apiVersion', 'kind', 'resources', 'configMapGenerator', 'generatorOptions', 'namespace', 'images', 'replicas', 'patches',
]);

/** Every document of a YAML file, empty ones left out. */
export function readYamlDocuments(path: string): unknown[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`${path}: ${d.errors[0]!.message}`);
      return d.toJS() as unknown;
    })
    .filter((d) => d !== null && d !== undefined);
}

export function kustomize(dir: string): K8sObject[] {
  const k = parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Record<string, any>;
  for (const key of Object.keys(k)) if (!SUPPORTED.has(key)) throw new Error(`${dir}: kustomization field '${key}' is not supported here`);

  let objects: K8sObject[] = [];
  for (const r of (k.resources ?? []) as string[]) {
    const path = join(dir, r);
    objects.push(...(statSync(path).isDirectory() ? kustomize(path) : (readYamlDocuments(path) as K8sObject[])));
  }
  for (const g of (k.configMapGenerator ?? []) as { name: string; files?: string[]; [k: string]: unknown }[]) {
    if (k.generatorOptions?.disableNameSuffixHash !== true) throw new Error(`${dir}: generated names with a hash suffix are not supported here`);
    if (Object.keys(g).some((key) => key !== 'name' && key !== 'files')) throw new Error(`${dir}: configMapGenerator supports name and files only`);
    const data = Object.fromEntries((g.files ?? []).map((f) => [basename(f), readFileSync(join(dir, f), 'utf8')]));
    const labels = k.generatorOptions?.labels as Record<string, string> | undefined;
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name, ...(labels ? { labels: { ...labels } } : {}) }, data });
  }

  for (const p of (k.patches ?? []) as { path?: string; patch?: string; target?: Target }[]) {
    const text = p.path ? readFileSync(join(dir, p.path), 'utf8') : p.patch!;
    const body = parseYaml(text) as Json;
    if (Array.isArray(body)) {
      if (!p.target) throw new Error(`${dir}: a JSON 6902 patch needs a target`);
      const hits = objects.filter((o) => matches(o, p.target!));
      if (hits.length === 0) throw new Error(`${dir}: patch target ${JSON.stringify(p.target)} matches nothing`);
      objects = objects.map((o) => (hits.includes(o) ? (applyJson6902(o as unknown as Json, body as Op[]) as unknown as K8sObject) : o));
    } else {
      const doc = body as unknown as K8sObject;
      const target: Target = p.target ?? { kind: doc.kind, name: doc.metadata.name };
      const hits = objects.filter((o) => matches(o, target));
      if (hits.length === 0) throw new Error(`${dir}: patch for ${doc.kind}/${doc.metadata.name} matches nothing`);
      objects = objects.map((o) => (hits.includes(o) ? (strategicMerge(o as unknown as Json, body) as unknown as K8sObject) : o));
    }
  }
  if (typeof k.namespace === 'string') {
    objects = objects.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: k.namespace } }));
  }
  for (const img of (k.images ?? []) as { name: string; newName?: string; newTag?: string }[]) {
    for (const o of objects) {
      for (const c of podContainers(o)) {
        const [name, tag] = splitImage(c.image);
        if (name !== img.name) continue;
        c.image = `${img.newName ?? name}${img.newTag !== undefined ? `:${img.newTag}` : tag === undefined ? '' : `:${tag}`}`;
      }
    }
  }
  for (const r of (k.replicas ?? []) as { name: string; count: number }[]) {
    const hits = objects.filter((o) => ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(o.kind) && o.metadata.name === r.name);
    if (hits.length === 0) throw new Error(`${dir}: replicas for '${r.name}' match nothing`);
    for (const o of hits) (o.spec as Record<string, unknown>).replicas = r.count;
  }
  return objects;
}

interface Target {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
}

function matches(o: K8sObject, t: Target): boolean {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  return (t.group === undefined || t.group === group) && (t.version === undefined || t.version === version) &&
    (t.kind === undefined || t.kind === o.kind) && (t.name === undefined || t.name === o.metadata.name);
}

/** The containers of a workload's pod template (or of a Pod). */
export function podContainers(o: K8sObject): { name: string; image: string; [k: string]: any }[] {
  const spec = (o.kind === 'Pod' ? o.spec : (o.spec as any)?.template?.spec) as any;
  return spec ? [...(spec.containers ?? []), ...(spec.initContainers ?? [])] : [];
}

function splitImage(image: string): [string, string | undefined] {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? [image.slice(0, colon), image.slice(colon + 1)] : [image, undefined];
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Maps merge key by key (null deletes); lists of named objects (containers, env) merge by name; others are replaced. */
function strategicMerge(base: Json, patch: Json): Json {
  if (isObject(base) && isObject(patch)) {
    const out: JsonObject = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key];
      else out[key] = key in base ? strategicMerge(base[key]!, value) : value;
    }
    return out;
  }
  const named = (l: Json) => Array.isArray(l) && l.length > 0 && l.every((e) => isObject(e) && typeof e.name === 'string');
  if (named(base) && named(patch)) {
    const out = [...(base as JsonObject[])];
    for (const item of patch as JsonObject[]) {
      const i = out.findIndex((e) => e.name === item.name);
      if (i >= 0) out[i] = strategicMerge(out[i]!, item) as JsonObject;
      else out.push(item);
    }
    return out;
  }
  return patch;
}

type Op = { op: 'add' | 'replace' | 'remove'; path: string; value?: Json };

function applyJson6902(doc: Json, ops: Op[]): Json {
  const out = structuredClone(doc);
  for (const op of ops) {
    const keys = op.path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let node: any = out;
    for (const key of keys) {
      node = node?.[Array.isArray(node) ? Number(key) : key];
      if (node === undefined) throw new Error(`JSON 6902 path ${op.path} does not exist`);
    }
    if (op.op !== 'add' && !(Array.isArray(node) ? Number(last) < node.length : last in node)) {
      throw new Error(`JSON 6902 ${op.op}: ${op.path} does not exist`);
    }
    if (op.op === 'remove') {
      if (Array.isArray(node)) node.splice(Number(last), 1);
      else delete node[last];
    } else if (Array.isArray(node) && op.op === 'add') {
      node.splice(last === '-' ? node.length : Number(last), 0, op.value);
    } else {
      node[Array.isArray(node) ? Number(last) : last] = op.value;
    }
  }
  return out;
}
