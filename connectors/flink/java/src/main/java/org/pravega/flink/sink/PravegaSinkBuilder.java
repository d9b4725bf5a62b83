package org.pravega.flink.sink;

import java.util.ArrayList;
import java.util.List;

import org.apache.flink.annotation.Internal;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.pravega.flink.client.WriterConfig;
import org.pravega.flink.sink.internal.CommitterFactory;
import org.pravega.flink.sink.internal.PravegaSinkConfig;
import org.pravega.flink.sink.internal.TransactionListener;
import org.pravega.flink.util.ConnectorBuilder;

/** Builds a {@link PravegaSink}; {@link #build()} names any missing or invalid setting. */
@PublicEvolving
public class PravegaSinkBuilder<T> extends ConnectorBuilder<PravegaSinkBuilder<T>> {
    /** Default lease of a transaction: it must outlast checkpoint interval plus restart time. */
    public static final long DEFAULT_TRANSACTION_TIMEOUT_MILLIS = 600_000;
    public static final long MIN_TRANSACTION_TIMEOUT_MILLIS = 10_000;

    private String scope;
    private String stream;
    private SerializationSchema<T> serializationSchema;
    private DeliveryGuarantee deliveryGuarantee = DeliveryGuarantee.AT_LEAST_ONCE;
    private long transactionTimeoutMillis = DEFAULT_TRANSACTION_TIMEOUT_MILLIS;
    private long pingIntervalMillis = -1;
    private RoutingKeyExtractor<T> routingKeyExtractor = RoutingKeyExtractors.none();
    private final WriterConfig writer = new WriterConfig();
    private TransactionListener transactionListener = TransactionListener.NONE;
    private CommitterFactory committerFactory = CommitterFactory.DEFAULT;
    private boolean watermarks;
    private long noteIntervalMillis = 1_000;

    PravegaSinkBuilder() {}

    @Override
    protected PravegaSinkBuilder<T> self() {
        return this;
    }

    /** The stream to write, {@code "scope/stream"} (it must exist). */
    public PravegaSinkBuilder<T> setStream(String scopedStream) {
        String[] parts = splitScopedStream(scopedStream);
        this.scope = parts[0];
        this.stream = parts[1];
        return this;
    }

    public PravegaSinkBuilder<T> setSerializationSchema(SerializationSchema<T> schema) {
        this.serializationSchema = schema;
        return this;
    }

    public PravegaSinkBuilder<T> setDeliveryGuarantee(DeliveryGuarantee guarantee) {
        this.deliveryGuarantee = guarantee;
        return this;
    }

    /**
     * Lease of each transaction (EXACTLY_ONCE), default 10 minutes. The writer renews it while it
     * runs; it must outlast the longest time a transaction waits for its commit without a writer:
     * checkpoint interval plus checkpoint duration plus restart time.
     */
    public PravegaSinkBuilder<T> setTransactionTimeoutMillis(long millis) {
        this.transactionTimeoutMillis = millis;
        return this;
    }

    /** How often open transactions are pinged (default: a tenth of the timeout, at most 30 s). */
    public PravegaSinkBuilder<T> setTransactionPingIntervalMillis(long millis) {
        this.pingIntervalMillis = millis;
        return this;
    }

    public PravegaSinkBuilder<T> setRoutingKeyExtractor(RoutingKeyExtractor<T> extractor) {
        this.routingKeyExtractor = extractor;
        return this;
    }

    /** Routing key = a top-level field of the event's JSON text (see {@link RoutingKeyExtractors#jsonField}). */
    public PravegaSinkBuilder<T> setRoutingKeyField(String jsonField) {
        this.routingKeyExtractor = RoutingKeyExtractors.jsonField(jsonField);
        return this;
    }

    /** Largest append block (default 1 MiB). */
    public PravegaSinkBuilder<T> setMaxBlockBytes(int bytes) {
        writer.maxBlockBytes = bytes;
        return this;
    }

    /** Buffered events are sent at least this often (default 5 ms). */
    public PravegaSinkBuilder<T> setLingerMillis(long millis) {
        writer.lingerMillis = millis;
        return this;
    }

    /** Told about every step of the sink's transactions (EXACTLY_ONCE); default: nobody. */
    @Internal
    public PravegaSinkBuilder<T> setTransactionListener(TransactionListener listener) {
        this.transactionListener = listener == null ? TransactionListener.NONE : listener;
        return this;
    }

    /** Makes the committer (default: the real one); a seam for tests that wrap it. */
    @Internal
    public PravegaSinkBuilder<T> setCommitterFactory(CommitterFactory factory) {
        this.committerFactory = factory == null ? CommitterFactory.DEFAULT : factory;
        return this;
    }

    /**
     * Note event time for Pravega watermarks, as the old connector's {@code enableWatermark}: each
     * writer tells the controller the current Flink watermark (the sink's input watermark) with
     * the positions its events reached ({@code noteTimestampFromWriter}), so readers of the stream
     * get watermarks from the stream's {@code _MARK<stream>}. NONE / AT_LEAST_ONCE note after each
     * checkpoint's flush and, between checkpoints, at most once per {@link #setWatermarkNoteIntervalMillis}
     * when the watermark advanced (flushing first); EXACTLY_ONCE notes after each transaction's
     * commit, with the watermark of the checkpoint that transaction belongs to.
     */
    public PravegaSinkBuilder<T> enableWatermark(boolean enable) {
        this.watermarks = enable;
        return this;
    }

    /** NONE / AT_LEAST_ONCE with {@link #enableWatermark}: the least time between two notes (default 1 s). */
    public PravegaSinkBuilder<T> setWatermarkNoteIntervalMillis(long millis) {
        this.noteIntervalMillis = millis;
        return this;
    }

    public PravegaSink<T> build() {
        sanityCheck();
        long ping = pingIntervalMillis > 0 ? pingIntervalMillis
                : Math.max(100, Math.min(30_000, transactionTimeoutMillis / 10));
        WriterConfig writerConfig = writer.copy();
        writerConfig.timeoutMillis = requestTimeoutMillis();
        writerConfig.retryBudgetMillis = retryBudgetMillis();
        PravegaSinkConfig config = new PravegaSinkConfig(controllerUri(), scope, stream, deliveryGuarantee,
                transactionTimeoutMillis, ping, writerConfig, watermarks, noteIntervalMillis);
        return new PravegaSink<>(config, serializationSchema, routingKeyExtractor, transactionListener,
                committerFactory);
    }

    /** Checks the settings; each message names the setting to fix. */
    public void sanityCheck() {
        List<String> problems = new ArrayList<>();
        checkCommon(problems);
        if (scope == null || stream == null) {
            problems.add("the stream is not set (setStream, as \"scope/stream\")");
        }
        if (serializationSchema == null) {
            problems.add("the serialization schema is not set (setSerializationSchema, e.g. SimpleStringSchema)");
        }
        if (deliveryGuarantee == null) {
            problems.add("the delivery guarantee is null (setDeliveryGuarantee)");
        }
        if (routingKeyExtractor == null) {
            problems.add("the routing-key extractor is null (setRoutingKeyExtractor; RoutingKeyExtractors.none() for none)");
        }
        if (deliveryGuarantee == DeliveryGuarantee.EXACTLY_ONCE) {
            if (transactionTimeoutMillis < MIN_TRANSACTION_TIMEOUT_MILLIS) {
                problems.add("EXACTLY_ONCE needs a transaction timeout of at least " + MIN_TRANSACTION_TIMEOUT_MILLIS
                        + " ms (it must exceed checkpoint interval + restart time), got " + transactionTimeoutMillis);
            }
            if (pingIntervalMillis > 0 && pingIntervalMillis >= transactionTimeoutMillis) {
                problems.add("the transaction ping interval (" + pingIntervalMillis
                        + " ms) must be shorter than the transaction timeout (" + transactionTimeoutMillis + " ms)");
            }
        }
        if (writer.maxBlockBytes < 1024 || writer.maxBlockBytes > 8 * 1024 * 1024) {
            problems.add("setMaxBlockBytes must be between 1 KiB and 8 MiB, got " + writer.maxBlockBytes);
        }
        if (writer.lingerMillis <= 0) {
            problems.add("setLingerMillis must be positive");
        }
        if (noteIntervalMillis < 10) {
            problems.add("setWatermarkNoteIntervalMillis must be at least 10 ms, got " + noteIntervalMillis);
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid PravegaSink: " + String.join("; ", problems));
        }
    }
}
