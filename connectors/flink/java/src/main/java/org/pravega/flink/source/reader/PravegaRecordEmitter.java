package org.pravega.flink.source.reader;

import java.util.List;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import org.apache.flink.util.Collector;
import org.pravega.flink.source.TimestampExtractor;
import org.pravega.flink.source.split.PravegaSplitState;
import org.pravega.flink.source.watermark.MarkFeed;
import org.pravega.flink.source.watermark.MarkRecord;
import org.pravega.flink.source.watermark.SplitWatermarks;

/**
 * Deserializes an event, emits it (with its event time if a {@link TimestampExtractor} is set)
 * and moves the split's position past it, in the task thread. With Pravega watermarks it then
 * emits the split's watermark through the split's own output (Flink takes the minimum over the
 * splits) when it advanced; a tail heartbeat marks the split idle if it has passed the newest
 * watermark record (nothing newer to wait for), so a quiet segment does not hold the others back.
 */
@Internal
final class PravegaRecordEmitter<T> implements RecordEmitter<SegmentRecord, T, PravegaSplitState> {
    private final DeserializationSchema<T> schema;
    private final TimestampExtractor timestamps;
    private final MarkFeed marks;
    private final OutputCollector<T> collector = new OutputCollector<>();

    /** {@code marks} null: no Pravega watermarks. */
    PravegaRecordEmitter(DeserializationSchema<T> schema, TimestampExtractor timestamps, MarkFeed marks) {
        this.schema = schema;
        this.timestamps = timestamps;
        this.marks = marks;
    }

    @Override
    public void emitRecord(SegmentRecord record, SourceOutput<T> output, PravegaSplitState state) throws Exception {
        if (!record.isHeartbeat()) {
            if (state.isIdle()) {
                output.markActive(); // events again: the split counts in the minimum again
                state.setIdle(false);
            }
            collector.output = output;
            collector.timestamp = timestamps == null ? Long.MIN_VALUE : timestamps.extractTimestamp(record.payload);
            schema.deserialize(record.payload, collector);
            state.setOffset(record.offsetAfter);
        }
        if (marks == null) {
            return;
        }
        MarkFeed.StreamMarks stream = state.marksIn(marks);
        List<MarkRecord> records = stream.records();
        SplitWatermarks w = state.getWatermarks();
        boolean advanced = w.update(records, state.getOffset(), stream.started());
        if (advanced) {
            output.emitWatermark(new Watermark(w.current()));
            state.setIdle(false);
        } else if (record.isHeartbeat()) {
            boolean idle = w.passedNewest(records);
            if (idle && !state.isIdle()) {
                output.markIdle();
            } else if (!idle && state.isIdle()) {
                output.markActive();
            }
            state.setIdle(idle);
        }
    }

    private static final class OutputCollector<T> implements Collector<T> {
        SourceOutput<T> output;
        long timestamp;

        @Override
        public void collect(T record) {
            if (timestamp == Long.MIN_VALUE) {
                output.collect(record);
            } else {
                output.collect(record, timestamp);
            }
        }

        @Override
        public void close() {}
    }
}
