package org.pravega.flink.source;

import java.io.Serializable;

import org.apache.flink.annotation.PublicEvolving;

/**
 * The event time (milliseconds) of an event, taken from its bytes before deserialization; the
 * source hands it to Flink as the record's timestamp. {@link TimestampExtractors} has ready-made
 * ones (usable from PyFlink, which cannot pass Java lambdas).
 */
@PublicEvolving
@FunctionalInterface
public interface TimestampExtractor extends Serializable {
    /** The event's time in ms; {@link Long#MIN_VALUE} if it has none. */
    long extractTimestamp(byte[] event);
}
