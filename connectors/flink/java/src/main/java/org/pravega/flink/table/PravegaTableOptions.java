package org.pravega.flink.table;

import java.time.Duration;
import java.util.List;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;

/** The options of the {@code 'connector' = 'pravega'} table connector (Kafka SQL connector style). */
@PublicEvolving
public final class PravegaTableOptions {
    private PravegaTableOptions() {}

    public static final ConfigOption<String> CONTROLLER_URI = ConfigOptions.key("controller-uri")
            .stringType().noDefaultValue()
            .withDescription("The Pravega controller, e.g. tcp://localhost:9090.");

    public static final ConfigOption<String> SCOPE = ConfigOptions.key("scope")
            .stringType().noDefaultValue()
            .withDescription("The scope of stream names given without one.");

    public static final ConfigOption<List<String>> SCAN_STREAMS = ConfigOptions.key("scan.streams")
            .stringType().asList().noDefaultValue()
            .withDescription("Streams to read, separated by ';': 'stream' (in 'scope') or 'scope/stream'."
                    + " Defaults to 'stream'.");

    public static final ConfigOption<String> STREAM = ConfigOptions.key("stream")
            .stringType().noDefaultValue()
            .withDescription("The stream to write ('stream' in 'scope', or 'scope/stream'); also the stream"
                    + " to read when 'scan.streams' is not set.");

    public static final ConfigOption<List<String>> SCAN_START_STREAMCUTS = ConfigOptions.key("scan.start-streamcuts")
            .stringType().asList().noDefaultValue()
            .withDescription("Where to start, one stream cut (text form 'sc1:...') per stream, separated by ';'.");

    public static final ConfigOption<List<String>> SCAN_END_STREAMCUTS = ConfigOptions.key("scan.end-streamcuts")
            .stringType().asList().noDefaultValue()
            .withDescription("Where to stop, one stream cut per stream, separated by ';'.");

    public static final ConfigOption<Boolean> SCAN_BOUNDED = ConfigOptions.key("scan.bounded")
            .booleanType().defaultValue(false)
            .withDescription("Bounded scan: stop at the end cuts, and streams without one at their tail as of"
                    + " the job's start. Otherwise the scan is unbounded (end cuts still stop their streams).");

    public static final ConfigOption<Boolean> SCAN_START_AT_TAIL = ConfigOptions.key("scan.start-at-tail")
            .booleanType().defaultValue(false)
            .withDescription("Streams without a start cut start at their tail (new events only).");

    public static final ConfigOption<DeliveryGuarantee> SINK_DELIVERY_GUARANTEE = ConfigOptions.key("sink.delivery-guarantee")
            .enumType(DeliveryGuarantee.class).defaultValue(DeliveryGuarantee.AT_LEAST_ONCE)
            .withDescription("none, at-least-once, or exactly-once (one Pravega transaction per checkpoint).");

    public static final ConfigOption<String> SINK_ROUTING_KEY_FIELD = ConfigOptions.key("sink.routing-key.field")
            .stringType().noDefaultValue()
            .withDescription("The column whose value is each row's routing key (rows with equal keys keep"
                    + " their order). Without it, rows go to random segments.");

    public static final ConfigOption<Duration> SINK_TRANSACTION_LEASE = ConfigOptions.key("sink.transaction-lease")
            .durationType().defaultValue(Duration.ofMinutes(10))
            .withDescription("Lease of each transaction (exactly-once); it must outlast checkpoint interval plus"
                    + " restart time.");
}
