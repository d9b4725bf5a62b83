package org.pravega.flink.sink.internal;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.client.PravegaException;
import org.pravega.flink.client.ControllerClient.NoteStatus;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.pravega.flink.client.ControllerClient;
import org.pravega.flink.client.EventStreamWriter;
import org.pravega.flink.sink.RoutingKeyExtractor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code NONE} and {@code AT_LEAST_ONCE}: plain (idempotent) appends. With {@code AT_LEAST_ONCE}
 * every checkpoint waits until all events written so far are durable, so a restore from it loses
 * nothing (events after it may be written again); with {@code NONE} only the end of input and
 * {@link #close()} wait.
 *
 * <p>With {@code enableWatermark} the writer notes the input watermark with its positions after
 * every checkpoint's flush and, in between, when the watermark advanced and the note interval has
 * passed (flushing first, so every event written before lies before the noted positions).
 */
@Internal
public final class PravegaEventSinkWriter<T> extends PravegaSinkWriterBase<T> {
    private static final Logger LOG = LoggerFactory.getLogger(PravegaEventSinkWriter.class);
    private final EventStreamWriter writer;
    private long noted = Long.MIN_VALUE;
    private long lastNoteAt;

    public PravegaEventSinkWriter(PravegaSinkConfig config, SerializationSchema<T> schema,
                                  RoutingKeyExtractor<T> routingKeys, ControllerClient controller,
                                  WriterInitContext context) {
        super(config, schema, routingKeys, controller, context);
        this.writer = new EventStreamWriter(controller, config.getScope(), config.getStream(), config.getWriter());
    }

    @Override
    protected void send(String routingKey, byte[] event) {
        writer.write(routingKey, event);
    }

    @Override
    public void flush(boolean endOfInput) {
        if (endOfInput || config.getDeliveryGuarantee() == DeliveryGuarantee.AT_LEAST_ONCE) {
            writer.flush();
            if (config.isWatermarks()) {
                noteTime();
            }
        }
    }

    @Override
    protected void onWatermark() {
        if (System.currentTimeMillis() - lastNoteAt >= config.getNoteIntervalMillis()) {
            writer.flush();
            noteTime();
        }
    }

    /** After a flush: note the watermark if it moved since the last note. */
    private void noteTime() {
        long time = watermark;
        if (!noteworthy(time) || time <= noted) {
            return;
        }
        lastNoteAt = System.currentTimeMillis();
        try {
            NoteStatus status = controller.noteTimestamp(config.getScope(), config.getStream(), writerId, time,
                    writer.positions());
            if (status == NoteStatus.SUCCESS || status == NoteStatus.INVALID_TIME) {
                noted = time; // INVALID_TIME: an earlier run of this writer id noted a later time
            } else {
                LOG.warn("the controller rejected the time {} of writer {}: {}", time, writerId, status);
            }
        } catch (PravegaException e) {
            LOG.warn("cannot note the time {} of writer {} (watermarks lag until the next note): {}", time,
                    writerId, e.getMessage());
        }
    }

    @Override
    public void close() {
        try {
            writer.flush();
        } finally {
            writer.close();
            controller.close();
        }
    }
}
