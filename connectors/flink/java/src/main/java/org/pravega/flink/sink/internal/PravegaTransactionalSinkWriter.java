package org.pravega.flink.sink.internal;

import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.pravega.flink.client.ControllerClient;
import org.pravega.flink.client.PravegaException;
import org.pravega.flink.client.Transaction;
import org.pravega.flink.client.TxnFailedException;
import org.pravega.flink.client.TxnId;
import org.pravega.flink.sink.RoutingKeyExtractor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code EXACTLY_ONCE}: one Pravega transaction per checkpoint and subtask.
 *
 * <p>Events go into the open transaction. At a checkpoint barrier Flink calls {@link #flush}, which
 * waits until the transaction's events are durable in its segments, then {@link #prepareCommit},
 * which hands the transaction to the committer (it commits once the checkpoint is complete) and
 * opens the next one straight away; {@link #snapshotState} then records that new transaction. A
 * checkpoint with no events hands over nothing and keeps the transaction open.
 *
 * <p><b>Orphans.</b> The writer state of checkpoint {@code k} names the transaction opened right
 * after {@code k}'s pre-commit. It was not handed to any committer as of {@code k}, so after a
 * restore from {@code k} nobody will commit it, and the restored writer aborts it. That covers the
 * usual failure: the transaction open when the job failed, and the one handed over for checkpoint
 * {@code k + 1} if that checkpoint never completed. {@link #close()} (failure or cancel) also aborts
 * the open transaction, never the handed-over ones (their checkpoint may still complete). What
 * neither reaches — a transaction handed over for a checkpoint that never completed when there is
 * no earlier completed checkpoint, or when several checkpoints in a row fail — is pinged by
 * nobody once the writer is gone, and the controller aborts it when its lease runs out. It is
 * never committed, so readers never see it. (Pravega's transaction ids are chosen by the
 * controller, so Kafka's trick of probing deterministic transactional ids is not available.)
 *
 * <p><b>Watermarks.</b> With {@code enableWatermark} each committable carries the input watermark
 * at its pre-commit; the committer notes it after the commit, with the segments' lengths then as
 * the position (every event of the transaction lies before them; every later event of this writer
 * comes after the watermark), as the controller cannot know a transaction's positions before.
 *
 * <p><b>Leases.</b> A {@link TransactionKeeper} pings the open transaction and the handed-over ones
 * until they are committed, so only the time without any writer (restart) counts against the lease.
 */
@Internal
public final class PravegaTransactionalSinkWriter<T> extends PravegaSinkWriterBase<T> {
    private static final Logger LOG = LoggerFactory.getLogger(PravegaTransactionalSinkWriter.class);

    private final TransactionListener listener;
    private final TransactionKeeper keeper;
    private final ScheduledExecutorService linger;
    private volatile Transaction current;
    private boolean endOfInput;
    private boolean wroteAny;

    public PravegaTransactionalSinkWriter(PravegaSinkConfig config, SerializationSchema<T> schema,
                                          RoutingKeyExtractor<T> routingKeys, ControllerClient controller,
                                          WriterInitContext context, TransactionListener listener) {
        super(config, schema, routingKeys, controller, context);
        this.listener = listener;
        this.keeper = new TransactionKeeper(controller, config.getScope(), config.getStream(), config.getTransactionTimeoutMillis(),
                config.getPingIntervalMillis());
        context.metricGroup().gauge("openTransactions", keeper::size);
        this.linger = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pravega-txn-linger-" + config.scopedStream());
            t.setDaemon(true);
            return t;
        });
        linger.scheduleWithFixedDelay(() -> {
            Transaction t = current;
            if (t != null) {
                t.sendPending();
            }
        }, config.getWriter().lingerMillis, config.getWriter().lingerMillis, TimeUnit.MILLISECONDS);
        try {
            begin();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Aborts the transactions a restored writer state names (see the class comment). Runs before
     * the new writer starts; a transaction already committed or aborted is left alone.
     */
    public static void abortOrphans(ControllerClient controller, Collection<PravegaWriterState> states,
                                    TransactionListener listener) {
        for (PravegaWriterState state : states) {
            for (TxnId id : state.getOpenTransactions()) {
                ControllerClient.TxnState before = controller.checkTransactionStateRetrying(
                        state.getScope(), state.getStream(), id);
                String result = "skipped";
                if (before == ControllerClient.TxnState.OPEN) {
                    result = controller.abortTransaction(state.getScope(), state.getStream(), id).name();
                }
                LOG.info("orphaned transaction {} on {}/{} (was {}): abort {}", id, state.getScope(),
                        state.getStream(), before, result);
                listener.orphan(id, before.name(), result);
            }
        }
    }

    private void begin() {
        ControllerClient.CreatedTxn created;
        try {
            created = controller.createTransaction(config.getScope(), config.getStream(), config.getTransactionTimeoutMillis());
        } catch (PravegaException e) {
            throw new PravegaException("cannot begin a transaction on " + config.scopedStream() + " (lease "
                    + config.getTransactionTimeoutMillis() + " ms): " + e.getMessage()
                    + (e.getMessage().contains("lease") ? " — lower the transaction timeout" : ""), e);
        }
        current = new Transaction(controller, config.getScope(), config.getStream(), created, config.getWriter());
        keeper.track(created.id);
        listener.begun(created.id);
    }

    @Override
    protected void send(String routingKey, byte[] event) {
        Transaction t = current;
        if (t == null) {
            throw new IllegalStateException("write after the end of input");
        }
        String failure = keeper.failure(t.getId());
        if (failure != null) {
            throw new TxnFailedException("transaction " + t.getId() + " on " + config.scopedStream()
                    + " cannot be written: " + failure);
        }
        t.write(routingKey, event);
        if (!wroteAny) {
            wroteAny = true;
            listener.firstWrite(t.getId());
        }
    }

    @Override
    public void flush(boolean endOfInput) {
        this.endOfInput |= endOfInput;
        Transaction t = current;
        if (t != null && t.getEventCount() > 0) {
            t.flush();
        }
    }

    @Override
    public Collection<PravegaCommittable> prepareCommit() {
        Transaction t = current;
        if (t == null || t.getEventCount() == 0) {
            return Collections.emptyList(); // nothing to commit: keep the transaction for the next checkpoint
        }
        t.flush();
        PravegaCommittable committable = new PravegaCommittable(config.getScope(), config.getStream(), t.getId(), writerId,
                t.getEventCount(), config.isWatermarks() ? watermark : Long.MIN_VALUE);
        t.close();
        current = null;
        listener.handedOver(t.getId(), t.getEventCount());
        if (!endOfInput) {
            begin();
        }
        return Collections.singletonList(committable);
    }

    @Override
    public List<PravegaWriterState> snapshotState(long checkpointId) {
        Transaction t = current;
        return Collections.singletonList(new PravegaWriterState(config.getScope(), config.getStream(),
                t == null ? Collections.emptyList() : Collections.singletonList(t.getId())));
    }

    @Override
    public void close() {
        linger.shutdownNow();
        keeper.close();
        Transaction t = current;
        current = null;
        try {
            if (t != null) {
                t.close();
                try {
                    ControllerClient.TxnStatus status = controller.abortTransaction(config.getScope(), config.getStream(),
                            t.getId());
                    listener.abortedOnClose(t.getId(), status.name());
                } catch (PravegaException e) {
                    LOG.warn("could not abort transaction {} on close (its lease will expire): {}", t.getId(),
                            e.getMessage());
                }
            }
        } finally {
            controller.close();
        }
    }
}
