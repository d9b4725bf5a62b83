package org.pravega.flink.source;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.pravega.flink.client.Endpoint;
import org.pravega.flink.client.StreamCut;

/** Builds a {@link PravegaSource}; {@link #build()} names any missing setting. */
@PublicEvolving
public class PravegaSourceBuilder<T> {
    private String controllerUri;
    private final Map<String, StreamSpec> streams = new LinkedHashMap<>();
    private final List<StreamCut> pendingStartCuts = new ArrayList<>();
    private final List<StreamCut> pendingEndCuts = new ArrayList<>();
    private boolean startAtTail;
    private boolean bounded;
    private DeserializationSchema<T> deserializationSchema;
    private int readLength = 1024 * 1024;
    private int timeoutMillis = 10_000;
    private long retryBudgetMillis = 60_000;
    private long metricsRefreshMillis = 10_000;

    PravegaSourceBuilder() {}

    /** The controller, e.g. {@code tcp://localhost:9090}. */
    public PravegaSourceBuilder<T> setControllerUri(String controllerUri) {
        this.controllerUri = controllerUri;
        return this;
    }

    /** Reads {@code "scope/stream"} (may be called for several streams). */
    public PravegaSourceBuilder<T> addStream(String scopedStream) {
        return addStream(scopedStream, (StreamCut) null, (StreamCut) null);
    }

    /** Reads {@code "scope/stream"} from {@code startCut} to {@code endCut} (either may be null). */
    public PravegaSourceBuilder<T> addStream(String scopedStream, StreamCut startCut, StreamCut endCut) {
        String[] parts = splitStream(scopedStream);
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

    /** Timeout of one request to the controller or a segment store (default 10 s). */
    public PravegaSourceBuilder<T> setRequestTimeoutMillis(int millis) {
        this.timeoutMillis = millis;
        return this;
    }

    /** How long failing requests are retried before the job fails (default 60 s). */
    public PravegaSourceBuilder<T> setRetryBudgetMillis(long millis) {
        this.retryBudgetMillis = millis;
        return this;
    }

    /** How often segment lengths are fetched for the unread-bytes metric (0: never; default 10 s). */
    public PravegaSourceBuilder<T> setMetricsRefreshMillis(long millis) {
        this.metricsRefreshMillis = millis;
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
        PravegaSourceConfig config = new PravegaSourceConfig(controllerUri, new ArrayList<>(specs.values()),
                startAtTail, bounded, readLength, timeoutMillis, retryBudgetMillis, metricsRefreshMillis);
        return new PravegaSource<>(config, deserializationSchema);
    }

    /** Checks the settings; each message names the setting to fix. */
    public void sanityCheck() {
        List<String> problems = new ArrayList<>();
        if (controllerUri == null || controllerUri.trim().isEmpty()) {
            problems.add("the controller URI is not set (setControllerUri, e.g. \"tcp://localhost:9090\")");
        } else {
            try {
                Endpoint.parseControllerUri(controllerUri);
            } catch (IllegalArgumentException e) {
                problems.add("setControllerUri: " + e.getMessage());
            }
        }
        if (streams.isEmpty() && pendingStartCuts.isEmpty() && pendingEndCuts.isEmpty()) {
            problems.add("no stream to read (setStreams / addStream, as \"scope/stream\")");
        }
        if (deserializationSchema == null) {
            problems.add("the deserialization schema is not set (setDeserializationSchema, e.g. SimpleStringSchema)");
        }
        if (readLength < 1024 || readLength > 8 * 1024 * 1024) {
            problems.add("setReadLength must be between 1 KiB and 8 MiB, got " + readLength);
        }
        if (timeoutMillis <= 0 || retryBudgetMillis < 0) {
            problems.add("timeouts must be positive");
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid PravegaSource: " + String.join("; ", problems));
        }
    }

    private static String[] splitStream(String scopedStream) {
        String[] parts = scopedStream == null ? new String[0] : scopedStream.split("/", -1);
        if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
            throw new IllegalArgumentException("a stream is named \"scope/stream\", got \"" + scopedStream + "\"");
        }
        return parts;
    }

    private static StreamCut parseCut(String text) {
        return text == null || text.isEmpty() ? null : StreamCut.fromText(text);
    }
}
