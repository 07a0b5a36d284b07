package deepchain.bench;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * One user's state, the same parts as the product's UserState (services/sessionizer/state.ts) minus the
 * out-of-order buffer: history (last N clicked/purchased items), the open session with its pending
 * recommendation list, recently closed session ids and recent event ids (de-duplication). Stored as bytes
 * (DataOutputStream), not Avro: the store's format is the anchor's own.
 */
final class UserState {
  static final int HISTORY = 50;          // DEFAULT_SETTINGS.historyLength
  static final int DEDUPE_WINDOW = 64;    // DEFAULT_SETTINGS.dedupeWindow
  static final int CLOSED_KEPT = 8;       // DEFAULT_SETTINGS.closedSessionsKept

  final List<String> history = new ArrayList<>();
  final List<String> closedSessions = new ArrayList<>();
  final List<String> recentIds = new ArrayList<>();
  long maxEventTime = Long.MIN_VALUE;
  // The open session (sessionId == null: none)
  String sessionId;
  int step;
  long lastActivity;
  // Its pending recommendation list (requestId == null: none)
  String requestId;
  String scenario;
  final List<String> items = new ArrayList<>();
  final List<Double> propensities = new ArrayList<>();
  long modelVersion;
  long shownAt;
  int next;

  static <T> void appendBounded(List<T> list, T item, int n) {
    list.add(item);
    while (list.size() > n) list.remove(0);
  }

  byte[] encode() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(1024);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      writeList(out, history);
      writeList(out, closedSessions);
      writeList(out, recentIds);
      out.writeLong(maxEventTime);
      out.writeBoolean(sessionId != null);
      if (sessionId != null) {
        out.writeUTF(sessionId);
        out.writeInt(step);
        out.writeLong(lastActivity);
        out.writeBoolean(requestId != null);
        if (requestId != null) {
          out.writeUTF(requestId);
          out.writeUTF(scenario);
          writeList(out, items);
          out.writeInt(propensities.size());
          for (double d : propensities) out.writeDouble(d);
          out.writeLong(modelVersion);
          out.writeLong(shownAt);
          out.writeInt(next);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  static UserState decode(byte[] b) {
    UserState s = new UserState();
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(b))) {
      readList(in, s.history);
      readList(in, s.closedSessions);
      readList(in, s.recentIds);
      s.maxEventTime = in.readLong();
      if (in.readBoolean()) {
        s.sessionId = in.readUTF();
        s.step = in.readInt();
        s.lastActivity = in.readLong();
        if (in.readBoolean()) {
          s.requestId = in.readUTF();
          s.scenario = in.readUTF();
          readList(in, s.items);
          int n = in.readInt();
          for (int i = 0; i < n; i++) s.propensities.add(in.readDouble());
          s.modelVersion = in.readLong();
          s.shownAt = in.readLong();
          s.next = in.readInt();
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return s;
  }

  private static void writeList(DataOutputStream out, List<String> list) throws IOException {
    out.writeInt(list.size());
    for (String s : list) out.writeUTF(s);
  }

  private static void readList(DataInputStream in, List<String> into) throws IOException {
    int n = in.readInt();
    for (int i = 0; i < n; i++) into.add(in.readUTF());
  }
}
