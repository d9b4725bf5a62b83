package org.pravega.flink.sink.internal;

import java.io.Serializable;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.connector.sink2.Committer;

/**
 * Makes the sink's committer. The default is {@link PravegaCommitter}; the seam lets a test wrap
 * the real committer with one that fails from outside the connector (as flink-connector-kafka's
 * committer factory does), so no failure switch lives in the committer itself.
 */
@Internal
@FunctionalInterface
public interface CommitterFactory extends Serializable {
    CommitterFactory DEFAULT = PravegaCommitter::new;

    Committer<PravegaCommittable> create(PravegaSinkConfig config, TransactionListener listener);
}
