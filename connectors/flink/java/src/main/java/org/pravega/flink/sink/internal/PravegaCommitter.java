package org.pravega.flink.sink.internal;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.connector.sink2.Committer;
import org.pravega.flink.client.ControllerClient;
import org.pravega.flink.client.ControllerClient.NoteStatus;
import org.pravega.flink.client.ControllerClient.TxnState;
import org.pravega.flink.client.ControllerClient.TxnStatus;
import org.pravega.flink.client.ControllerException;
import org.pravega.flink.client.RetriableException;
import org.pravega.flink.client.SegmentMetadataClient;
import org.pravega.flink.client.SegmentWithRange;
import org.pravega.flink.client.TxnFailedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Commits the transactions of completed checkpoints. Flink hands the same committable again after
 * every restore, so committing is idempotent: the transaction's state decides.
 *
 * <ul>
 *   <li>OPEN: commit it; COMMITTING or COMMITTED: done already ({@code signalAlreadyCommitted});</li>
 *   <li>controller unreachable or timing out: {@code retryLater}. The controller client has
 *       already retried for its retry budget by then; Flink retries the request up to
 *       {@code sink.committer.retries} times and then fails the job over, and the restored
 *       committer gets the committable again;</li>
 *   <li>ABORTING / ABORTED: a known, fatal reason — the transaction's lease ran out between the
 *       checkpoint and the commit and its events are lost; logged loudly with the remedy;</li>
 *   <li>UNKNOWN (the controller does not know it: never existed, or committed so long ago that it
 *       was forgotten) and requests the controller rejects: known reason, logged loudly;</li>
 *   <li>anything else: unknown reason, which fails the job over.</li>
 * </ul>
 */
@Internal
public final class PravegaCommitter implements Committer<PravegaCommittable> {
    private static final Logger LOG = LoggerFactory.getLogger(PravegaCommitter.class);

    private final PravegaSinkConfig config;
    private final TransactionListener listener;
    private ControllerClient controller;
    private SegmentMetadataClient meta;

    public PravegaCommitter(PravegaSinkConfig config, TransactionListener listener) {
        this.config = config;
        this.listener = listener;
    }

    private ControllerClient controller() {
        if (controller == null) {
            controller = new ControllerClient(config.getControllerUri(), config.getWriter().timeoutMillis,
                    config.getWriter().retryBudgetMillis);
        }
        return controller;
    }

    @Override
    public void commit(Collection<CommitRequest<PravegaCommittable>> requests) {
        for (CommitRequest<PravegaCommittable> request : requests) {
            commitOne(request);
        }
    }

    private void commitOne(CommitRequest<PravegaCommittable> request) {
        PravegaCommittable c = request.getCommittable();
        try {
            ControllerClient cc = controller();
            TxnState state = cc.checkTransactionState(c.getScope(), c.getStream(), c.getTxnId());
            switch (state) {
                case OPEN: {
                    TxnStatus status = cc.commitTransaction(c.getScope(), c.getStream(), c.getTxnId(), c.getWriterId(),
                            c.getWatermark());
                    if (status != TxnStatus.SUCCESS) {
                        TxnState after = cc.checkTransactionState(c.getScope(), c.getStream(), c.getTxnId());
                        if (after == TxnState.COMMITTED || after == TxnState.COMMITTING) {
                            break;
                        }
                        if (after == TxnState.OPEN) {
                            throw new RetriableException("commit of " + c + " answered " + status);
                        }
                        aborted(request, c, after);
                        return;
                    }
                    listener.committed(c.getTxnId(), c.getEventCount());
                    LOG.debug("committed {}", c);
                    noteTime(c);
                    break;
                }
                case COMMITTING:
                case COMMITTED:
                    listener.alreadyCommitted(c.getTxnId(), c.getEventCount());
                    LOG.info("{} was committed already", c);
                    request.signalAlreadyCommitted();
                    break;
                case ABORTING:
                case ABORTED:
                    aborted(request, c, state);
                    return;
                default:
                    listener.unknown(c.getTxnId(), c.getEventCount());
                    LOG.error("the controller does not know {}: it never existed, or it was completed so long ago"
                            + " that the controller forgot it (restoring from an old checkpoint?). Its events"
                            + " may be lost.", c);
                    request.signalFailedWithKnownReason(new TxnFailedException(
                            "transaction " + c.getTxnId() + " is unknown to the controller"));
                    return;
            }
        } catch (RetriableException e) {
            LOG.warn("cannot commit {} now ({}); retry {}", c, e.getMessage(), request.getNumberOfRetries() + 1);
            listener.retrying(c.getTxnId());
            request.retryLater();
        } catch (ControllerException e) {
            LOG.error("the controller rejected the commit of {}: {}", c, e.getMessage());
            request.signalFailedWithKnownReason(e);
        } catch (RuntimeException e) {
            request.signalFailedWithUnknownReason(e);
        }
    }

    /**
     * Pravega watermarks ({@code enableWatermark}): the writer's time at the transaction's
     * pre-commit, noted with the stream's current segment lengths as the position — the committed
     * events lie before them, and everything the writer writes later is in later transactions,
     * after the watermark. A failure to note only delays watermarks; it never fails the commit.
     */
    private void noteTime(PravegaCommittable c) {
        if (!config.isWatermarks() || c.getWatermark() == Long.MIN_VALUE) {
            return;
        }
        try {
            ControllerClient cc = controller();
            if (meta == null) {
                meta = new SegmentMetadataClient(cc, config.getWriter().timeoutMillis);
            }
            Map<Long, Long> position = new LinkedHashMap<>();
            for (SegmentWithRange r : cc.getCurrentSegments(c.getScope(), c.getStream())) {
                position.put(r.getSegment().getSegmentId(), meta.info(r.getSegment()).writeOffset);
            }
            NoteStatus status = cc.noteTimestamp(c.getScope(), c.getStream(), c.getWriterId(), c.getWatermark(),
                    position);
            if (status != NoteStatus.SUCCESS && status != NoteStatus.INVALID_TIME) {
                LOG.warn("the controller rejected the time {} of writer {}: {}", c.getWatermark(), c.getWriterId(),
                        status);
            }
        } catch (RuntimeException e) {
            LOG.warn("cannot note the time {} of writer {} after committing {} (watermarks lag until the next"
                    + " commit): {}", c.getWatermark(), c.getWriterId(), c.getTxnId(), e.toString());
        }
    }

    private void aborted(CommitRequest<PravegaCommittable> request, PravegaCommittable c, TxnState state) {
        listener.lostToAbort(c.getTxnId(), c.getEventCount());
        LOG.error("DATA LOSS: {} was {} before it could be committed; its {} events are lost. The most likely cause"
                + " is an expired lease: the time between the checkpoint and the commit (including a restart)"
                + " exceeded the transaction timeout of {} ms. Raise it (setTransactionTimeout).",
                c, state, c.getEventCount(), config.getTransactionTimeoutMillis());
        request.signalFailedWithKnownReason(new TxnFailedException("transaction " + c.getTxnId() + " on "
                + c.getScope() + "/" + c.getStream() + " was " + state + " before it could be committed"));
    }

    @Override
    public void close() {
        if (meta != null) {
            meta.close();
            meta = null;
        }
        if (controller != null) {
            controller.close();
            controller = null;
        }
    }
}
