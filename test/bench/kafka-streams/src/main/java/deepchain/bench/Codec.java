package deepchain.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;

/**
 * The topics' wire format: Confluent framing (magic byte 0, 4-byte schema id) + Avro binary, with the repo's
 * schemas/event.avsc and schemas/transition.avsc (copied into the jar). The events' schema id is not checked
 * (one writer schema per topic here); transitions carry the id given on the command line (the anchor
 * registers nothing). Not thread-safe: each processor (one per task, run by one stream thread) has its own.
 */
final class Codec {
  final Schema eventSchema = load("schemas/event.avsc");
  final Schema transitionSchema = load("schemas/transition.avsc");
  final Schema scenarioSchema = transitionSchema.getField("scenario").schema();
  final Schema behaviourSchema = transitionSchema.getField("behaviour").schema();
  private final GenericDatumReader<GenericRecord> reader = new GenericDatumReader<>(eventSchema);
  private final GenericDatumWriter<GenericRecord> writer = new GenericDatumWriter<>(transitionSchema);
  private BinaryDecoder decoder;
  private BinaryEncoder encoder;
  private final int transitionSchemaId;

  Codec(int transitionSchemaId) {
    this.transitionSchemaId = transitionSchemaId;
  }

  GenericRecord decodeEvent(byte[] framed) {
    if (framed == null || framed.length < 5 || framed[0] != 0) throw new IllegalArgumentException("not a Confluent-framed record");
    decoder = DecoderFactory.get().binaryDecoder(framed, 5, framed.length - 5, decoder);
    try {
      return reader.read(null, decoder);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  byte[] encodeTransition(GenericRecord t) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    out.write(0);
    out.writeBytes(ByteBuffer.allocate(4).putInt(transitionSchemaId).array());
    encoder = EncoderFactory.get().binaryEncoder(out, encoder);
    try {
      writer.write(t, encoder);
      encoder.flush();
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
    return out.toByteArray();
  }

  private static Schema load(String resource) {
    try (InputStream in = Codec.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) throw new IllegalStateException("missing resource " + resource);
      return new Schema.Parser().parse(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
