package org.pravega.flink.table;

import org.apache.flink.annotation.Internal;
import org.apache.flink.table.data.RowData;
import org.pravega.flink.sink.RoutingKeyExtractor;

/** A row's routing key: the text of one of its columns (null when the column is null). */
@Internal
final class RowFieldRoutingKey implements RoutingKeyExtractor<RowData> {
    private static final long serialVersionUID = 1L;
    private final RowData.FieldGetter getter;

    RowFieldRoutingKey(RowData.FieldGetter getter) {
        this.getter = getter;
    }

    @Override
    public String getRoutingKey(RowData row, byte[] serialized) {
        Object value = getter.getFieldOrNull(row);
        return value == null ? null : value.toString();
    }
}
