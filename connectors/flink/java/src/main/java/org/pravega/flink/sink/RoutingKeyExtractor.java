package org.pravega.flink.sink;

import java.io.Serializable;

import org.apache.flink.annotation.PublicEvolving;

/**
 * Chooses the routing key of each element written by a {@link PravegaSink}. Events with the same
 * key go to the same segment, hashed exactly as other Pravega clients do, and keep their order.
 * Returning null writes the event to a random segment. See {@link RoutingKeyExtractors} for
 * ready-made extractors usable from Python.
 */
@PublicEvolving
@FunctionalInterface
public interface RoutingKeyExtractor<T> extends Serializable {
    /**
     * @param element the element as it entered the sink
     * @param serialized the bytes the serialization schema made of it (what is written)
     */
    String getRoutingKey(T element, byte[] serialized);
}
