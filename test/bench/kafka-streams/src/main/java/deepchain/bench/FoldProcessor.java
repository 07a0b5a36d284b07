package deepchain.bench;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/** Per event: decode, load the user's state from the store, fold, write the state back, forward transitions. */
final class FoldProcessor implements Processor<String, byte[], String, byte[]> {
  static final AtomicLong PROCESSED = new AtomicLong();
  static final AtomicLong EMITTED = new AtomicLong();
  static final AtomicLong DROPPED = new AtomicLong();

  private final Codec codec;
  private ProcessorContext<String, byte[]> context;
  private KeyValueStore<String, byte[]> store;

  FoldProcessor(Codec codec) {
    this.codec = codec;
  }

  @Override
  public void init(ProcessorContext<String, byte[]> context) {
    this.context = context;
    this.store = context.getStateStore(SessionizerAnchor.STORE);
  }

  @Override
  public void process(Record<String, byte[]> record) {
    PROCESSED.incrementAndGet();
    GenericRecord event = codec.decodeEvent(record.value());
    String userId = event.get("userId").toString();
    byte[] stored = store.get(userId);
    UserState state = stored == null ? new UserState() : UserState.decode(stored);
    List<GenericRecord> transitions = new UserFold(state, userId, codec).apply(event);
    if (transitions == null) {
      DROPPED.incrementAndGet(); // duplicate, closed session or unjoinable feedback: the product dead-letters most of these
      return;
    }
    store.put(userId, state.encode());
    for (GenericRecord t : transitions) {
      context.forward(new Record<>(userId, codec.encodeTransition(t), record.timestamp()));
    }
    EMITTED.addAndGet(transitions.size());
  }
}
