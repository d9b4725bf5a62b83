package org.pravega.flink.source.reader;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import org.apache.flink.util.Collector;
import org.pravega.flink.source.split.PravegaSplitState;

/** Deserializes an event, emits it and moves the split's position past it (in the task thread). */
@Internal
final class PravegaRecordEmitter<T> implements RecordEmitter<SegmentRecord, T, PravegaSplitState> {
    private final DeserializationSchema<T> schema;
    private final OutputCollector<T> collector = new OutputCollector<>();

    PravegaRecordEmitter(DeserializationSchema<T> schema) {
        this.schema = schema;
    }

    @Override
    public void emitRecord(SegmentRecord record, SourceOutput<T> output, PravegaSplitState state) throws Exception {
        collector.output = output;
        schema.deserialize(record.payload, collector);
        state.setOffset(record.offsetAfter);
    }

    private static final class OutputCollector<T> implements Collector<T> {
        SourceOutput<T> output;

        @Override
        public void collect(T record) {
            output.collect(record);
        }

        @Override
        public void close() {}
    }
}
