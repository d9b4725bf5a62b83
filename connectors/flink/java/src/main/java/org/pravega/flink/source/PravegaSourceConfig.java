package org.pravega.flink.source;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.apache.flink.annotation.Internal;

/** The settings a {@link PravegaSource} hands to its enumerator and readers. */
@Internal
public final class PravegaSourceConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String controllerUri;
    private final List<StreamSpec> streams;
    private final boolean startAtTail;
    private final boolean bounded;
    private final int readLength;
    private final int timeoutMillis;
    private final long retryBudgetMillis;
    private final long metricsRefreshMillis;
    private final boolean pravegaWatermarks;
    private final TimestampExtractor timestampExtractor;
    private final long markPollMillis;

    PravegaSourceConfig(String controllerUri, List<StreamSpec> streams, boolean startAtTail, boolean bounded,
                        int readLength, int timeoutMillis, long retryBudgetMillis, long metricsRefreshMillis) {
        this(controllerUri, streams, startAtTail, bounded, readLength, timeoutMillis, retryBudgetMillis,
                metricsRefreshMillis, false, null, 1_000);
    }

    PravegaSourceConfig(String controllerUri, List<StreamSpec> streams, boolean startAtTail, boolean bounded,
                        int readLength, int timeoutMillis, long retryBudgetMillis, long metricsRefreshMillis,
                        boolean pravegaWatermarks, TimestampExtractor timestampExtractor, long markPollMillis) {
        this.controllerUri = controllerUri;
        this.streams = Collections.unmodifiableList(new ArrayList<>(streams));
        this.startAtTail = startAtTail;
        this.bounded = bounded;
        this.readLength = readLength;
        this.timeoutMillis = timeoutMillis;
        this.retryBudgetMillis = retryBudgetMillis;
        this.metricsRefreshMillis = metricsRefreshMillis;
        this.pravegaWatermarks = pravegaWatermarks;
        this.timestampExtractor = timestampExtractor;
        this.markPollMillis = markPollMillis;
    }

    public String getControllerUri() {
        return controllerUri;
    }

    public List<StreamSpec> getStreams() {
        return streams;
    }

    public boolean isStartAtTail() {
        return startAtTail;
    }

    public boolean isBounded() {
        return bounded;
    }

    public int getReadLength() {
        return readLength;
    }

    public int getTimeoutMillis() {
        return timeoutMillis;
    }

    public long getRetryBudgetMillis() {
        return retryBudgetMillis;
    }

    public long getMetricsRefreshMillis() {
        return metricsRefreshMillis;
    }

    /** Whether splits emit watermarks from the streams' Pravega watermarks ({@code _MARK<stream>}). */
    public boolean isPravegaWatermarks() {
        return pravegaWatermarks;
    }

    /** Gives records their event time; null: records carry no timestamp of the source's. */
    public TimestampExtractor getTimestampExtractor() {
        return timestampExtractor;
    }

    /** How often the watermark streams are polled, and how long a split waits at the tail before it counts as idle. */
    public long getMarkPollMillis() {
        return markPollMillis;
    }

    @Override
    public String toString() {
        return "PravegaSourceConfig{controller=" + controllerUri.split("\\?")[0] + ", streams=" + streams + ", startAtTail="
                + startAtTail + ", bounded=" + bounded + (pravegaWatermarks ? ", pravegaWatermarks" : "") + "}";
    }
}
