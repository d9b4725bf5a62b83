package org.pravega.flink.sink.internal;

import java.io.Serializable;

import org.apache.flink.annotation.Internal;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.pravega.flink.client.WriterConfig;

/** The settings a {@code PravegaSink} hands to its writers and committers. */
@Internal
public final class PravegaSinkConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String controllerUri;
    private final String scope;
    private final String stream;
    private final DeliveryGuarantee deliveryGuarantee;
    private final long transactionTimeoutMillis;
    private final long pingIntervalMillis;
    private final WriterConfig writer;
    private final boolean watermarks;
    private final long noteIntervalMillis;

    public PravegaSinkConfig(String controllerUri, String scope, String stream, DeliveryGuarantee deliveryGuarantee,
                             long transactionTimeoutMillis, long pingIntervalMillis, WriterConfig writer) {
        this(controllerUri, scope, stream, deliveryGuarantee, transactionTimeoutMillis, pingIntervalMillis, writer,
                false, 1_000);
    }

    public PravegaSinkConfig(String controllerUri, String scope, String stream, DeliveryGuarantee deliveryGuarantee,
                             long transactionTimeoutMillis, long pingIntervalMillis, WriterConfig writer,
                             boolean watermarks, long noteIntervalMillis) {
        this.controllerUri = controllerUri;
        this.scope = scope;
        this.stream = stream;
        this.deliveryGuarantee = deliveryGuarantee;
        this.transactionTimeoutMillis = transactionTimeoutMillis;
        this.pingIntervalMillis = pingIntervalMillis;
        this.writer = writer;
        this.watermarks = watermarks;
        this.noteIntervalMillis = noteIntervalMillis;
    }

    /** Whether writers note the Flink watermark as their time ({@code noteTimestampFromWriter}). */
    public boolean isWatermarks() {
        return watermarks;
    }

    /** NONE / AT_LEAST_ONCE: the least time between two notes outside checkpoints. */
    public long getNoteIntervalMillis() {
        return noteIntervalMillis;
    }

    public String getControllerUri() {
        return controllerUri;
    }

    public String getScope() {
        return scope;
    }

    public String getStream() {
        return stream;
    }

    public DeliveryGuarantee getDeliveryGuarantee() {
        return deliveryGuarantee;
    }

    public long getTransactionTimeoutMillis() {
        return transactionTimeoutMillis;
    }

    public long getPingIntervalMillis() {
        return pingIntervalMillis;
    }

    public WriterConfig getWriter() {
        return writer;
    }

    public String scopedStream() {
        return scope + "/" + stream;
    }

    @Override
    public String toString() {
        return "PravegaSinkConfig{controller=" + controllerUri.split("\\?")[0] + ", stream=" + scopedStream() + ", guarantee="
                + deliveryGuarantee + ", transactionTimeout=" + transactionTimeoutMillis + " ms"
                + (watermarks ? ", watermarks" : "") + "}";
    }
}
