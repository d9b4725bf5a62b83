package org.pravega.flink.table;

import java.time.Duration;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;
import org.pravega.flink.sink.PravegaSink;
import org.pravega.flink.sink.PravegaSinkBuilder;

/** Writes rows to a Pravega stream: a {@link PravegaSink} whose events the table's format encodes. */
@Internal
final class PravegaDynamicTableSink implements DynamicTableSink {
    private final EncodingFormat<SerializationSchema<RowData>> format;
    private final DataType physicalType;
    private final String controllerUri;
    private final String stream;
    private final DeliveryGuarantee guarantee;
    private final String routingKeyField;
    private final Duration transactionLease;

    PravegaDynamicTableSink(EncodingFormat<SerializationSchema<RowData>> format, DataType physicalType,
                            String controllerUri, String stream, DeliveryGuarantee guarantee, String routingKeyField,
                            Duration transactionLease) {
        this.format = format;
        this.physicalType = physicalType;
        this.controllerUri = controllerUri;
        this.stream = stream;
        this.guarantee = guarantee;
        this.routingKeyField = routingKeyField;
        this.transactionLease = transactionLease;
    }

    @Override
    public ChangelogMode getChangelogMode(ChangelogMode requestedMode) {
        return format.getChangelogMode();
    }

    @Override
    public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
        SerializationSchema<RowData> schema = format.createRuntimeEncoder(context, physicalType);
        PravegaSinkBuilder<RowData> b = PravegaSink.<RowData>builder()
                .setControllerUri(controllerUri)
                .setStream(stream)
                .setSerializationSchema(schema)
                .setDeliveryGuarantee(guarantee)
                .setTransactionTimeoutMillis(transactionLease.toMillis());
        if (routingKeyField != null) {
            RowType row = (RowType) physicalType.getLogicalType();
            int index = row.getFieldIndex(routingKeyField);
            b.setRoutingKeyExtractor(new RowFieldRoutingKey(RowData.createFieldGetter(row.getTypeAt(index), index)));
        }
        return SinkV2Provider.of(b.build());
    }

    @Override
    public DynamicTableSink copy() {
        return new PravegaDynamicTableSink(format, physicalType, controllerUri, stream, guarantee, routingKeyField,
                transactionLease);
    }

    @Override
    public String asSummaryString() {
        return "Pravega(" + stream + ", " + guarantee + ")";
    }
}
