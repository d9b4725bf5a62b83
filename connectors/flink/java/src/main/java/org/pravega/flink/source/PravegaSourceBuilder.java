package org.pravega.flink.source;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.pravega.flink.client.StreamCut;
import org.pravega.flink.util.ConnectorBuilder;

/** Builds a {@link PravegaSource}; {@link #build()} names any missing setting. */
@PublicEvolving
public class PravegaSourceBuilder<T> extends ConnectorBuilder<PravegaSourceBuilder<T>> {
    private final Map<String, StreamSpec> streams = new LinkedHashMap<>();
    private final List<StreamCut> pendingStartCuts = new ArrayList<>();
    private final List<StreamCut> pendingEndCuts = new ArrayList<>();
    private boolean startAtTail;
    private boolean bounded;
    private DeserializationSchema<T> deserializationSchema;
    private int readLength = 1024 * 1024;
    private long metricsRefreshMillis = 10_000;
    private boolean pravegaWatermarks;
    private TimestampExtractor timestampExtractor;
    private long markPollMillis = 1_000;

    PravegaSourceBuilder() {}

    @Override
    protected PravegaSourceBuilder<T> self() {
        return this;
    }

    /** Reads {@code "scope/stream"} (may be called for several streams). */
    public PravegaSourceBuilder<T> addStream(String scopedStream) {
        return addStream(scopedStream, (StreamCut) null, (StreamCut) null);
    }

    /** Reads {@code "scope/stream"} from {@code startCut} to {@code endCut} (either may be null). */
    public PravegaSourceBuilder<T> addStream(String scopedStream, StreamCut startCut, StreamCut endCut) {
        String[] parts = splitScopedStream(scopedStream);
        String key = parts[0] + "/" + parts[1];
        streams.put(key, new StreamSpec(parts[0], parts[1], startCut, endCut));
        return this;
    }

    /** Like {@link #addStream(String, StreamCut, StreamCut)} with cuts in text form (null or "" for none). */
    public PravegaSourceBuilder<T> addStreamWithCutTexts(String scopedStream, String startCut, String endCut) {
        return addStream(scopedStream, parseCut(startCut), parseCut(endCut));
    }

    /** Replaces the streams to read. */
    public PravegaSourceBuilder<T> setStreams(String... scopedStreams) {
        streams.clear();
        for (String s : scopedStreams) {
            addStream(s);
        }
        return this;
    }

    /** Where to start in the cut's stream (added if not yet named). */
    public PravegaSourceBuilder<T> setStartStreamCut(StreamCut cut) {
        pendingStartCuts.add(cut);
        return this;
    }

    public PravegaSourceBuilder<T> setStartStreamCut(String cutText) {
        return setStartStreamCut(StreamCut.fromText(cutText));
    }

    /** Where to stop in the cut's stream (added if not yet named). */
    public PravegaSourceBuilder<T> setEndStreamCut(StreamCut cut) {
        pendingEndCuts.add(cut);
        return this;
    }

    public PravegaSourceBuilder<T> setEndStreamCut(String cutText) {
        return setEndStreamCut(StreamCut.fromText(cutText));
    }

    /** Streams without a start cut start at their tail (new events only) instead of their head. */
    public PravegaSourceBuilder<T> setStartAtTail(boolean startAtTail) {
        this.startAtTail = startAtTail;
        return this;
    }

    /**
     * Bounded (batch) reading: stop at the end cuts; streams without an end cut end at their tail
     * as of the job's start. Without it the source is unbounded (end cuts still stop their streams).
     */
    public PravegaSourceBuilder<T> setBounded(boolean bounded) {
        this.bounded = bounded;
        return this;
    }

    public PravegaSourceBuilder<T> setDeserializationSchema(DeserializationSchema<T> schema) {
        this.deserializationSchema = schema;
        return this;
    }

    /** Bytes asked for per read request (default 1 MiB). */
    public PravegaSourceBuilder<T> setReadLength(int bytes) {
        this.readLength = bytes;
        return this;
    }

    /** How often segment lengths are fetched for the unread-bytes metric (0: never; default 10 s). */
    public PravegaSourceBuilder<T> setMetricsRefreshMillis(long millis) {
        this.metricsRefreshMillis = millis;
        return this;
    }

    /**
     * Emit Flink watermarks from the streams' Pravega watermarks (what writers noted with
     * {@code noteTime}, aggregated by the controller into {@code _MARK<stream>}): each segment
     * split's watermark is the lower bound of the newest watermark whose position the split has
     * passed. Use {@link PravegaSource#watermarkStrategy()} in {@code env.fromSource}.
     */
    public PravegaSourceBuilder<T> withPravegaWatermarks() {
        this.pravegaWatermarks = true;
        return this;
    }

    /** Like {@link #withPravegaWatermarks()}, records also get their event time from {@code extractor}. */
    public PravegaSourceBuilder<T> withPravegaWatermarks(TimestampExtractor extractor) {
        this.pravegaWatermarks = true;
        this.timestampExtractor = extractor;
        return this;
    }

    /** Gives each record the event time {@code extractor} finds in its bytes (null: none). */
    public PravegaSourceBuilder<T> setTimestampExtractor(TimestampExtractor extractor) {
        this.timestampExtractor = extractor;
        return this;
    }

    /**
     * How often the watermark streams are polled (default 1 s); a split waiting at its segment's
     * tail this long with no newer watermark to reach is marked idle.
     */
    public PravegaSourceBuilder<T> setWatermarkPollMillis(long millis) {
        this.markPollMillis = millis;
        return this;
    }

    public PravegaSource<T> build() {
        sanityCheck();
        Map<String, StreamSpec> specs = new LinkedHashMap<>(streams);
        for (StreamCut c : pendingStartCuts) {
            StreamSpec s = specs.get(c.getScopedStream());
            specs.put(c.getScopedStream(), (s == null ? new StreamSpec(c.getScope(), c.getStream(), null, null) : s)
                    .withStartCut(c));
        }
        for (StreamCut c : pendingEndCuts) {
            StreamSpec s = specs.get(c.getScopedStream());
            specs.put(c.getScopedStream(), (s == null ? new StreamSpec(c.getScope(), c.getStream(), null, null) : s)
                    .withEndCut(c));
        }
        PravegaSourceConfig config = new PravegaSourceConfig(controllerUri(), new ArrayList<>(specs.values()),
                startAtTail, bounded, readLength, requestTimeoutMillis(), retryBudgetMillis(), metricsRefreshMillis,
                pravegaWatermarks, timestampExtractor, markPollMillis);
        return new PravegaSource<>(config, deserializationSchema);
    }

    /** Checks the settings; each message names the setting to fix. */
    public void sanityCheck() {
        List<String> problems = new ArrayList<>();
        checkCommon(problems);
        if (streams.isEmpty() && pendingStartCuts.isEmpty() && pendingEndCuts.isEmpty()) {
            problems.add("no stream to read (setStreams / addStream, as \"scope/stream\")");
        }
        if (deserializationSchema == null) {
            problems.add("the deserialization schema is not set (setDeserializationSchema, e.g. SimpleStringSchema)");
        }
        if (readLength < 1024 || readLength > 8 * 1024 * 1024) {
            problems.add("setReadLength must be between 1 KiB and 8 MiB, got " + readLength);
        }
        if (markPollMillis < 10 || markPollMillis > 600_000) {
            problems.add("setWatermarkPollMillis must be between 10 ms and 10 minutes, got " + markPollMillis);
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid PravegaSource: " + String.join("; ", problems));
        }
    }

    private static StreamCut parseCut(String text) {
        return text == null || text.isEmpty() ? null : StreamCut.fromText(text);
    }
}
