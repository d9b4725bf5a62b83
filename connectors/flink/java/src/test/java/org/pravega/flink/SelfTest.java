package org.pravega.flink;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.BiConsumer;

import org.apache.flink.api.connector.source.ReaderInfo;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.apache.flink.metrics.groups.SplitEnumeratorMetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.pravega.flink.client.ControllerClient;
import org.pravega.flink.client.EventStreamWriter;
import org.pravega.flink.client.Proto;
import org.pravega.flink.client.Reply;
import org.pravega.flink.client.RoutingHash;
import org.pravega.flink.client.Segment;
import org.pravega.flink.client.StreamCut;
import org.pravega.flink.client.TxnId;
import org.pravega.flink.client.WireCommands;
import org.pravega.flink.client.WriterConfig;
import org.pravega.flink.sink.RoutingKeyExtractors;
import org.pravega.flink.sink.internal.PravegaCommittable;
import org.pravega.flink.sink.internal.PravegaCommittableSerializer;
import org.pravega.flink.sink.internal.PravegaWriterState;
import org.pravega.flink.sink.internal.PravegaWriterStateSerializer;
import org.pravega.flink.source.StreamSpec;
import org.pravega.flink.source.enumerator.PravegaEnumeratorState;
import org.pravega.flink.source.enumerator.PravegaEnumeratorStateSerializer;
import org.pravega.flink.source.enumerator.PravegaSplitEnumerator;
import org.pravega.flink.source.event.FinishConfirmedEvent;
import org.pravega.flink.source.event.SegmentsFinishedEvent;
import org.pravega.flink.source.split.PravegaSplit;
import org.pravega.flink.source.split.PravegaSplitSerializer;
import org.pravega.flink.util.Json;

/**
 * Checks of the connector's Java parts that need no Flink cluster, run by
 * {@code tests/e2e/flink/test_flink_java_units.py} (there is no Maven/JUnit in this build).
 *
 * <ul>
 *   <li>{@code unit}: codecs, serializers, JSON, routing-key extractors, the hash test vector;</li>
 *   <li>{@code hash KEY...}: prints each key's routing position (compared with the Python client);</li>
 *   <li>{@code cut TEXT}: parses a Python stream cut and prints it back as text;</li>
 *   <li>{@code enumerator URI SCOPE}: drives the split enumerator against a server over streams
 *       {@code split} (one segment split in two) and {@code merge} (two segments merged);</li>
 *   <li>{@code watermarks}: Pravega watermarks in the source (per-split rules, emitter) and the
 *       serializers carrying them ({@code source/reader/WatermarkChecks});</li>
 *   <li>{@code writer URI SCOPE STREAM}: an event writer driven by stdin ({@code write N},
 *       {@code flush}, {@code exit}), to scale the stream under it.</li>
 * </ul>
 */
public final class SelfTest {
    private static int checks;

    private SelfTest() {}

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "unit":
                unit();
                break;
            case "hash":
                for (int i = 1; i < args.length; i++) {
                    System.out.println(args[i] + "\t" + Double.toString(RoutingHash.position(args[i])));
                }
                return;
            case "cut":
                System.out.println(StreamCut.fromText(args[1]).toText());
                return;
            case "enumerator":
                enumerator(args[1], args[2]);
                break;
            case "writer":
                writer(args[1], args[2], args[3]);
                return;
            case "watermarks":
                checks += org.pravega.flink.source.reader.WatermarkChecks.run();
                break;
            default:
                throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        System.out.println("OK " + checks + " checks");
    }

    private static void check(boolean ok, String what) {
        checks++;
        if (!ok) {
            throw new AssertionError("check failed: " + what);
        }
    }

    private static void checkEquals(Object expected, Object actual, String what) {
        check(expected == null ? actual == null : expected.equals(actual),
                what + ": expected <" + expected + "> got <" + actual + ">");
    }

    private static byte[] hex(String s) {
        s = s.replace(" ", "");
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }

    // -- unit -----------------------------------------------------------------------------------

    private static void unit() throws Exception {
        checkEquals(0.658716230571337, RoutingHash.position("hello"), "routing hash test vector");

        // Wire codec against the byte examples of the protocol spec (section 2.9).
        byte[] setup = WireCommands.setupAppend(1, 0x0123456789abcdefL, 0x0011223344556677L, "s/t/0.#epoch.0");
        check(Arrays.equals(hex("00000001 0000002a 00000000 00000001 01234567 89abcdef 00112233 44556677"
                + " 000e732f 742f302e 2365706f 63682e30 0000"), setup), "SetupAppend bytes");
        byte[] read = WireCommands.readSegment("s/t/0.#epoch.0", 0, 8 * 1024 * 1024, 3);
        check(Arrays.equals(hex("00000009 00000026 000e732f 742f302e 2365706f 63682e30 00000000 00000000"
                + " 00800000 00000000 00000000 0003"), read), "ReadSegment bytes");
        byte[] segmentRead = hex("000e732f 742f302e 2365706f 63682e30 00000000 00000000 01000000 000a0000"
                + " 00000000 00026869 00000000 00000003");
        Reply r = WireCommands.decode(WireCommands.SEGMENT_READ, segmentRead);
        check(r.atTail && !r.endOfSegment && r.requestId == 3 && r.dataLength == 10, "SegmentRead decode " + r);
        byte[] appended = hex("01234567 89abcdef 00112233 44556677 00000000 00000001 80000000 00000000"
                + " 00000000 00000002 00000000 0000000a");
        Reply a = WireCommands.decode(WireCommands.DATA_APPENDED, appended);
        check(a.eventNumber == 1 && a.requestId == 2 && a.writeOffset == 10 && a.writerIdLow == 0x0011223344556677L,
                "DataAppended decode");
        byte[] header = WireCommands.appendBlockEndHeader(0x0123456789abcdefL, 0x0011223344556677L, 10);
        byte[] trailer = WireCommands.appendBlockEndTrailer(1, 1, 2);
        byte[] data = hex("00000000 00000002 6869");
        byte[] frame = new byte[header.length + data.length + trailer.length];
        System.arraycopy(header, 0, frame, 0, header.length);
        System.arraycopy(data, 0, frame, header.length, data.length);
        System.arraycopy(trailer, 0, frame, header.length + data.length, trailer.length);
        check(Arrays.equals(hex("00000004 00000036 01234567 89abcdef 00112233 44556677 0000000a 0000000a"
                + " 00000000 00000002 68690000 00010000 00000000 00010000 00000000 0002"), frame),
                "AppendBlockEnd bytes");

        // Protobuf codec.
        byte[] msg = new Proto.Writer().string(1, "sc").int64(2, -5).doubleValue(3, 0.25)
                .message(4, new Proto.Writer().int64(1, 7)).packedInt64(5, new long[] {1, 300, -1})
                .mapEntry(6, 10, 20).toByteArray();
        Proto.Reader pr = new Proto.Reader(msg);
        List<Long> packed = new ArrayList<>();
        String s = null;
        long neg = 0;
        double d = 0;
        long nested = 0;
        long[] entry = null;
        while (pr.next()) {
            switch (pr.field()) {
                case 1: s = pr.string(); break;
                case 2: neg = pr.int64(); break;
                case 3: d = pr.doubleValue(); break;
                case 4: {
                    Proto.Reader n = pr.message();
                    while (n.next()) {
                        nested = n.int64();
                    }
                    break;
                }
                case 5: pr.repeatedInt64(packed); break;
                case 6: entry = pr.int64MapEntry(); break;
                default: pr.skip();
            }
        }
        check("sc".equals(s) && neg == -5 && d == 0.25 && nested == 7 && packed.equals(Arrays.asList(1L, 300L, -1L))
                && entry != null && entry[0] == 10 && entry[1] == 20, "protobuf round trip");

        // JSON and routing-key extractors.
        Map<?, ?> obj = (Map<?, ?>) Json.parse("{\"a\": [1, 2.5, \"x\\u0041\"], \"b\": {\"c\": null}, \"d\": true}");
        checkEquals(Arrays.asList(1L, 2.5, "xA"), obj.get("a"), "json array");
        checkEquals("u7", Json.topLevelField("{\"user\":\"u7\",\"n\":{\"user\":\"no\"}}", "user"), "json field");
        checkEquals("42", Json.topLevelField("{\"id\": 42}", "id"), "json number field");
        checkEquals(null, Json.topLevelField("not json", "id"), "json garbage");
        byte[] ev = "user-7:clicked".getBytes(StandardCharsets.UTF_8);
        checkEquals("user-7", RoutingKeyExtractors.delimitedPrefix(":").getRoutingKey(null, ev), "prefix key");
        checkEquals("k", RoutingKeyExtractors.fixed("k").getRoutingKey(null, ev), "fixed key");
        checkEquals("b", RoutingKeyExtractors.field(1).getRoutingKey(org.apache.flink.types.Row.of("a", "b"), ev),
                "row field key");

        // Stream cuts and serializers.
        StreamCut cut = new StreamCut("sc", "st", Map.of(0L, 10L, (1L << 32) | 3L, 20L));
        checkEquals(cut, StreamCut.fromText(cut.toText()), "stream cut text round trip");
        PravegaSplit split = new PravegaSplit(new Segment("sc", "st", (2L << 32) | 5), 100, 200, true);
        checkEquals(split, PravegaSplitSerializer.INSTANCE.deserialize(2, PravegaSplitSerializer.INSTANCE.serialize(split)),
                "split serializer");
        PravegaEnumeratorState state = new PravegaEnumeratorState();
        state.checkpointId = 7;
        state.initialized = true;
        state.endCuts.put("sc/st", new LinkedHashMap<>(Map.of(0L, 5L)));
        state.pending.put(split.splitId(), new PravegaEnumeratorState.Pending(PravegaSplit.of(split.getSegment(), 0, 9), 1));
        state.assigned.put("sc/st/1", 0);
        state.finished.put("sc/st/0", new PravegaEnumeratorState.Finished("sc/st/0", 1, 6, true));
        state.predecessors.put(split.splitId(), new ArrayList<>(Arrays.asList(0L, 1L)));
        PravegaEnumeratorStateSerializer ser = new PravegaEnumeratorStateSerializer();
        PravegaEnumeratorState back = ser.deserialize(1, ser.serialize(state));
        check(back.checkpointId == 7 && back.initialized && back.pending.get(split.splitId()).preferredReader == 1
                && back.assigned.equals(state.assigned) && back.finished.get("sc/st/0").epoch == 6
                && back.predecessors.equals(state.predecessors) && back.endCuts.equals(state.endCuts),
                "enumerator state serializer");
        PravegaCommittable c = new PravegaCommittable("sc", "st", new TxnId(1L << 32, 9), "w", 12);
        PravegaCommittableSerializer cs = new PravegaCommittableSerializer();
        checkEquals(c, cs.deserialize(2, cs.serialize(c)), "committable serializer");
        PravegaWriterStateSerializer ws = new PravegaWriterStateSerializer();
        PravegaWriterState w = ws.deserialize(1, ws.serialize(new PravegaWriterState("sc", "st",
                Collections.singletonList(new TxnId(3, 4)))));
        checkEquals(Collections.singletonList(new TxnId(3, 4)), w.getOpenTransactions(), "writer state serializer");
        for (Callable<?> unknownVersion : Arrays.<Callable<?>>asList(
                () -> PravegaSplitSerializer.INSTANCE.deserialize(3, new byte[0]),
                () -> ser.deserialize(99, new byte[0]),
                () -> cs.deserialize(0, new byte[0]),
                () -> ws.deserialize(2, new byte[0]))) {
            try {
                unknownVersion.call();
                check(false, "an unknown serializer version must be refused");
            } catch (java.io.IOException e) {
                check(e.getMessage().contains("version"), "unknown version message: " + e.getMessage());
            }
        }
        checkEquals("0000000100000002000000000000000a", new TxnId(0x100000002L, 10).toHex(), "txn hex");
        checkEquals("sc/st/5.#epoch.2", split.getSegment().getQualifiedName(), "segment name");
        checkEquals(split.getSegment(), Segment.fromKey(split.getSegment().key()), "segment key");
    }

    // -- enumerator -----------------------------------------------------------------------------

    /** A coordinator context that runs asynchronous calls inline and records what it is told. */
    static final class FakeContext implements SplitEnumeratorContext<PravegaSplit> {
        final Map<Integer, ReaderInfo> readers = new HashMap<>();
        final List<String> log = new ArrayList<>();
        final Map<Integer, List<String>> assigned = new HashMap<>();
        final int parallelism;

        FakeContext(int parallelism) {
            this.parallelism = parallelism;
        }

        void register(int reader) {
            readers.put(reader, new ReaderInfo(reader, "localhost"));
        }

        @Override
        public SplitEnumeratorMetricGroup metricGroup() {
            return UnregisteredMetricsGroup.createSplitEnumeratorMetricGroup();
        }

        @Override
        public void sendEventToSourceReader(int subtaskId, SourceEvent event) {
            log.add("event " + subtaskId + " " + event);
        }

        @Override
        public int currentParallelism() {
            return parallelism;
        }

        @Override
        public Map<Integer, ReaderInfo> registeredReaders() {
            return readers;
        }

        @Override
        public void assignSplits(SplitsAssignment<PravegaSplit> assignment) {
            for (Map.Entry<Integer, List<PravegaSplit>> e : assignment.assignment().entrySet()) {
                for (PravegaSplit s : e.getValue()) {
                    assigned.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(s.splitId());
                    log.add("assign " + e.getKey() + " " + s.splitId());
                }
            }
        }

        @Override
        public void signalNoMoreSplits(int subtask) {
            log.add("noMoreSplits " + subtask);
        }

        @Override
        public <T> void callAsync(Callable<T> callable, BiConsumer<T, Throwable> handler) {
            T result;
            try {
                result = callable.call();
            } catch (Throwable t) {
                handler.accept(null, t);
                return;
            }
            handler.accept(result, null);
        }

        @Override
        public <T> void callAsync(Callable<T> callable, BiConsumer<T, Throwable> handler, long initialDelay,
                                  long period) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void runInCoordinatorThread(Runnable runnable) {
            runnable.run();
        }

        List<String> take() {
            List<String> out = new ArrayList<>(log);
            log.clear();
            return out;
        }
    }

    private static org.pravega.flink.source.PravegaSourceConfig config(String uri, String scope, String stream)
            throws Exception {
        // The config's constructor is package-private: build it the way the builder does.
        java.lang.reflect.Constructor<org.pravega.flink.source.PravegaSourceConfig> ctor =
                org.pravega.flink.source.PravegaSourceConfig.class.getDeclaredConstructor(String.class, List.class,
                        boolean.class, boolean.class, int.class, int.class, long.class, long.class);
        ctor.setAccessible(true);
        return ctor.newInstance(uri, Collections.singletonList(new StreamSpec(scope, stream, null, null)), false, false,
                1 << 20, 10_000, 10_000L, 0L);
    }

    private static String key(String scope, String stream, long epoch, int number) {
        return new Segment(scope, stream, (epoch << 32) | number).key();
    }

    private static void enumerator(String uri, String scope) throws Exception {
        // "split": segment 0 split into 1 and 2 (epoch 1). Successors follow their predecessor's
        // reader at once; after a failover they wait until the predecessor is finished again.
        FakeContext ctx = new FakeContext(2);
        ctx.register(0);
        ctx.register(1);
        PravegaSplitEnumerator e = new PravegaSplitEnumerator(ctx, config(uri, scope, "split"), null);
        e.start();
        String s0 = key(scope, "split", 0, 0);
        String s1 = key(scope, "split", 1, 1);
        String s2 = key(scope, "split", 1, 2);
        checkEquals(Collections.singletonList("assign 0 " + s0), ctx.take(), "split: initial assignment");
        e.snapshotState(1);
        e.notifyCheckpointComplete(1);
        ctx.take();
        e.handleSourceEvent(0, new SegmentsFinishedEvent(Collections.singletonList(s0)));
        checkEquals(Arrays.asList("assign 0 " + s1, "assign 0 " + s2), ctx.take(),
                "split: successors go to the reader that finished the predecessor");
        // Reader 0 fails before the next checkpoint: its finish of s0 is undone, s1/s2 come back and
        // wait until s0 is reported finished again.
        e.addSplitsBack(Arrays.asList(PravegaSplit.of(Segment.fromKey(s1), 0, PravegaSplit.NO_END),
                PravegaSplit.of(Segment.fromKey(s2), 0, PravegaSplit.NO_END)), 0);
        e.addReader(0);
        checkEquals(Collections.emptyList(), ctx.take(), "split: nothing handed out while s0 is unfinished again");
        e.handleSourceEvent(0, new SegmentsFinishedEvent(Collections.singletonList(s0)));
        checkEquals(Arrays.asList("assign 0 " + s1, "assign 0 " + s2), ctx.take(), "split: reassigned after re-finish");
        PravegaEnumeratorState snap = e.snapshotState(2);
        e.notifyCheckpointComplete(2);
        check(ctx.take().contains("event 0 FinishConfirmed[" + s0 + "]"), "split: finish confirmed to the reader");
        // A duplicate report after a restore is confirmed at once, not processed again.
        PravegaSplitEnumerator restored = new PravegaSplitEnumerator(ctx, config(uri, scope, "split"),
                new PravegaEnumeratorStateSerializer().deserialize(1, new PravegaEnumeratorStateSerializer().serialize(snap)));
        restored.start();
        restored.handleSourceEvent(0, new SegmentsFinishedEvent(Collections.singletonList(s0)));
        checkEquals(Collections.singletonList("event 0 " + new FinishConfirmedEvent(Collections.singletonList(s0))),
                ctx.take(), "split: duplicate finish after restore");
        e.close();
        restored.close();

        // "merge": segments 0 and 1 merged into 2 (epoch 1). The successor waits for both; as they
        // were finished by different readers, also for a completed checkpoint recording both.
        ctx = new FakeContext(2);
        ctx.register(0);
        ctx.register(1);
        e = new PravegaSplitEnumerator(ctx, config(uri, scope, "merge"), null);
        e.start();
        String m0 = key(scope, "merge", 0, 0);
        String m1 = key(scope, "merge", 0, 1);
        String m2 = key(scope, "merge", 1, 2);
        checkEquals(Arrays.asList("assign 0 " + m0, "assign 1 " + m1), ctx.take(), "merge: initial assignment");
        e.snapshotState(1);
        e.handleSourceEvent(0, new SegmentsFinishedEvent(Collections.singletonList(m0)));
        checkEquals(Collections.emptyList(), ctx.take(), "merge: waits for the other predecessor");
        e.handleSourceEvent(1, new SegmentsFinishedEvent(Collections.singletonList(m1)));
        checkEquals(Collections.emptyList(), ctx.take(), "merge: waits for a checkpoint recording both finishes");
        e.snapshotState(2);
        checkEquals(Collections.emptyList(), ctx.take(), "merge: not before that checkpoint completes");
        e.notifyCheckpointComplete(2);
        List<String> after = ctx.take();
        check(after.contains("assign 0 " + m2) || after.contains("assign 1 " + m2), "merge: assigned " + after);
        e.close();
    }

    // -- writer ---------------------------------------------------------------------------------

    private static void writer(String uri, String scope, String stream) throws Exception {
        ControllerClient controller = new ControllerClient(uri);
        WriterConfig cfg = new WriterConfig();
        int[] next = new int[8];
        try (EventStreamWriter w = new EventStreamWriter(controller, scope, stream, cfg)) {
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                String[] cmd = line.trim().split(" ");
                if (cmd[0].equals("write")) {
                    int n = Integer.parseInt(cmd[1]);
                    for (int i = 0; i < n; i++) {
                        int k = i % next.length;
                        w.write("k" + k, ("k" + k + ":" + next[k]++).getBytes(StandardCharsets.UTF_8));
                    }
                    System.out.println("written " + n);
                } else if (cmd[0].equals("flush")) {
                    w.flush();
                    System.out.println("flushed");
                } else if (cmd[0].equals("exit")) {
                    break;
                }
                System.out.flush();
            }
        } finally {
            controller.close();
        }
    }
}
