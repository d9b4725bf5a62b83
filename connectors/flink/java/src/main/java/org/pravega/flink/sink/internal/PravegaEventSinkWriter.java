package org.pravega.flink.sink.internal;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.pravega.flink.client.ControllerClient;
import org.pravega.flink.client.EventStreamWriter;
import org.pravega.flink.sink.RoutingKeyExtractor;

/**
 * {@code NONE} and {@code AT_LEAST_ONCE}: plain (idempotent) appends. With {@code AT_LEAST_ONCE}
 * every checkpoint waits until all events written so far are durable, so a restore from it loses
 * nothing (events after it may be written again); with {@code NONE} only the end of input and
 * {@link #close()} wait.
 */
@Internal
public final class PravegaEventSinkWriter<T> extends PravegaSinkWriterBase<T> {
    private final EventStreamWriter writer;

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
