package org.pravega.flink.sink.internal;

import java.util.Collection;
import java.util.Collections;
import java.util.List;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.metrics.Counter;
import org.pravega.flink.client.ControllerClient;
import org.pravega.flink.sink.RoutingKeyExtractor;

/** What all sink writers share: serialization, routing keys, metrics, the controller client. */
@Internal
public abstract class PravegaSinkWriterBase<T>
        implements StatefulSinkWriter<T, PravegaWriterState>, CommittingSinkWriter<T, PravegaCommittable> {
    protected final PravegaSinkConfig config;
    protected final SerializationSchema<T> schema;
    protected final RoutingKeyExtractor<T> routingKeys;
    protected final ControllerClient controller;
    protected final Counter recordsSent;
    protected final Counter bytesSent;
    protected final String writerId;
    private volatile long lastSendNanos;
    /** The sink's input watermark (Long.MIN_VALUE: none yet). */
    protected long watermark = Long.MIN_VALUE;

    protected PravegaSinkWriterBase(PravegaSinkConfig config, SerializationSchema<T> schema,
                                    RoutingKeyExtractor<T> routingKeys, ControllerClient controller,
                                    WriterInitContext context) {
        this.config = config;
        this.schema = schema;
        this.routingKeys = routingKeys;
        this.controller = controller;
        this.recordsSent = context.metricGroup().getNumRecordsSendCounter();
        this.bytesSent = context.metricGroup().getNumBytesSendCounter();
        context.metricGroup().setCurrentSendTimeGauge(() -> lastSendNanos / 1_000_000);
        this.writerId = "flink-" + context.getJobInfo().getJobId() + "-" + context.getTaskInfo().getIndexOfThisSubtask();
    }

    /** Serializes, picks the key and hands the event to {@link #send}. */
    @Override
    public void write(T element, Context context) {
        byte[] bytes = schema.serialize(element);
        String key = routingKeys.getRoutingKey(element, bytes);
        long start = System.nanoTime();
        send(key, bytes);
        lastSendNanos = System.nanoTime() - start;
        recordsSent.inc();
        bytesSent.inc(bytes.length);
    }

    protected abstract void send(String routingKey, byte[] event);

    /**
     * Keeps the input watermark (for {@code enableWatermark}); see {@link #onWatermark()}. The
     * end-of-input watermark (Long.MAX_VALUE) is not kept: it claims nothing about later writers.
     */
    @Override
    public void writeWatermark(Watermark mark) {
        if (mark.getTimestamp() > watermark && mark.getTimestamp() != Long.MAX_VALUE) {
            watermark = mark.getTimestamp();
            if (config.isWatermarks()) {
                onWatermark();
            }
        }
    }

    /** The watermark advanced (with {@code enableWatermark}); default: nothing until the next checkpoint. */
    protected void onWatermark() {}

    /** Whether there is a time worth noting for Pravega watermarks (an input watermark). */
    protected static boolean noteworthy(long time) {
        return time != Long.MIN_VALUE;
    }

    @Override
    public Collection<PravegaCommittable> prepareCommit() {
        return Collections.emptyList();
    }

    @Override
    public List<PravegaWriterState> snapshotState(long checkpointId) {
        return Collections.emptyList();
    }
}
