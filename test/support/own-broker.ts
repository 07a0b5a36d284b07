/**
 * A Kafka broker of a chaos run's own (deploy/infra.sh on a free port, KRaft, data of its own), which the run
 * may stop and start at will — never the shared one at 127.0.0.1:9092. Any port but 9092 keeps its data, pid
 * and log in `.infra/kafka-<version>/port-N/`, deleted by `dispose` (`deploy/infra.sh reset kafka`).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../services/common/index.js';
import { infraScript } from './infra-script.js';

const INFRA = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy', 'infra.sh');

export interface OwnBroker {
  readonly port: number;
  readonly brokers: string[];
  /** deploy/infra.sh up kafka (formats the data on the first start only). */
  start(): Promise<void>;
  /** deploy/infra.sh down kafka: SIGTERM, SIGKILL after 30 s; true if it had to be killed. */
  stop(): Promise<boolean>;
  /** Copies the broker's log (overwritten by each start) to `to`. */
  keepLog(to: string): void;
  /** Stops it and deletes its folder (data, log, pid). */
  dispose(): Promise<void>;
  /** The same, synchronously: for a process 'exit' handler (an interrupted run). */
  disposeSync(): void;
}

export async function ownBroker(): Promise<OwnBroker> {
  const port = await freePort();
  let controller = await freePort();
  while (controller === port) controller = await freePort();
  const envOf = { KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controller) };
  let logPath: string | null = null;
  return {
    port,
    brokers: [`127.0.0.1:${port}`],
    start: async () => {
      const { stdout, stderr } = await infraScript(['up', 'kafka'], envOf);
      if (!/^kafka started$/m.test(stdout)) throw new Error(`port ${port}: another broker answers there (${stdout.trim()})`);
      logPath = /\(log: (.*server\.log)\)/.exec(stderr)?.[1] ?? logPath;
    },
    stop: async () => /killed after/.test((await infraScript(['down', 'kafka'], envOf)).stderr),
    keepLog: (to) => { if (logPath && existsSync(logPath)) copyFileSync(logPath, to); },
    dispose: async () => { await infraScript(['reset', 'kafka'], envOf); },
    disposeSync: () => {
      spawnSync('bash', [INFRA, 'reset', 'kafka'], { cwd: dirname(dirname(INFRA)), env: { ...process.env, ...envOf }, stdio: 'ignore', timeout: 60_000 });
    },
  };
}
