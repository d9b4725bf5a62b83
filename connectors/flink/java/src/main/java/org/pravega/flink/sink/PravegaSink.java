package org.pravega.flink.sink;

import java.io.IOException;
import java.util.Collection;
import java.util.Collections;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.pravega.flink.client.ControllerClient;
import org.pravega.flink.sink.internal.PravegaCommittable;
import org.pravega.flink.sink.internal.CommitterFactory;
import org.pravega.flink.sink.internal.PravegaCommittableSerializer;
import org.pravega.flink.sink.internal.PravegaEventSinkWriter;
import org.pravega.flink.sink.internal.PravegaSinkConfig;
import org.pravega.flink.sink.internal.PravegaTransactionalSinkWriter;
import org.pravega.flink.sink.internal.PravegaWriterState;
import org.pravega.flink.sink.internal.PravegaWriterStateSerializer;
import org.pravega.flink.sink.internal.TransactionListener;

/**
 * A Sink V2 writing to a Pravega stream with the chosen {@link DeliveryGuarantee}:
 *
 * <ul>
 *   <li>{@code NONE}: plain appends, flushed at the end of input and on close;</li>
 *   <li>{@code AT_LEAST_ONCE} (default): every checkpoint waits until all events are durable;</li>
 *   <li>{@code EXACTLY_ONCE}: one Pravega transaction per checkpoint and subtask, committed after
 *       the checkpoint completes (needs checkpointing; readers see the events only then).</li>
 * </ul>
 *
 * <pre>{@code
 * PravegaSink<String> sink = PravegaSink.<String>builder()
 *     .setControllerUri("tcp://localhost:9090")
 *     .setStream("scope/out")
 *     .setSerializationSchema(new SimpleStringSchema())
 *     .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
 *     .setRoutingKeyExtractor(RoutingKeyExtractors.jsonField("user"))
 *     .build();
 * stream.sinkTo(sink);
 * }</pre>
 */
@PublicEvolving
public class PravegaSink<T>
        implements Sink<T>, SupportsWriterState<T, PravegaWriterState>, SupportsCommitter<PravegaCommittable> {
    private static final long serialVersionUID = 1L;

    private final PravegaSinkConfig config;
    private final SerializationSchema<T> serializationSchema;
    private final RoutingKeyExtractor<T> routingKeyExtractor;
    private final TransactionListener listener;
    private final CommitterFactory committerFactory;

    PravegaSink(PravegaSinkConfig config, SerializationSchema<T> serializationSchema,
                RoutingKeyExtractor<T> routingKeyExtractor, TransactionListener listener,
                CommitterFactory committerFactory) {
        this.config = config;
        this.serializationSchema = serializationSchema;
        this.routingKeyExtractor = routingKeyExtractor;
        this.listener = listener;
        this.committerFactory = committerFactory;
    }

    public static <T> PravegaSinkBuilder<T> builder() {
        return new PravegaSinkBuilder<>();
    }

    public PravegaSinkConfig getConfig() {
        return config;
    }

    public SerializationSchema<T> getSerializationSchema() {
        return serializationSchema;
    }

    public RoutingKeyExtractor<T> getRoutingKeyExtractor() {
        return routingKeyExtractor;
    }

    @Override
    public SinkWriter<T> createWriter(WriterInitContext context) throws IOException {
        return restoreWriter(context, Collections.emptyList());
    }

    @Override
    public StatefulSinkWriter<T, PravegaWriterState> restoreWriter(WriterInitContext context,
                                                                   Collection<PravegaWriterState> recoveredState)
            throws IOException {
        try {
            serializationSchema.open(context.asSerializationSchemaInitializationContext());
        } catch (Exception e) {
            throw new IOException("cannot open the serialization schema", e);
        }
        ControllerClient controller = new ControllerClient(config.getControllerUri(), config.getWriter().timeoutMillis,
                config.getWriter().retryBudgetMillis);
        try {
            if (config.getDeliveryGuarantee() == DeliveryGuarantee.EXACTLY_ONCE) {
                PravegaTransactionalSinkWriter.abortOrphans(controller, recoveredState, listener);
                return new PravegaTransactionalSinkWriter<>(config, serializationSchema, routingKeyExtractor,
                        controller, context, listener);
            }
            return new PravegaEventSinkWriter<>(config, serializationSchema, routingKeyExtractor, controller, context);
        } catch (RuntimeException e) {
            controller.close();
            throw e;
        }
    }

    @Override
    public SimpleVersionedSerializer<PravegaWriterState> getWriterStateSerializer() {
        return new PravegaWriterStateSerializer();
    }

    @Override
    public Committer<PravegaCommittable> createCommitter(CommitterInitContext context) {
        return committerFactory.create(config, listener);
    }

    @Override
    public SimpleVersionedSerializer<PravegaCommittable> getCommittableSerializer() {
        return new PravegaCommittableSerializer();
    }
}
