package org.pravega.flink.source;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.util.UserCodeClassLoader;
import org.pravega.flink.source.enumerator.PravegaEnumeratorState;
import org.pravega.flink.source.enumerator.PravegaEnumeratorStateSerializer;
import org.pravega.flink.source.enumerator.PravegaSplitEnumerator;
import org.pravega.flink.source.reader.PravegaSourceReader;
import org.pravega.flink.source.split.PravegaSplit;
import org.pravega.flink.source.split.PravegaSplitSerializer;

/**
 * A FLIP-27 source reading Pravega streams: each segment is a split, positions are checkpointed
 * per segment, and successors after a scale are read only after all their predecessors, so events
 * of a routing key come out in order. Build it with {@link #builder()}:
 *
 * <pre>{@code
 * PravegaSource<String> source = PravegaSource.<String>builder()
 *     .setControllerUri("tcp://localhost:9090")
 *     .addStream("scope/stream")
 *     .setDeserializationSchema(new SimpleStringSchema())
 *     .build();
 * env.fromSource(source, WatermarkStrategy.noWatermarks(), "pravega");
 * }</pre>
 */
@PublicEvolving
public class PravegaSource<T>
        implements Source<T, PravegaSplit, PravegaEnumeratorState>, ResultTypeQueryable<T> {
    private static final long serialVersionUID = 1L;

    private final PravegaSourceConfig config;
    private final DeserializationSchema<T> deserializationSchema;

    PravegaSource(PravegaSourceConfig config, DeserializationSchema<T> deserializationSchema) {
        this.config = config;
        this.deserializationSchema = deserializationSchema;
    }

    public static <T> PravegaSourceBuilder<T> builder() {
        return new PravegaSourceBuilder<>();
    }

    public PravegaSourceConfig getConfig() {
        return config;
    }

    public DeserializationSchema<T> getDeserializationSchema() {
        return deserializationSchema;
    }

    /**
     * The watermark strategy to pass to {@code env.fromSource} with this source: with
     * {@code withPravegaWatermarks()} a {@link PravegaWatermarkStrategy} (the source's per-split
     * watermarks and record timestamps), otherwise {@link WatermarkStrategy#noWatermarks()}.
     */
    public WatermarkStrategy<T> watermarkStrategy() {
        return config.isPravegaWatermarks() ? new PravegaWatermarkStrategy<>() : WatermarkStrategy.noWatermarks();
    }

    @Override
    public Boundedness getBoundedness() {
        return config.isBounded() ? Boundedness.BOUNDED : Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SourceReader<T, PravegaSplit> createReader(SourceReaderContext context) throws Exception {
        deserializationSchema.open(new DeserializationSchema.InitializationContext() {
            @Override
            public MetricGroup getMetricGroup() {
                return context.metricGroup().addGroup("deserializer");
            }

            @Override
            public UserCodeClassLoader getUserCodeClassLoader() {
                return context.getUserCodeClassLoader();
            }
        });
        return new PravegaSourceReader<>(context, config, deserializationSchema);
    }

    @Override
    public SplitEnumerator<PravegaSplit, PravegaEnumeratorState> createEnumerator(
            SplitEnumeratorContext<PravegaSplit> context) {
        return new PravegaSplitEnumerator(context, config, null);
    }

    @Override
    public SplitEnumerator<PravegaSplit, PravegaEnumeratorState> restoreEnumerator(
            SplitEnumeratorContext<PravegaSplit> context, PravegaEnumeratorState checkpoint) {
        return new PravegaSplitEnumerator(context, config, checkpoint);
    }

    @Override
    public SimpleVersionedSerializer<PravegaSplit> getSplitSerializer() {
        return PravegaSplitSerializer.INSTANCE;
    }

    @Override
    public SimpleVersionedSerializer<PravegaEnumeratorState> getEnumeratorCheckpointSerializer() {
        return new PravegaEnumeratorStateSerializer();
    }

    @Override
    public TypeInformation<T> getProducedType() {
        return deserializationSchema.getProducedType();
    }
}
