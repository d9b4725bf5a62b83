package org.pravega.flink.testing;

import org.pravega.flink.client.TxnId;
import org.pravega.flink.sink.internal.TransactionListener;

/** Records every transaction step of a sink in an {@link EventLog} (kinds the e2e tests check). */
public final class LoggingTransactionListener implements TransactionListener {
    private static final long serialVersionUID = 1L;
    private final EventLog log;

    public LoggingTransactionListener(String path) {
        this.log = new EventLog(path);
    }

    @Override
    public void begun(TxnId txn) {
        log.write("begin " + txn);
    }

    @Override
    public void firstWrite(TxnId txn) {
        log.write("first-write " + txn);
    }

    @Override
    public void handedOver(TxnId txn, long events) {
        log.write("precommit " + txn + " " + events);
    }

    @Override
    public void committed(TxnId txn, long events) {
        log.write("commit " + txn + " " + events);
    }

    @Override
    public void alreadyCommitted(TxnId txn, long events) {
        log.write("already-committed " + txn + " " + events);
    }

    @Override
    public void retrying(TxnId txn) {
        log.write("retry " + txn);
    }

    @Override
    public void lostToAbort(TxnId txn, long events) {
        log.write("aborted " + txn + " " + events);
    }

    @Override
    public void unknown(TxnId txn, long events) {
        log.write("unknown " + txn + " " + events);
    }

    @Override
    public void orphan(TxnId txn, String stateBefore, String result) {
        log.write("orphan " + txn + " " + stateBefore + " " + result);
    }

    @Override
    public void abortedOnClose(TxnId txn, String status) {
        log.write("abort-on-close " + txn + " " + status);
    }
}
