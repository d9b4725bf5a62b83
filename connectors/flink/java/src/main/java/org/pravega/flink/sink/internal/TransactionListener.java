package org.pravega.flink.sink.internal;

import java.io.Serializable;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.client.TxnId;

/**
 * Told about each step of the sink's transactions (begin, hand-over to the committer, commit,
 * abort). The sink takes one at construction ({@code PravegaSinkBuilder#setTransactionListener});
 * the default does nothing. It exists so tests and operators can see the transaction protocol from
 * outside without switches in the data path (the e2e tests record the steps in a file and check
 * that every transaction ends committed once or aborted). Calls come from the writer's and the
 * committer's threads; an implementation must be cheap, thread-safe and never throw.
 */
@Internal
public interface TransactionListener extends Serializable {
    /** Does nothing. */
    TransactionListener NONE = new TransactionListener() {
        private static final long serialVersionUID = 1L;

        private Object readResolve() {
            return NONE;
        }
    };

    /** A writer opened a transaction. */
    default void begun(TxnId txn) {}

    /** The first event of a writer went into a transaction. */
    default void firstWrite(TxnId txn) {}

    /** A writer handed a flushed transaction to the committer at a checkpoint. */
    default void handedOver(TxnId txn, long events) {}

    /** The committer committed a transaction. */
    default void committed(TxnId txn, long events) {}

    /** The committer met a transaction committed before (after a restore). */
    default void alreadyCommitted(TxnId txn, long events) {}

    /** The committer will retry a commit (the controller could not be reached in time). */
    default void retrying(TxnId txn) {}

    /** The committer met a transaction aborted before it could be committed (data loss). */
    default void lostToAbort(TxnId txn, long events) {}

    /** The committer met a transaction the controller does not know. */
    default void unknown(TxnId txn, long events) {}

    /** A restored writer looked at a transaction its state named ({@code result}: the abort's outcome or "skipped"). */
    default void orphan(TxnId txn, String stateBefore, String result) {}

    /** A closing writer aborted its open transaction. */
    default void abortedOnClose(TxnId txn, String status) {}
}
