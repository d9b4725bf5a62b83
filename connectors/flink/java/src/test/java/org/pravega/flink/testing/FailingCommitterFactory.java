package org.pravega.flink.testing;

import java.io.File;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

import org.apache.flink.api.connector.sink2.Committer;
import org.pravega.flink.sink.internal.CommitterFactory;
import org.pravega.flink.sink.internal.PravegaCommittable;
import org.pravega.flink.sink.internal.PravegaCommitter;
import org.pravega.flink.sink.internal.PravegaSinkConfig;
import org.pravega.flink.sink.internal.TransactionListener;

/**
 * Wraps the real committer with one that misbehaves on its first commit calls, following a plan
 * consumed one step per call across restarts (markers in a directory):
 *
 * <ul>
 *   <li>{@code retry}: asks Flink to retry every request, committing nothing (a transient error);</li>
 *   <li>{@code before}: fails before committing;</li>
 *   <li>{@code after}: commits, then fails (the restored committer meets committed transactions).</li>
 * </ul>
 */
public final class FailingCommitterFactory implements CommitterFactory {
    private static final long serialVersionUID = 1L;
    private final List<String> plan;
    private final String markerDir;
    private final EventLog log;

    public FailingCommitterFactory(String plan, String markerDir, String logPath) {
        this.plan = Arrays.asList(plan.split(","));
        this.markerDir = markerDir;
        this.log = new EventLog(logPath);
    }

    @Override
    public Committer<PravegaCommittable> create(PravegaSinkConfig config, TransactionListener listener) {
        return new FailingCommitter(new PravegaCommitter(config, listener), listener);
    }

    /** The next step of the plan, or null once it is used up. */
    private String nextStep() {
        for (int i = 0; i < plan.size(); i++) {
            if (new OnceMarker(new File(markerDir, "commit-step-" + i).getPath()).claim()) {
                return plan.get(i).trim();
            }
        }
        return null;
    }

    private final class FailingCommitter implements Committer<PravegaCommittable> {
        private final PravegaCommitter delegate;
        private final TransactionListener listener;

        FailingCommitter(PravegaCommitter delegate, TransactionListener listener) {
            this.delegate = delegate;
            this.listener = listener;
        }

        @Override
        public void commit(Collection<CommitRequest<PravegaCommittable>> requests) {
            if (requests.isEmpty()) {
                return;
            }
            String step = nextStep();
            if ("retry".equals(step)) {
                for (CommitRequest<PravegaCommittable> r : requests) {
                    listener.retrying(r.getCommittable().getTxnId());
                    r.retryLater();
                }
                return;
            }
            if ("before".equals(step)) {
                log.write("injected-failure committer before");
                throw new IllegalStateException("injected committer failure before committing");
            }
            delegate.commit(requests);
            if ("after".equals(step)) {
                log.write("injected-failure committer after");
                throw new IllegalStateException("injected committer failure after committing");
            }
        }

        @Override
        public void close() throws Exception {
            delegate.close();
        }
    }
}
