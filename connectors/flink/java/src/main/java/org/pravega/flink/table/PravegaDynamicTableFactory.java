package org.pravega.flink.table;

import static org.pravega.flink.table.PravegaTableOptions.CONTROLLER_URI;
import static org.pravega.flink.table.PravegaTableOptions.SCAN_BOUNDED;
import static org.pravega.flink.table.PravegaTableOptions.SCAN_END_STREAMCUTS;
import static org.pravega.flink.table.PravegaTableOptions.SCAN_START_AT_TAIL;
import static org.pravega.flink.table.PravegaTableOptions.SCAN_START_STREAMCUTS;
import static org.pravega.flink.table.PravegaTableOptions.SCAN_STREAMS;
import static org.pravega.flink.table.PravegaTableOptions.SCOPE;
import static org.pravega.flink.table.PravegaTableOptions.SINK_DELIVERY_GUARANTEE;
import static org.pravega.flink.table.PravegaTableOptions.SINK_ROUTING_KEY_FIELD;
import static org.pravega.flink.table.PravegaTableOptions.SINK_TRANSACTION_LEASE;
import static org.pravega.flink.table.PravegaTableOptions.STREAM;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.SerializationFormatFactory;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;
import org.pravega.flink.util.ConnectorBuilder;

/**
 * {@code 'connector' = 'pravega'}: Pravega streams as tables, in SQL and the Table API. Rows are
 * encoded and decoded by one of Flink's formats ({@code 'format' = 'json' | 'csv' | 'raw' | ...});
 * the runtime is the connector's {@code PravegaSource} and {@code PravegaSink}. Options: see
 * {@link PravegaTableOptions}.
 */
@Internal
public final class PravegaDynamicTableFactory implements DynamicTableSourceFactory, DynamicTableSinkFactory {
    public static final String IDENTIFIER = "pravega";

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return new HashSet<>(Arrays.asList(CONTROLLER_URI, FactoryUtil.FORMAT));
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return new HashSet<>(Arrays.asList(SCOPE, STREAM, SCAN_STREAMS, SCAN_START_STREAMCUTS, SCAN_END_STREAMCUTS,
                SCAN_BOUNDED, SCAN_START_AT_TAIL, SINK_DELIVERY_GUARANTEE, SINK_ROUTING_KEY_FIELD,
                SINK_TRANSACTION_LEASE));
    }

    @Override
    public DynamicTableSource createDynamicTableSource(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        DecodingFormat<DeserializationSchema<RowData>> format =
                helper.discoverDecodingFormat(DeserializationFormatFactory.class, FactoryUtil.FORMAT);
        helper.validate();
        ReadableConfig options = helper.getOptions();
        List<String> streams = new ArrayList<>();
        List<String> named = options.getOptional(SCAN_STREAMS)
                .orElse(options.getOptional(STREAM).map(Collections::singletonList).orElse(Collections.emptyList()));
        for (String stream : named) {
            streams.add(scoped(options, stream, SCAN_STREAMS.key()));
        }
        if (streams.isEmpty()) {
            throw new ValidationException("a Pravega table source needs '" + SCAN_STREAMS.key() + "' or '"
                    + STREAM.key() + "' (streams as 'stream' with '" + SCOPE.key() + "', or 'scope/stream')");
        }
        return new PravegaDynamicTableSource(format, context.getPhysicalRowDataType(), options.get(CONTROLLER_URI),
                streams, options.getOptional(SCAN_START_STREAMCUTS).orElse(Collections.emptyList()),
                options.getOptional(SCAN_END_STREAMCUTS).orElse(Collections.emptyList()), options.get(SCAN_BOUNDED),
                options.get(SCAN_START_AT_TAIL));
    }

    @Override
    public DynamicTableSink createDynamicTableSink(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        EncodingFormat<SerializationSchema<RowData>> format =
                helper.discoverEncodingFormat(SerializationFormatFactory.class, FactoryUtil.FORMAT);
        helper.validate();
        ReadableConfig options = helper.getOptions();
        String stream = options.getOptional(STREAM).orElseThrow(() -> new ValidationException(
                "a Pravega table sink needs '" + STREAM.key() + "' (the stream to write)"));
        DataType physical = context.getPhysicalRowDataType();
        String keyField = options.getOptional(SINK_ROUTING_KEY_FIELD).orElse(null);
        if (keyField != null) {
            List<String> columns = ((RowType) physical.getLogicalType()).getFieldNames();
            if (!columns.contains(keyField)) {
                throw new ValidationException("'" + SINK_ROUTING_KEY_FIELD.key() + "' names '" + keyField
                        + "', which is not a physical column of the table (columns: " + columns + ")");
            }
        }
        return new PravegaDynamicTableSink(format, physical, options.get(CONTROLLER_URI),
                scoped(options, stream, STREAM.key()), options.get(SINK_DELIVERY_GUARANTEE), keyField,
                options.get(SINK_TRANSACTION_LEASE));
    }

    /** {@code "scope/stream"}, or {@code "stream"} completed with the {@code scope} option. */
    private static String scoped(ReadableConfig options, String stream, String option) {
        String name = stream.trim();
        if (name.contains("/")) {
            try {
                ConnectorBuilder.splitScopedStream(name);
            } catch (IllegalArgumentException e) {
                throw new ValidationException("'" + option + "': " + e.getMessage());
            }
            return name;
        }
        String scope = options.getOptional(SCOPE).orElseThrow(() -> new ValidationException("'" + option
                + "' names '" + name + "' without a scope: set '" + SCOPE.key() + "' or write 'scope/" + name + "'"));
        return scope + "/" + name;
    }
}
