package org.pravega.flink.source;

import org.apache.flink.api.common.eventtime.RecordTimestampAssigner;
import org.apache.flink.api.common.eventtime.TimestampAssigner;
import org.apache.flink.api.common.eventtime.TimestampAssignerSupplier;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkGeneratorSupplier;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.annotation.PublicEvolving;

/**
 * The watermark strategy for a {@link PravegaSource} built with {@code withPravegaWatermarks()}:
 * it generates no watermarks of its own, so the watermarks Flink sees are the ones the source
 * emits per split from the stream's Pravega watermarks; records keep the timestamp the source gave
 * them (its {@link TimestampExtractor}) unless a timestamp assigner is set with
 * {@link #withTimestampAssigner}.
 */
@PublicEvolving
public final class PravegaWatermarkStrategy<T> implements WatermarkStrategy<T> {
    private static final long serialVersionUID = 1L;

    @Override
    public WatermarkGenerator<T> createWatermarkGenerator(WatermarkGeneratorSupplier.Context context) {
        return new SourceEmitted<>();
    }

    @Override
    public TimestampAssigner<T> createTimestampAssigner(TimestampAssignerSupplier.Context context) {
        return new RecordTimestampAssigner<>();
    }

    /** Emits nothing: the source's per-split watermarks pass through Flink's per-split minimum. */
    private static final class SourceEmitted<T> implements WatermarkGenerator<T> {
        @Override
        public void onEvent(T event, long eventTimestamp, WatermarkOutput output) {}

        @Override
        public void onPeriodicEmit(WatermarkOutput output) {}
    }
}
