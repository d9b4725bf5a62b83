package org.pravega.flink.util;

import java.util.List;

import org.apache.flink.annotation.PublicEvolving;
import org.pravega.flink.client.Endpoint;

/**
 * What the source and sink builders share: the controller, the request timeout and the retry
 * budget, their checks, and how a {@code "scope/stream"} name is split.
 *
 * @param <B> the concrete builder (setters return it, so calls chain)
 */
@PublicEvolving
public abstract class ConnectorBuilder<B extends ConnectorBuilder<B>> {
    private String controllerUri;
    private int requestTimeoutMillis = 10_000;
    private long retryBudgetMillis = 60_000;

    protected ConnectorBuilder() {}

    /** This builder, typed as the concrete one. */
    protected abstract B self();

    /** The controller, e.g. {@code tcp://localhost:9090}. */
    public B setControllerUri(String controllerUri) {
        this.controllerUri = controllerUri;
        return self();
    }

    /** Timeout of one request to the controller or a segment store (default 10 s). */
    public B setRequestTimeoutMillis(int millis) {
        this.requestTimeoutMillis = millis;
        return self();
    }

    /** How long an unreachable controller or segment store is retried before failing (default 60 s). */
    public B setRetryBudgetMillis(long millis) {
        this.retryBudgetMillis = millis;
        return self();
    }

    protected String controllerUri() {
        return controllerUri;
    }

    protected int requestTimeoutMillis() {
        return requestTimeoutMillis;
    }

    protected long retryBudgetMillis() {
        return retryBudgetMillis;
    }

    /** Adds a message naming the setting to fix for each problem of the shared settings. */
    protected void checkCommon(List<String> problems) {
        if (controllerUri == null || controllerUri.trim().isEmpty()) {
            problems.add("the controller URI is not set (setControllerUri, e.g. \"tcp://localhost:9090\")");
        } else {
            try {
                Endpoint.parseControllerUri(controllerUri);
            } catch (IllegalArgumentException e) {
                problems.add("setControllerUri: " + e.getMessage());
            }
        }
        if (requestTimeoutMillis <= 0 || retryBudgetMillis < 0) {
            problems.add("timeouts must be positive");
        }
    }

    /** {@code "scope/stream"} as {scope, stream}; anything else is refused with a clear message. */
    public static String[] splitScopedStream(String scopedStream) {
        String[] parts = scopedStream == null ? new String[0] : scopedStream.split("/", -1);
        if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
            throw new IllegalArgumentException("a stream is named \"scope/stream\", got \"" + scopedStream + "\"");
        }
        return parts;
    }
}
