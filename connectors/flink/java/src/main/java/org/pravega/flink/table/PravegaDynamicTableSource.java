package org.pravega.flink.table;

import java.util.List;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.connector.source.SourceProvider;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.pravega.flink.source.PravegaSource;
import org.pravega.flink.source.PravegaSourceBuilder;

/** A scan over Pravega streams: a {@link PravegaSource} whose events the table's format decodes. */
@Internal
final class PravegaDynamicTableSource implements ScanTableSource {
    private final DecodingFormat<DeserializationSchema<RowData>> format;
    private final DataType physicalType;
    private final String controllerUri;
    private final List<String> streams;
    private final List<String> startCuts;
    private final List<String> endCuts;
    private final boolean bounded;
    private final boolean startAtTail;

    PravegaDynamicTableSource(DecodingFormat<DeserializationSchema<RowData>> format, DataType physicalType,
                              String controllerUri, List<String> streams, List<String> startCuts,
                              List<String> endCuts, boolean bounded, boolean startAtTail) {
        this.format = format;
        this.physicalType = physicalType;
        this.controllerUri = controllerUri;
        this.streams = streams;
        this.startCuts = startCuts;
        this.endCuts = endCuts;
        this.bounded = bounded;
        this.startAtTail = startAtTail;
    }

    @Override
    public ChangelogMode getChangelogMode() {
        return format.getChangelogMode();
    }

    @Override
    public ScanRuntimeProvider getScanRuntimeProvider(ScanContext context) {
        DeserializationSchema<RowData> schema = format.createRuntimeDecoder(context, physicalType);
        PravegaSourceBuilder<RowData> b = PravegaSource.<RowData>builder()
                .setControllerUri(controllerUri)
                .setDeserializationSchema(schema)
                .setBounded(bounded)
                .setStartAtTail(startAtTail);
        for (String stream : streams) {
            b.addStream(stream);
        }
        for (String cut : startCuts) {
            b.setStartStreamCut(cut);
        }
        for (String cut : endCuts) {
            b.setEndStreamCut(cut);
        }
        return SourceProvider.of(b.build());
    }

    @Override
    public DynamicTableSource copy() {
        return new PravegaDynamicTableSource(format, physicalType, controllerUri, streams, startCuts, endCuts, bounded,
                startAtTail);
    }

    @Override
    public String asSummaryString() {
        return "Pravega(" + String.join(";", streams) + (bounded ? ", bounded" : "") + ")";
    }
}
