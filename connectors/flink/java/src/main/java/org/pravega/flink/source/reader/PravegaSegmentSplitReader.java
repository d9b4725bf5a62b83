package org.pravega.flink.source.reader;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.flink.annotation.Internal;
import org.apache.flink.connector.base.source.reader.RecordsBySplits;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsChange;
import org.pravega.flink.client.ControllerClient;
import org.pravega.flink.client.Reply;
import org.pravega.flink.client.SegmentMetadataClient;
import org.pravega.flink.client.SegmentReadClient;
import org.pravega.flink.client.WireCommands;
import org.pravega.flink.source.PravegaSourceConfig;
import org.pravega.flink.source.split.PravegaSplit;
import org.pravega.flink.source.watermark.MarkFeed;
import org.pravega.flink.source.watermark.MarkFollower;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the assigned segments in the fetcher thread. Each segment has its own connection and one
 * {@code ReadSegment} in flight (at the tail the segment store holds it until data arrives — a
 * long poll); the next read is issued as soon as a reply arrives, before its data is parsed. Event
 * framing (8-byte header, type 0 + length) is undone here; an event split across replies is kept
 * until its rest arrives. A segment is finished at its end (sealed and read out) or at its end
 * offset.
 *
 * <p>With Pravega watermarks it also polls the streams' watermark segments ({@link MarkFollower})
 * and, for each split whose read has been parked at the tail for the poll interval, adds a tail
 * heartbeat record now and then, so the task thread re-checks the split's watermark and idleness.
 */
@Internal
final class PravegaSegmentSplitReader implements SplitReader<SegmentRecord, PravegaSplit> {
    private static final Logger LOG = LoggerFactory.getLogger(PravegaSegmentSplitReader.class);
    private static final Object WAKEUP = new Object();
    private static final int MAX_REPLIES_PER_FETCH = 16;

    private final PravegaSourceConfig config;
    private final ControllerClient controller;
    private final SegmentTails tails;
    private final Map<String, Cursor> cursors = new HashMap<>();
    private final LinkedBlockingQueue<Object> ready = new LinkedBlockingQueue<>();
    private SegmentMetadataClient meta;
    private long nextTailRefresh;
    /** Null without Pravega watermarks. */
    private final MarkFollower marks;

    /** Per-split read state. */
    private final class Cursor {
        final PravegaSplit split;
        final String id;
        final SegmentReadClient client;
        /** Offset of the next byte to request. */
        long readPos;
        /** Bytes of an event whose end has not arrived yet; they end at {@code readPos}. */
        byte[] partial = new byte[0];
        volatile Reply reply;
        volatile Throwable error;
        /** Bumped per read; a completion of an older read (timed out) is ignored. */
        volatile int generation;
        /** When the outstanding read was sent (0: none outstanding). */
        long issuedAt;
        long retryAt;
        long failingSince;
        boolean closed;
        /** When the last tail heartbeat of this split was added. */
        long lastHeartbeat;

        Cursor(PravegaSplit split) {
            this.split = split;
            this.id = split.splitId();
            this.client = new SegmentReadClient(controller, split.getSegment(), config.getTimeoutMillis());
            this.readPos = split.getStartOffset();
        }
    }

    PravegaSegmentSplitReader(PravegaSourceConfig config, SegmentTails tails, MarkFeed feed) {
        this.config = config;
        this.tails = tails;
        this.controller = new ControllerClient(config.getControllerUri(), config.getTimeoutMillis(),
                config.getRetryBudgetMillis());
        this.marks = feed == null ? null
                : new MarkFollower(controller, feed, config.getTimeoutMillis(), config.getMarkPollMillis());
    }

    @Override
    public void handleSplitsChanges(SplitsChange<PravegaSplit> change) {
        if (!(change instanceof SplitsAddition)) {
            throw new UnsupportedOperationException("unsupported split change " + change);
        }
        for (PravegaSplit split : change.splits()) {
            Cursor c = new Cursor(split);
            cursors.put(c.id, c);
            LOG.info("reading {}", split);
            issue(c);
        }
    }

    private void issue(Cursor c) {
        int length = config.getReadLength();
        if (c.split.hasEnd()) {
            long remaining = c.split.getEndOffset() - c.readPos;
            length = (int) Math.max(0, Math.min(length, remaining));
        }
        int generation = ++c.generation;
        if (length == 0) {
            c.reply = null;
            c.error = null;
            ready.offer(c); // at its end offset: finished on the next fetch
            return;
        }
        c.issuedAt = System.currentTimeMillis();
        c.client.read(c.readPos, length).whenComplete((r, e) -> {
            if (generation != c.generation) {
                return; // given up on (timed out)
            }
            c.reply = r;
            c.error = e;
            ready.offer(c);
        });
    }

    /**
     * A segment store parks a read at the tail for a while (up to a minute for Java Pravega);
     * a read outstanding much longer than that is given up and re-sent on a new connection.
     */
    private void expireStuckReads() throws IOException {
        long now = System.currentTimeMillis();
        long limit = Math.max(90_000L, 3L * config.getTimeoutMillis());
        for (Cursor c : new ArrayList<>(cursors.values())) {
            if (c.issuedAt > 0 && c.retryAt == 0 && now - c.issuedAt > limit) {
                c.generation++;
                c.issuedAt = 0;
                retryLater(c, "no reply to a read for " + limit + " ms", false);
            }
        }
    }

    @Override
    public RecordsWithSplitIds<SegmentRecord> fetch() throws IOException {
        RecordsBySplits.Builder<SegmentRecord> out = new RecordsBySplits.Builder<>();
        Object item;
        try {
            item = ready.poll(retryDelay(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return out.build();
        }
        int replies = 0;
        while (item != null) {
            if (item != WAKEUP) {
                process((Cursor) item, out);
                replies++;
            }
            if (replies >= MAX_REPLIES_PER_FETCH) {
                break;
            }
            item = ready.poll();
        }
        expireStuckReads();
        retryDue();
        refreshTails();
        if (marks != null) {
            followMarks(out);
        }
        return out.build();
    }

    /** Polls the watermark streams; heartbeats for splits parked at their tail (see the class comment). */
    private void followMarks(RecordsBySplits.Builder<SegmentRecord> out) {
        if (cursors.isEmpty()) {
            return;
        }
        List<org.pravega.flink.client.Segment> held = new ArrayList<>();
        for (Cursor c : cursors.values()) {
            held.add(c.split.getSegment());
        }
        marks.poll(held);
        long now = System.currentTimeMillis();
        long quiet = config.getMarkPollMillis();
        for (Cursor c : cursors.values()) {
            if (c.issuedAt > 0 && now - c.issuedAt >= quiet && now - c.lastHeartbeat >= quiet
                    && c.partial.length == 0 && !c.closed) {
                c.lastHeartbeat = now;
                out.add(c.id, SegmentRecord.heartbeat(c.readPos));
            }
        }
    }

    private long retryDelay() {
        long now = System.currentTimeMillis();
        long delay = 1_000;
        for (Cursor c : cursors.values()) {
            if (c.retryAt > 0) {
                delay = Math.min(delay, Math.max(1, c.retryAt - now));
            }
        }
        return delay;
    }

    private void retryDue() {
        long now = System.currentTimeMillis();
        for (Cursor c : new ArrayList<>(cursors.values())) {
            if (c.retryAt > 0 && c.retryAt <= now) {
                c.retryAt = 0;
                issue(c);
            }
        }
    }

    private void process(Cursor c, RecordsBySplits.Builder<SegmentRecord> out) throws IOException {
        if (c.closed) {
            return;
        }
        Reply r = c.reply;
        Throwable error = c.error;
        c.reply = null;
        c.error = null;
        c.issuedAt = 0;
        if (r == null && error == null) {
            finish(c, out); // reached the end offset
            return;
        }
        if (error != null) {
            retryLater(c, error.toString(), false);
            return;
        }
        switch (r.type) {
            case WireCommands.SEGMENT_READ:
                if (r.offset != c.readPos) {
                    throw new IOException("segment store answered a read of " + c.id + " at " + c.readPos
                            + " with data at " + r.offset);
                }
                c.failingSince = 0;
                boolean endOfSegment = r.endOfSegment; // sealed and read to its end
                long before = c.readPos;
                c.readPos += r.dataLength;
                boolean atEndOffset = c.split.hasEnd() && c.readPos >= c.split.getEndOffset();
                if (!endOfSegment && !atEndOffset) {
                    issue(c); // read ahead while this reply is parsed
                }
                parse(c, r.data, r.dataOffset, r.dataLength, before, out);
                if (endOfSegment || atEndOffset) {
                    if (c.partial.length > 0) {
                        throw new IOException("segment " + c.id + " ends inside an event (" + c.partial.length
                                + " bytes of a partial event at offset " + (c.readPos - c.partial.length) + ")");
                    }
                    finish(c, out);
                }
                return;
            case WireCommands.SEGMENT_IS_SEALED:
                if (c.partial.length > 0) {
                    throw new IOException("sealed segment " + c.id + " ends inside an event");
                }
                finish(c, out);
                return;
            case WireCommands.NO_SUCH_SEGMENT:
                LOG.warn("segment {} no longer exists (deleted or truncated away); treating it as finished", c.id);
                finish(c, out);
                return;
            case WireCommands.SEGMENT_IS_TRUNCATED:
                LOG.warn("segment {} was truncated at {}: the data before it (from {}) is gone; skipping ahead",
                        c.id, r.startOffset, c.readPos - c.partial.length);
                c.readPos = r.startOffset;
                c.partial = new byte[0];
                issue(c);
                return;
            case WireCommands.WRONG_HOST:
                retryLater(c, "wrong host", true);
                return;
            default:
                throw new IOException("reading " + c.id + " failed: " + r);
        }
    }

    private void retryLater(Cursor c, String why, boolean relocate) throws IOException {
        long now = System.currentTimeMillis();
        if (c.failingSince == 0) {
            c.failingSince = now;
        } else if (now - c.failingSince > config.getRetryBudgetMillis()) {
            throw new IOException("cannot read segment " + c.id + " for " + config.getRetryBudgetMillis()
                    + " ms: " + why);
        }
        LOG.debug("read of {} failed ({}); retrying", c.id, why);
        c.client.reset(relocate);
        c.retryAt = now + Math.min(1_000, 50 + (now - c.failingSince) / 4);
    }

    /** Splits {@code partial + data} into events; {@code dataStart} is the segment offset of data[offset]. */
    private static void parse(Cursor c, byte[] data, int offset, int length, long dataStart,
                              RecordsBySplits.Builder<SegmentRecord> out) throws IOException {
        byte[] buf;
        int pos;
        int end;
        long base; // segment offset of buf[0]
        if (c.partial.length == 0) {
            buf = data;
            pos = offset;
            end = offset + length;
            base = dataStart - offset;
        } else {
            buf = new byte[c.partial.length + length];
            System.arraycopy(c.partial, 0, buf, 0, c.partial.length);
            System.arraycopy(data, offset, buf, c.partial.length, length);
            pos = 0;
            end = buf.length;
            base = dataStart - c.partial.length;
        }
        List<SegmentRecord> records = new ArrayList<>();
        while (end - pos >= WireCommands.EVENT_HEADER) {
            int type = WireCommands.getInt(buf, pos);
            int len = WireCommands.getInt(buf, pos + 4);
            if (type != WireCommands.EVENT_TYPE || len < 0) {
                throw new IOException("segment " + c.id + " holds no event at offset " + (base + pos)
                        + " (header type " + type + ", length " + len + "): not an event stream or a bad offset");
            }
            if (end - pos - WireCommands.EVENT_HEADER < len) {
                break;
            }
            int from = pos + WireCommands.EVENT_HEADER;
            byte[] payload = java.util.Arrays.copyOfRange(buf, from, from + len);
            pos = from + len;
            records.add(new SegmentRecord(payload, base + pos));
        }
        c.partial = pos == end ? new byte[0] : java.util.Arrays.copyOfRange(buf, pos, end);
        if (!records.isEmpty()) {
            out.addAll(c.id, records);
        }
    }

    private void finish(Cursor c, RecordsBySplits.Builder<SegmentRecord> out) {
        LOG.info("finished reading {} at offset {}", c.id, c.readPos);
        c.closed = true;
        c.client.close();
        cursors.remove(c.id);
        tails.remove(c.id);
        out.addFinishedSplit(c.id);
    }

    /** Metrics: ask the segment stores for the current length of each segment, now and then. */
    private void refreshTails() {
        long now = System.currentTimeMillis();
        if (config.getMetricsRefreshMillis() <= 0 || now < nextTailRefresh || cursors.isEmpty()) {
            return;
        }
        nextTailRefresh = now + config.getMetricsRefreshMillis();
        if (meta == null) {
            meta = new SegmentMetadataClient(controller, config.getTimeoutMillis());
        }
        for (Cursor c : new ArrayList<>(cursors.values())) {
            try {
                tails.put(c.id, meta.info(c.split.getSegment()).writeOffset);
            } catch (RuntimeException e) {
                LOG.debug("cannot refresh the length of {}: {}", c.id, e.toString());
            }
        }
    }

    @Override
    public void wakeUp() {
        ready.offer(WAKEUP);
    }

    @Override
    public void close() {
        for (Cursor c : cursors.values()) {
            c.closed = true;
            c.client.close();
        }
        cursors.clear();
        if (meta != null) {
            meta.close();
        }
        if (marks != null) {
            marks.close();
        }
        controller.close();
    }
}
