/**
 * The sessionizer as N real processes (services/sessionizer/main.ts) in one consumer group over an already
 * filled events topic, for `npm run bench -- sessionizer --processes N` (scale-out).
 *
 * Timing. The processes are started together on an events topic whose records (`produce`) are written in one
 * transaction left open, so read_committed consumers see none of them yet; kafkajs rebalances eagerly, so the
 * first process to join takes every partition until the others join. Once the group is Stable with N members
 * (polled every 100 ms with describeGroups, for 3 s: each process's 1 s timer restores its partitions from the
 * changelog meanwhile) the transaction is committed and the clock starts; it stops when
 * the group's committed offsets cover every event (`committed_before_stable`: events committed before, 0).
 * Per process: the events of the partitions the group assigned it at the start (offset moved in the window),
 * and its CPU time in the window (/proc/PID/stat, the node process itself), so `events_per_cpu_s` is the rate
 * one core would give each process if it had the core to itself (the broker and registry share the machine).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssignerProtocol, type Admin } from 'kafkajs';

const SETTLE_MS = 3_000;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ProcessesOptions {
  admin: Admin;
  processes: number;
  events: number;
  prefix: string;
  /** `${prefix}${SESSIONIZER_GROUP_ID}`: the group the processes form. */
  groupId: string;
  eventsTopic: string;
  brokers: readonly string[];
  registryUrl: string;
  cpuProfDir?: string;
  progress: (msg: string, extra?: object) => void;
  /** Writes the events in an open transaction and returns what commits it. */
  produce: () => Promise<() => Promise<void>>;
}

/** CPU seconds a process used so far (user + system; Linux clock ticks of 1/100 s); NaN elsewhere. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

export async function runSessionizerProcesses(o: ProcessesOptions): Promise<object> {
  const { admin, groupId, eventsTopic } = o;
  const suffix = groupId.slice(o.prefix.length);
  const children: { instance: string; child: ChildProcess; exited: boolean }[] = [];
  const committed = async (): Promise<Map<number, number>> => {
    const [t] = await admin.fetchOffsets({ groupId, topics: [eventsTopic] });
    return new Map((t?.partitions ?? []).map((p) => [p.partition, Math.max(0, Number(p.offset))]));
  };
  const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  try {
    for (let i = 0; i < o.processes; i++) {
      const instance = `bench-p${i}`;
      const profile = o.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`];
      const child = spawn(process.execPath, [...profile, '--import', 'tsx', join(ROOT, 'services/sessionizer/main.ts')], {
        cwd: ROOT,
        env: {
          ...process.env,
          KAFKA_BROKERS: o.brokers.join(','),
          SCHEMA_REGISTRY_URL: o.registryUrl,
          TOPIC_PREFIX: o.prefix,
          SESSIONIZER_GROUP_ID: suffix,
          SESSIONIZER_INSTANCE_ID: instance,
          HTTP_HOST: '127.0.0.1',
          HTTP_PORT: '0',
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      const entry = { instance, child, exited: false };
      child.once('exit', (code) => {
        entry.exited = true;
        if (code !== 0 && code !== null) o.progress('sessionizer process exited', { instance, code });
      });
      children.push(entry);
    }
    const commitEvents = await o.produce();
    const pidOf = new Map(children.map((c) => [`sessionizer-${c.instance}`, c.child.pid]));

    // Stable with N members, and still so SETTLE_MS later (each process's timer restores its partitions from
    // the changelog within a tick, as it does after any rebalance): the events are committed, the clock starts.
    let assignment = new Map<string, number[]>();
    let stableSince = 0;
    let stableMembers = '';
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (children.some((c) => c.exited)) throw new Error('a sessionizer process exited before the group was stable');
      if (Date.now() > deadline) throw new Error(`the group did not become stable with ${o.processes} members in 120 s`);
      const { groups } = await admin.describeGroups([groupId]);
      const g = groups[0];
      if (g && g.state === 'Stable' && g.members.length === o.processes) {
        assignment = new Map(g.members.map((m) => {
          const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
          return [m.clientId, [...(a?.assignment[eventsTopic] ?? [])].sort((x, y) => x - y)];
        }));
        const members = g.members.map((m) => m.memberId).sort().join(',');
        if (members !== stableMembers) { stableMembers = members; stableSince = Date.now(); }
        if ([...assignment.values()].flat().length > 0 && Date.now() - stableSince >= SETTLE_MS) break;
      } else {
        stableMembers = '';
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const start = await committed();
    await commitEvents();
    const t0 = performance.now();
    const cpu0 = new Map([...pidOf].map(([id, pid]) => [id, cpuSeconds(pid)]));
    o.progress('group stable', { members: Object.fromEntries(assignment), committed: sum(start) });

    let end = start;
    for (;;) {
      if (children.some((c) => c.exited)) throw new Error('a sessionizer process exited during the run');
      end = await committed();
      if (sum(end) >= o.events) break;
      if (performance.now() - t0 > 600_000) throw new Error('the sessionizer processes did not finish in 600 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = new Map([...pidOf].map(([id, pid]) => [id, cpuSeconds(pid)]));
    const inWindow = sum(end) - sum(start);
    const perProcess = [...assignment].map(([clientId, partitions]) => {
      const events = partitions.reduce((s, p) => s + (end.get(p) ?? 0) - (start.get(p) ?? 0), 0);
      const cpuS = (cpu1.get(clientId) ?? NaN) - (cpu0.get(clientId) ?? NaN);
      return {
        process: clientId, partitions, events, events_per_s: Math.round(events / seconds),
        cpu_s: Math.round(cpuS * 100) / 100, cores: Math.round((cpuS / seconds) * 100) / 100, events_per_cpu_s: Math.round(events / cpuS),
      };
    });
    const totalCpu = perProcess.reduce((s, p) => s + p.cpu_s, 0);
    const eventsPerS = Math.round(inWindow / seconds);
    return {
      processes: o.processes,
      events_per_s: eventsPerS,
      events_per_s_per_process: Math.round(eventsPerS / o.processes),
      // Per core of the machine (the broker, the registry and this bench share them), and per CPU second the
      // sessionizer processes themselves used.
      machine_cores: cpus().length,
      events_per_s_per_machine_core: Math.round(eventsPerS / cpus().length),
      events_per_sessionizer_cpu_s: Math.round(inWindow / totalCpu),
      sessionizer_cores_used: Math.round((totalCpu / seconds) * 100) / 100,
      seconds: Math.round(seconds * 1000) / 1000,
      events_in_window: inWindow,
      committed_before_stable: sum(start),
      per_process: perProcess,
    };
  } finally {
    for (const c of children) if (!c.exited) c.child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exited ? undefined : new Promise((r) => c.child.once('exit', r)))));
  }
}
