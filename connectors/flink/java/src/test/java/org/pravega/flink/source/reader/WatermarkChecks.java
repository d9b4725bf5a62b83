package org.pravega.flink.source.reader;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.connector.source.SourceOutput;
import org.pravega.flink.client.Segment;
import org.pravega.flink.client.TxnId;
import org.pravega.flink.sink.internal.PravegaCommittable;
import org.pravega.flink.sink.internal.PravegaCommittableSerializer;
import org.pravega.flink.source.TimestampExtractors;
import org.pravega.flink.source.split.PravegaSplit;
import org.pravega.flink.source.split.PravegaSplitSerializer;
import org.pravega.flink.source.split.PravegaSplitState;
import org.pravega.flink.source.watermark.MarkFeed;
import org.pravega.flink.source.watermark.MarkRecord;
import org.pravega.flink.source.watermark.SplitWatermarks;

/**
 * Checks of the Pravega-watermark logic of the source (per-split rules, the emitter's watermarks
 * and idleness) and of the serializers that carry watermarks. Run by {@code SelfTest watermarks}.
 */
public final class WatermarkChecks {
    private static int checks;

    private WatermarkChecks() {}

    static void check(boolean ok, String what) {
        checks++;
        if (!ok) {
            throw new AssertionError("check failed: " + what);
        }
    }

    static void checkEquals(Object expected, Object actual, String what) {
        check(expected == null ? actual == null : expected.equals(actual),
                what + ": expected <" + expected + "> got <" + actual + ">");
    }

    static long seg(int epoch, int number) {
        return ((long) epoch << 32) | number;
    }

    static MarkRecord mark(long lower, long upper, Object... cut) {
        Map<Long, Long> m = new HashMap<>();
        for (int i = 0; i < cut.length; i += 2) {
            m.put(((Number) cut[i]).longValue(), ((Number) cut[i + 1]).longValue());
        }
        return new MarkRecord(lower, upper, m);
    }

    /** Runs every check; returns how many passed. */
    public static int run() throws Exception {
        records();
        passingRules();
        trackerAgainstBruteForce();
        restoredAndNewest();
        emitter();
        serializers();
        extractors();
        return checks;
    }

    private static void records() {
        MarkRecord r = MarkRecord.parse(("{\"v\":1,\"lower\":1000,\"upper\":1500,\"cut\":{\"0\":120,\""
                + seg(1, 3) + "\":64}}").getBytes(StandardCharsets.UTF_8));
        check(r.lower == 1000 && r.upper == 1500, "record bounds " + r);
        checkEquals(Map.of(0L, 120L, seg(1, 3), 64L), r.cut, "record cut");
        for (String bad : new String[] {"{\"v\":2,\"lower\":1,\"upper\":1,\"cut\":{}}", "[1]",
                "{\"v\":1,\"lower\":\"x\",\"upper\":1,\"cut\":{}}", "not json"}) {
            try {
                MarkRecord.parse(bad.getBytes(StandardCharsets.UTF_8));
                check(false, "a bad record must be refused: " + bad);
            } catch (IllegalArgumentException e) {
                check(true, "refused " + bad);
            }
        }
    }

    private static void passingRules() {
        MarkRecord r = mark(10, 20, seg(1, 2), 100, seg(1, 3), 0);
        check(!r.passedBy(seg(1, 2), 99), "before the cut: not passed");
        check(r.passedBy(seg(1, 2), 100), "at the cut: passed");
        check(r.passedBy(seg(1, 3), 0), "cut offset 0 (writer never wrote there): passed at once");
        check(r.passedBy(seg(2, 4), 0), "a segment newer than the cut's (higher number): passed");
        check(!r.passedBy(seg(0, 0), 1_000_000), "an older segment not in the cut (sealed predecessor): not passed");
        check(!r.passedBy(seg(0, 1), Long.MAX_VALUE - 1), "older segments pass only by finishing");

        // Only once every other segment of the cut was handed out to some reader.
        MarkRecord s = mark(10, 20, seg(1, 2), 100, seg(2, 5), 70, seg(2, 6), 0);
        java.util.Set<Long> all = java.util.Set.of(seg(1, 2), seg(2, 5), seg(2, 6));
        check(s.offsetNeeded(seg(1, 2), java.util.Set.of(seg(1, 2))) == Long.MAX_VALUE,
                "successors not handed out yet: not passed");
        check(s.offsetNeeded(seg(1, 2), java.util.Set.of(seg(1, 2), seg(2, 5))) == Long.MAX_VALUE,
                "one successor (even without data before the cut) not handed out: not passed");
        check(s.offsetNeeded(seg(1, 2), all) == 100, "all handed out: the own cut offset counts");
        check(s.offsetNeeded(seg(2, 5), java.util.Set.of()) == Long.MAX_VALUE,
                "seg 1.2 not handed out: not passed by seg 2.5 either");
        SplitWatermarks t = new SplitWatermarks(seg(1, 2), Long.MIN_VALUE);
        List<MarkRecord> rs = List.of(s);
        java.util.Set<Long> some = java.util.Set.of(seg(1, 2));
        check(!t.update(rs, 150, some), "waits for the successors to be handed out");
        check(!t.update(rs, 150, some), "still waiting (same set)");
        check(t.update(rs, 150, all) && t.current() == 10, "passes once the set grows, without the offset moving");

        // A reader without splits: the newest record whose cut segments were all handed out.
        MarkFeed feed = new MarkFeed();
        check(feed.unheldWatermark("sc/st") == Long.MIN_VALUE, "no records: none");
        feed.append("sc/st", List.of(mark(5, 5, seg(0, 0), 10, seg(0, 1), 10), mark(9, 9, seg(0, 1), 30,
                seg(1, 2), 0, seg(1, 3), 0)), 0);
        check(feed.unheldWatermark("sc/st") == Long.MIN_VALUE, "nothing handed out: none");
        feed.addStarted("sc/st", java.util.Set.of(seg(0, 0), seg(0, 1)));
        check(feed.unheldWatermark("sc/st") == 5, "successors 1.2/1.3 not handed out: the older record");
        feed.addStarted("sc/st", java.util.Set.of(seg(1, 2), seg(1, 3)));
        check(feed.unheldWatermark("sc/st") == 9, "all handed out: the newest record");
    }

    /** The tracker's shortcut agrees with recomputing "newest passed record" from scratch, stays monotonic. */
    private static void trackerAgainstBruteForce() {
        Random rnd = new Random(42);
        for (int round = 0; round < 200; round++) {
            long segment = seg(1, 1 + rnd.nextInt(3));
            List<MarkRecord> all = new ArrayList<>();
            List<MarkRecord> visible = new ArrayList<>();
            SplitWatermarks w = new SplitWatermarks(segment, Long.MIN_VALUE);
            long offset = 0;
            long expected = Long.MIN_VALUE;
            long lower = 0;
            for (int step = 0; step < 60; step++) {
                if (rnd.nextInt(3) == 0) {
                    lower += rnd.nextInt(5) - 1; // mostly rising, sometimes falling back
                    Object[] cut = rnd.nextInt(6) == 0 ? new Object[] {seg(1, 1), rnd.nextInt(500)}
                            : new Object[] {seg(1, 1), rnd.nextInt(500), seg(1, 2), rnd.nextInt(500),
                                    seg(1, 3), rnd.nextInt(500)};
                    MarkRecord m = mark(lower, lower + 5, cut);
                    all.add(m);
                    visible = Collections.unmodifiableList(new ArrayList<>(all));
                }
                offset += rnd.nextInt(40);
                long before = w.current();
                boolean advanced = w.update(visible, offset, null);
                for (int i = visible.size() - 1; i >= 0; i--) {
                    if (visible.get(i).passedBy(segment, offset)) {
                        expected = Math.max(expected, visible.get(i).lower);
                        break;
                    }
                }
                check(w.current() == expected, "round " + round + " step " + step + ": tracker " + w.current()
                        + " brute force " + expected);
                check(advanced == (w.current() > before), "advanced flag");
            }
        }
    }

    private static void restoredAndNewest() {
        List<MarkRecord> rs = List.of(mark(5, 6, seg(0, 0), 10), mark(7, 8, seg(0, 0), 50));
        SplitWatermarks restored = new SplitWatermarks(seg(0, 0), 6);
        check(restored.update(rs, 10, null), "a restored watermark is reported on the first update");
        check(restored.current() == 6, "restored watermark kept (the record passed is older): " + restored.current());
        check(!restored.update(rs, 20, null), "nothing new");
        check(!restored.passedNewest(rs), "the newest record is not passed at 20");
        check(restored.update(rs, 50, null) && restored.current() == 7, "advances at the newest cut");
        check(restored.passedNewest(rs), "passed the newest");
        check(new SplitWatermarks(seg(0, 0), Long.MIN_VALUE).passedNewest(Collections.emptyList()),
                "no records: nothing to wait for");
    }

    /** A SourceOutput that records what the emitter did. */
    static final class RecordingOutput implements SourceOutput<String> {
        final List<String> log = new ArrayList<>();

        @Override
        public void collect(String record) {
            log.add("record " + record);
        }

        @Override
        public void collect(String record, long timestamp) {
            log.add("record " + record + "@" + timestamp);
        }

        @Override
        public void emitWatermark(Watermark watermark) {
            log.add("watermark " + watermark.getTimestamp());
        }

        @Override
        public void markIdle() {
            log.add("idle");
        }

        @Override
        public void markActive() {
            log.add("active");
        }
    }

    private static byte[] framed(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static void emitter() throws Exception {
        MarkFeed feed = new MarkFeed();
        PravegaRecordEmitter<String> e = new PravegaRecordEmitter<>(new SimpleStringSchema(),
                TimestampExtractors.delimitedField("|", 1), feed);
        Segment s = new Segment("sc", "st", seg(0, 0));
        PravegaSplitState state = new PravegaSplitState(PravegaSplit.of(s, 0, PravegaSplit.NO_END));
        RecordingOutput out = new RecordingOutput();
        // No watermark records yet: events flow, a tail heartbeat marks the split idle.
        e.emitRecord(new SegmentRecord(framed("a|100"), 20), out, state);
        e.emitRecord(SegmentRecord.heartbeat(20), out, state);
        e.emitRecord(SegmentRecord.heartbeat(20), out, state);
        checkEquals(List.of("record a|100@100", "idle"), out.log, "no marks: idle at the tail, once");
        out.log.clear();
        // A watermark whose cut is ahead: an event re-activates the split, the mark is reached later.
        feed.append("sc/st", List.of(mark(150, 160, seg(0, 0), 40)), 0);
        e.emitRecord(new SegmentRecord(framed("b|120"), 30), out, state);
        e.emitRecord(SegmentRecord.heartbeat(30), out, state);
        checkEquals(List.of("active", "record b|120@120"), out.log, "active again; not idle before the newest mark");
        out.log.clear();
        e.emitRecord(new SegmentRecord(framed("c|155"), 40), out, state);
        e.emitRecord(new SegmentRecord(framed("d|170"), 50), out, state);
        checkEquals(List.of("record c|155@155", "watermark 150", "record d|170@170"), out.log,
                "watermark once the cut is reached");
        check(state.toSplit().getWatermark() == 150, "the split's checkpoint carries its watermark");
        out.log.clear();
        // A newer mark at the current position: a heartbeat emits it (at the tail, no event needed).
        feed.append("sc/st", List.of(mark(180, 190, seg(0, 0), 50)), 0);
        e.emitRecord(SegmentRecord.heartbeat(50), out, state);
        e.emitRecord(SegmentRecord.heartbeat(50), out, state);
        checkEquals(List.of("watermark 180", "idle"), out.log, "heartbeat: new mark, then idle");
        // Restored from that checkpoint: the watermark comes back before anything else.
        PravegaSplitState back = new PravegaSplitState(state.toSplit());
        RecordingOutput out2 = new RecordingOutput();
        e.emitRecord(SegmentRecord.heartbeat(50), out2, back);
        check(out2.log.get(0).equals("watermark 180"), "restored split re-emits its watermark: " + out2.log);
        // Without Pravega watermarks: no timestamps extractor, no watermarks, no idleness.
        PravegaRecordEmitter<String> plain = new PravegaRecordEmitter<>(new SimpleStringSchema(), null, null);
        RecordingOutput out3 = new RecordingOutput();
        plain.emitRecord(new SegmentRecord(framed("x|1"), 5), out3, new PravegaSplitState(PravegaSplit.of(s, 0,
                PravegaSplit.NO_END)));
        checkEquals(List.of("record x|1"), out3.log, "plain emitter");
    }

    private static void serializers() throws Exception {
        PravegaSplit split = new PravegaSplit(new Segment("sc", "st", seg(2, 5)), 100, 200, false, 12345);
        checkEquals(split, PravegaSplitSerializer.INSTANCE.deserialize(2,
                PravegaSplitSerializer.INSTANCE.serialize(split)), "split with watermark round trip");
        ByteArrayOutputStream v1 = new ByteArrayOutputStream();
        PravegaSplitSerializer.writeSplit(split, new DataOutputStream(v1));
        PravegaSplit old = PravegaSplitSerializer.INSTANCE.deserialize(1, v1.toByteArray());
        check(old.getWatermark() == Long.MIN_VALUE && old.getStartOffset() == 100, "a version-1 split reads back");
        PravegaCommittable c = new PravegaCommittable("sc", "st", new TxnId(1, 2), "w", 3, 777);
        PravegaCommittableSerializer cs = new PravegaCommittableSerializer();
        checkEquals(c, cs.deserialize(2, cs.serialize(c)), "committable with watermark round trip");
        ByteArrayOutputStream c1 = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(c1);
        d.writeUTF("sc");
        d.writeUTF("st");
        d.writeLong(1);
        d.writeLong(2);
        d.writeUTF("w");
        d.writeLong(3);
        PravegaCommittable oldC = cs.deserialize(1, c1.toByteArray());
        check(oldC.getWatermark() == Long.MIN_VALUE && oldC.getEventCount() == 3, "a version-1 committable reads back");
    }

    private static void extractors() {
        checkEquals(1700000000123L, TimestampExtractors.jsonField("ts").extractTimestamp(
                "{\"k\":\"a\",\"ts\":1700000000123}".getBytes(StandardCharsets.UTF_8)), "json timestamp");
        checkEquals(Long.MIN_VALUE, TimestampExtractors.jsonField("ts").extractTimestamp(
                "{\"k\":\"a\"}".getBytes(StandardCharsets.UTF_8)), "json without the field");
        checkEquals(42L, TimestampExtractors.delimitedField(":", 2).extractTimestamp(
                "k1:7:42".getBytes(StandardCharsets.UTF_8)), "delimited timestamp");
        checkEquals(Long.MIN_VALUE, TimestampExtractors.delimitedField(":", 5).extractTimestamp(
                "k1:7:42".getBytes(StandardCharsets.UTF_8)), "delimited, no such field");
        try {
            TimestampExtractors.delimitedField("", 0);
            check(false, "an empty delimiter must be refused");
        } catch (IllegalArgumentException e) {
            check(true, "empty delimiter refused");
        }
    }
}
