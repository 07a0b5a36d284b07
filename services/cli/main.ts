/** `deepchain` — operator commands. Each command wires config and clients, then calls library code. */
import { Command } from 'commander';
import {
  createKafka,
  createLogger,
  createPool,
  createSchemaRegistry,
  AvroSerde,
  DATABASE_ENV,
  DeepChainError,
  KAFKA_ENV,
  loadConfig,
  migratePool,
  provisionTopics,
  TOPIC_ENV,
  topicNames,
  topicReplication,
  describeConfig,
} from '../common/index.js';
import { addModelCommands } from './models.js';
import { addEvalCommands } from './eval.js';
import { addSimulateCommands } from './simulate.js';

const CLI_ENV = { ...KAFKA_ENV, ...TOPIC_ENV, ...DATABASE_ENV };

const program = new Command('deepchain')
  .description('DeepChain streaming learner: operator commands')
  .addHelpText('after', `\nEnvironment:\n  ${describeConfig(CLI_ENV).join('\n  ')}`)
  .showHelpAfterError();

program
  .command('migrate')
  .description('apply the SQL migrations in services/registry/migrations to DATABASE_URL (idempotent)')
  .action(async () => {
    const config = loadConfig({ DATABASE_URL: CLI_ENV.DATABASE_URL });
    const pool = createPool(config.DATABASE_URL, 1);
    try {
      const applied = await migratePool(pool);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'up to date');
    } finally {
      await pool.end();
    }
  });

program
  .command('topics')
  .description("create the product's Kafka topics that are missing and register their value schemas")
  .action(async () => {
    const config = loadConfig(CLI_ENV);
    const replication = topicReplication(config);
    const logger = createLogger('cli', 'warn');
    const admin = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'deepchain-cli', logger }).admin();
    await admin.connect();
    try {
      const { created, existing } = await provisionTopics(admin, config.TOPIC_PREFIX, replication);
      await new AvroSerde(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), topicNames(config.TOPIC_PREFIX)).registerAll();
      console.log(`created: ${created.join(', ') || 'none'}; already there: ${existing.join(', ') || 'none'}; schemas registered`);
    } finally {
      await admin.disconnect();
    }
  });

addModelCommands(program);
addEvalCommands(program);
addSimulateCommands(program);

try {
  await program.parseAsync();
} catch (err) {
  console.error(`deepchain: ${err instanceof DeepChainError ? err.message : (err as Error).stack ?? err}`);
  process.exit(1);
}
