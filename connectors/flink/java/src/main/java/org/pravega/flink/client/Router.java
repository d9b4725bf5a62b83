package org.pravega.flink.client;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;

import org.apache.flink.annotation.Internal;

/** Picks the segment for a key position: the one whose range {@code [min, max)} holds it. */
@Internal
final class Router {
    private final TreeMap<Double, SegmentWithRange> byMax = new TreeMap<>();

    Router(Collection<SegmentWithRange> segments) {
        for (SegmentWithRange s : segments) {
            byMax.put(s.getMaxKey(), s);
        }
        if (byMax.isEmpty()) {
            throw new IllegalArgumentException("no segments to route to");
        }
    }

    static double position(String routingKey) {
        return routingKey == null ? ThreadLocalRandom.current().nextDouble() : RoutingHash.position(routingKey);
    }

    Segment route(double position) {
        Map.Entry<Double, SegmentWithRange> e = byMax.higherEntry(position);
        if (e == null) {
            e = byMax.lastEntry(); // position 1.0 or rounding at the top
        }
        return e.getValue().getSegment();
    }

    boolean contains(Segment segment) {
        for (SegmentWithRange s : byMax.values()) {
            if (s.getSegment().equals(segment)) {
                return true;
            }
        }
        return false;
    }
}
