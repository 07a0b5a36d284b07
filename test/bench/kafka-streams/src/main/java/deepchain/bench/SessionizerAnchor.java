package deepchain.bench;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

/**
 * A benchmark anchor, not part of the product: the sessionizer's shape of work in Kafka Streams with
 * exactly_once_v2. Reads the events topic (Confluent-framed Avro), keeps each user's state in a persistent
 * key-value store backed by a changelog topic, and writes transitions (Confluent-framed Avro) keyed by user.
 * The fold is an approximation of services/sessionizer/fold.ts (see UserFold and the README).
 *
 * Usage: java -jar kafka-streams-anchor.jar --brokers H:P --input T --output T --app-id ID
 *          [--state-dir DIR] [--commit-interval-ms 100] [--threads 1] [--transition-schema-id 0]
 * Prints one JSON line per lifecycle step on stdout ({"state":"RUNNING",...}); the caller measures progress
 * from the consumer group's committed offsets (group = app id) and stops the process with SIGTERM.
 */
public final class SessionizerAnchor {
  static final String STORE = "users";

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = parse(argv);
    String brokers = required(args, "brokers");
    String input = required(args, "input");
    String output = required(args, "output");
    String appId = required(args, "app-id");

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, args.getOrDefault("commit-interval-ms", "100"));
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, args.getOrDefault("threads", "1"));
    p.put(StreamsConfig.STATE_DIR_CONFIG, args.getOrDefault("state-dir", System.getProperty("java.io.tmpdir") + "/kafka-streams-anchor"));
    p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

    int transitionSchemaId = Integer.parseInt(args.getOrDefault("transition-schema-id", "0"));
    StreamsBuilder builder = new StreamsBuilder();
    builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), Serdes.String(), Serdes.ByteArray()));
    builder.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
        .process(() -> new FoldProcessor(new Codec(transitionSchemaId)), STORE)
        .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));

    KafkaStreams streams = new KafkaStreams(builder.build(), p);
    CountDownLatch stopped = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      say("{\"state\":\"" + now + "\",\"ms\":" + System.currentTimeMillis() + "}");
      if (now == KafkaStreams.State.NOT_RUNNING || now == KafkaStreams.State.ERROR) stopped.countDown();
    });
    streams.setUncaughtExceptionHandler(e -> {
      say("{\"error\":" + quote(String.valueOf(e)) + "}");
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(Duration.ofSeconds(20));
      say("{\"processed\":" + FoldProcessor.PROCESSED.get() + ",\"transitions\":" + FoldProcessor.EMITTED.get()
          + ",\"dropped\":" + FoldProcessor.DROPPED.get() + "}");
    }));
    streams.start();
    stopped.await();
    System.exit(streams.state() == KafkaStreams.State.ERROR ? 1 : 0);
  }

  static synchronized void say(String line) {
    System.out.println(line);
    System.out.flush();
  }

  static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ") + "\"";
  }

  private static Map<String, String> parse(String[] argv) {
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i < argv.length; i += 2) {
      if (!argv[i].startsWith("--") || i + 1 >= argv.length) throw new IllegalArgumentException("expected --name value pairs, got " + argv[i]);
      out.put(argv[i].substring(2), argv[i + 1]);
    }
    return out;
  }

  private static String required(Map<String, String> args, String name) {
    String v = args.get(name);
    if (v == null) throw new IllegalArgumentException("missing --" + name);
    return v;
  }
}
