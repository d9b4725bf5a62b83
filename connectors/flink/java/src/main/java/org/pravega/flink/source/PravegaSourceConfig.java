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

    PravegaSourceConfig(String controllerUri, List<StreamSpec> streams, boolean startAtTail, boolean bounded,
                        int readLength, int timeoutMillis, long retryBudgetMillis, long metricsRefreshMillis) {
        this.controllerUri = controllerUri;
        this.streams = Collections.unmodifiableList(new ArrayList<>(streams));
        this.startAtTail = startAtTail;
        this.bounded = bounded;
        this.readLength = readLength;
        this.timeoutMillis = timeoutMillis;
        this.retryBudgetMillis = retryBudgetMillis;
        this.metricsRefreshMillis = metricsRefreshMillis;
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

    @Override
    public String toString() {
        return "PravegaSourceConfig{controller=" + controllerUri.split("\\?")[0] + ", streams=" + streams + ", startAtTail="
                + startAtTail + ", bounded=" + bounded + "}";
    }
}
