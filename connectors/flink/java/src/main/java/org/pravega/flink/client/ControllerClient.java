package org.pravega.flink.client;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import org.apache.flink.annotation.Internal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller RPCs the connector needs (spec §1), over {@link GrpcTransport} with messages
 * encoded by {@link Proto}. Retriable failures are retried with exponential backoff until
 * {@code retryBudgetMillis} has passed; then the last {@link RetriableException} is thrown.
 */
@Internal
public final class ControllerClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ControllerClient.class);
    private static final String SERVICE_NAME = "controller";

    /** {@code TxnState.State}. */
    public enum TxnState { UNKNOWN, OPEN, COMMITTING, COMMITTED, ABORTING, ABORTED }

    /** {@code PingTxnStatus.Status}. */
    public enum PingStatus {
        OK, LEASE_TOO_LARGE, MAX_EXECUTION_TIME_EXCEEDED, SCALE_GRACE_TIME_EXCEEDED, DISCONNECTED, COMMITTED,
        ABORTED, UNKNOWN
    }

    /** {@code TxnStatus.Status}. */
    public enum TxnStatus { SUCCESS, FAILURE, STREAM_NOT_FOUND, TRANSACTION_NOT_FOUND }

    /** A created transaction and the parent segments it spans. */
    public static final class CreatedTxn {
        public final TxnId id;
        public final List<SegmentWithRange> segments;

        CreatedTxn(TxnId id, List<SegmentWithRange> segments) {
            this.id = id;
            this.segments = segments;
        }
    }

    private final Endpoint endpoint;
    private final ClientSecurity security;
    private final GrpcTransport transport;
    /** "scope/stream" -> delegation token and the time (ms) to fetch a new one. */
    private final Map<String, Object[]> tokens = new ConcurrentHashMap<>();
    private final long callTimeoutMillis;
    private final long retryBudgetMillis;
    private final Map<Segment, Endpoint> uriCache = new ConcurrentHashMap<>();

    public ControllerClient(String controllerUri) {
        this(controllerUri, 30_000, 60_000);
    }

    public ControllerClient(String controllerUri, long callTimeoutMillis, long retryBudgetMillis) {
        this.endpoint = Endpoint.parseControllerUri(controllerUri);
        this.security = ClientSecurity.fromUri(controllerUri);
        this.transport = new GrpcTransport(endpoint, security);
        this.callTimeoutMillis = callTimeoutMillis;
        this.retryBudgetMillis = retryBudgetMillis;
    }

    public Endpoint getEndpoint() {
        return endpoint;
    }

    /** TLS and credentials of this client's connections (from the controller URI). */
    public ClientSecurity getSecurity() {
        return security;
    }

    /**
     * The delegation token for commands on {@code segment} ("scope/stream/..."): "" without
     * credentials; otherwise from {@code getDelegationToken}, cached until a quarter of its
     * lifetime (at most 30 s) before its {@code exp}.
     */
    public String tokenFor(String segment) {
        if (!security.hasCredentials()) {
            return "";
        }
        String[] parts = segment.split("/");
        if (parts.length < 3) {
            return "";
        }
        String key = parts[0] + "/" + parts[1];
        Object[] cached = tokens.get(key);
        long now = System.currentTimeMillis();
        if (cached != null && (Long) cached[1] > now) {
            return (String) cached[0];
        }
        byte[] reply = call("getDelegationToken", streamInfo(parts[0], parts[1]));
        Proto.Reader r = new Proto.Reader(reply);
        String token = "";
        while (r.next()) {
            if (r.field() == 1) {
                token = r.string();
            } else {
                r.skip();
            }
        }
        long expires = expiryMillis(token, now);
        long margin = Math.min(30_000, Math.max(0, expires - now) / 4);
        tokens.put(key, new Object[] {token, expires - margin});
        return token;
    }

    /** Forgets the cached token of {@code segment}'s stream (after the server said it expired). */
    public void forgetToken(String segment) {
        String[] parts = segment.split("/");
        if (parts.length >= 2) {
            tokens.remove(parts[0] + "/" + parts[1]);
        }
    }

    private static final java.util.regex.Pattern EXP = java.util.regex.Pattern.compile("\"exp\"\\s*:\\s*(\\d+)");

    /** The {@code exp} claim of a JWT in milliseconds (not verified: the server does that). */
    static long expiryMillis(String token, long now) {
        String[] parts = token.split("\\.");
        if (parts.length == 3) {
            try {
                String payload = new String(java.util.Base64.getUrlDecoder().decode(parts[1]),
                        java.nio.charset.StandardCharsets.UTF_8);
                java.util.regex.Matcher m = EXP.matcher(payload);
                if (m.find()) {
                    return Long.parseLong(m.group(1)) * 1000;
                }
            } catch (IllegalArgumentException e) {
                // not a JWT we can read: keep it briefly
            }
        }
        return now + 60_000;
    }

    // -- message helpers ----------------------------------------------------------------------

    private static Proto.Writer streamInfo(String scope, String stream) {
        return new Proto.Writer().string(1, scope).string(2, stream);
    }

    private static Proto.Writer segmentId(Segment s) {
        return new Proto.Writer().message(1, streamInfo(s.getScope(), s.getStream())).int64(2, s.getSegmentId());
    }

    private static Proto.Writer txnId(TxnId id) {
        return new Proto.Writer().int64(1, id.getHigh()).int64(2, id.getLow());
    }

    /** Reads a {@code SegmentId} message. */
    private static Segment readSegmentId(Proto.Reader r) {
        String scope = "";
        String stream = "";
        long id = 0;
        while (r.next()) {
            if (r.field() == 1) {
                Proto.Reader info = r.message();
                while (info.next()) {
                    if (info.field() == 1) {
                        scope = info.string();
                    } else if (info.field() == 2) {
                        stream = info.string();
                    } else {
                        info.skip();
                    }
                }
            } else if (r.field() == 2) {
                id = r.int64();
            } else {
                r.skip();
            }
        }
        return new Segment(scope, stream, id);
    }

    /** Reads a {@code SegmentRange} message. */
    private static SegmentWithRange readSegmentRange(Proto.Reader r) {
        Segment seg = null;
        double min = 0;
        double max = 0;
        while (r.next()) {
            switch (r.field()) {
                case 1:
                    seg = readSegmentId(r.message());
                    break;
                case 2:
                    min = r.doubleValue();
                    break;
                case 3:
                    max = r.doubleValue();
                    break;
                default:
                    r.skip();
            }
        }
        if (seg == null) {
            throw new ProtocolException("SegmentRange without a segmentId");
        }
        return new SegmentWithRange(seg, min, max);
    }

    private static List<SegmentWithRange> readSegmentRanges(byte[] reply, int field) {
        List<SegmentWithRange> out = new ArrayList<>();
        Proto.Reader r = new Proto.Reader(reply);
        while (r.next()) {
            if (r.field() == field) {
                out.add(readSegmentRange(r.message()));
            } else {
                r.skip();
            }
        }
        return out;
    }

    private static int readEnum(byte[] reply) {
        Proto.Reader r = new Proto.Reader(reply);
        int value = 0;
        while (r.next()) {
            if (r.field() == 1) {
                value = r.int32();
            } else {
                r.skip();
            }
        }
        return value;
    }

    private static <E extends Enum<E>> E enumValue(E[] values, int v, E fallback) {
        return v >= 0 && v < values.length ? values[v] : fallback;
    }

    // -- retries ------------------------------------------------------------------------------

    private <T> T retrying(String what, Supplier<T> call) {
        long deadline = System.currentTimeMillis() + retryBudgetMillis;
        long backoff = 50;
        while (true) {
            try {
                return call.get();
            } catch (RetriableException e) {
                long now = System.currentTimeMillis();
                if (now + backoff > deadline) {
                    throw new RetriableException(what + " on " + SERVICE_NAME + " " + endpoint
                            + " kept failing for " + retryBudgetMillis + " ms: " + e.getMessage(), e);
                }
                LOG.debug("{} failed ({}); retrying in {} ms", what, e.getMessage(), backoff);
                sleep(backoff);
                backoff = Math.min(backoff * 2, 2_000);
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RetriableException("interrupted", e);
        }
    }

    private byte[] call(String rpc, Proto.Writer request) {
        byte[] body = request.toByteArray();
        return retrying(rpc, () -> transport.call(rpc, body, callTimeoutMillis));
    }

    /** One attempt, no retries: for callers that handle transient failures themselves. */
    private byte[] callOnce(String rpc, Proto.Writer request) {
        return transport.call(rpc, request.toByteArray(), callTimeoutMillis);
    }

    // -- streams and segments -----------------------------------------------------------------

    public boolean streamExists(String scope, String stream) {
        byte[] reply = call("checkStreamExists", streamInfo(scope, stream));
        Proto.Reader r = new Proto.Reader(reply);
        boolean exists = false;
        while (r.next()) {
            if (r.field() == 1) {
                exists = r.bool();
            } else {
                r.skip();
            }
        }
        return exists;
    }

    /** The active segments; empty if the stream is sealed. */
    public List<SegmentWithRange> getCurrentSegments(String scope, String stream) {
        return readSegmentRanges(call("getCurrentSegments", streamInfo(scope, stream)), 1);
    }

    public List<SegmentWithRange> getEpochSegments(String scope, String stream, int epoch) {
        return readSegmentRanges(call("getEpochSegments",
                new Proto.Writer().message(1, streamInfo(scope, stream)).int64(2, epoch)), 1);
    }

    /** The head of the stream: each first segment with its first readable offset. */
    public Map<Segment, Long> getSegmentsAtHead(String scope, String stream) {
        byte[] reply = call("getSegments", new Proto.Writer().message(1, streamInfo(scope, stream)).int64(2, 0));
        Map<Segment, Long> out = new LinkedHashMap<>();
        Proto.Reader r = new Proto.Reader(reply);
        while (r.next()) {
            if (r.field() == 1) {
                Proto.Reader loc = r.message();
                Segment seg = null;
                long offset = 0;
                while (loc.next()) {
                    if (loc.field() == 1) {
                        seg = readSegmentId(loc.message());
                    } else if (loc.field() == 2) {
                        offset = loc.int64();
                    } else {
                        loc.skip();
                    }
                }
                if (seg != null) {
                    out.put(seg, offset);
                }
            } else {
                r.skip();
            }
        }
        return out;
    }

    /**
     * The segments that follow {@code segment} after a scale, each with the ids of all its
     * predecessors. Empty if the segment is not sealed or the stream ended there.
     */
    public Map<SegmentWithRange, List<Long>> getSuccessors(Segment segment) {
        byte[] reply = call("getSegmentsImmediatelyFollowing", segmentId(segment));
        Map<SegmentWithRange, List<Long>> out = new LinkedHashMap<>();
        Proto.Reader r = new Proto.Reader(reply);
        while (r.next()) {
            if (r.field() == 1) {
                Proto.Reader entry = r.message();
                SegmentWithRange successor = null;
                List<Long> predecessors = new ArrayList<>();
                while (entry.next()) {
                    if (entry.field() == 1) {
                        successor = readSegmentRange(entry.message());
                    } else if (entry.field() == 2) {
                        entry.repeatedInt64(predecessors);
                    } else {
                        entry.skip();
                    }
                }
                if (successor != null) {
                    out.put(successor, predecessors);
                }
            } else {
                r.skip();
            }
        }
        return out;
    }

    /** The segment store that owns {@code segment} (cached until {@link #invalidate}). */
    public Endpoint getEndpoint(Segment segment) {
        Endpoint cached = uriCache.get(segment);
        if (cached != null) {
            return cached;
        }
        byte[] reply = call("getURI", segmentId(segment));
        Proto.Reader r = new Proto.Reader(reply);
        String host = "";
        int port = 0;
        while (r.next()) {
            if (r.field() == 1) {
                host = r.string();
            } else if (r.field() == 2) {
                port = r.int32();
            } else {
                r.skip();
            }
        }
        if (host.isEmpty() || port <= 0) {
            throw new ProtocolException("getURI returned no endpoint for " + segment);
        }
        Endpoint ep = new Endpoint(host, port);
        uriCache.put(segment, ep);
        return ep;
    }

    public void invalidate(Segment segment) {
        uriCache.remove(segment);
    }

    // -- transactions -------------------------------------------------------------------------

    public CreatedTxn createTransaction(String scope, String stream, long leaseMillis) {
        byte[] reply = call("createTransaction",
                new Proto.Writer().message(1, streamInfo(scope, stream)).int64(2, leaseMillis));
        Proto.Reader r = new Proto.Reader(reply);
        long high = 0;
        long low = 0;
        boolean haveId = false;
        List<SegmentWithRange> segments = new ArrayList<>();
        while (r.next()) {
            if (r.field() == 1) {
                Proto.Reader id = r.message();
                haveId = true;
                while (id.next()) {
                    if (id.field() == 1) {
                        high = id.int64();
                    } else if (id.field() == 2) {
                        low = id.int64();
                    } else {
                        id.skip();
                    }
                }
            } else if (r.field() == 2) {
                segments.add(readSegmentRange(r.message()));
            } else {
                r.skip();
            }
        }
        if (!haveId || segments.isEmpty()) {
            throw new ProtocolException("createTransaction returned no transaction id or no segments");
        }
        return new CreatedTxn(new TxnId(high, low), segments);
    }

    private static Proto.Writer txnRequest(String scope, String stream, TxnId id, String writerId, long timestamp) {
        return new Proto.Writer().message(1, streamInfo(scope, stream)).message(2, txnId(id))
                .string(3, writerId).int64(4, timestamp);
    }

    /** Commits; no retries here (the committer decides), transport failures are retriable. */
    public TxnStatus commitTransaction(String scope, String stream, TxnId id, String writerId, long timestamp) {
        int v = readEnum(callOnce("commitTransaction", txnRequest(scope, stream, id, writerId, timestamp)));
        return enumValue(TxnStatus.values(), v, TxnStatus.FAILURE);
    }

    public TxnStatus abortTransaction(String scope, String stream, TxnId id) {
        int v = readEnum(call("abortTransaction", txnRequest(scope, stream, id, "", 0)));
        return enumValue(TxnStatus.values(), v, TxnStatus.FAILURE);
    }

    public PingStatus pingTransaction(String scope, String stream, TxnId id, long leaseMillis) {
        int v = readEnum(callOnce("pingTransaction",
                new Proto.Writer().message(1, streamInfo(scope, stream)).message(2, txnId(id)).int64(3, leaseMillis)));
        return enumValue(PingStatus.values(), v, PingStatus.UNKNOWN);
    }

    /** One attempt (the committer sorts transient failures itself). */
    public TxnState checkTransactionState(String scope, String stream, TxnId id) {
        int v = readEnum(callOnce("checkTransactionState", txnRequest(scope, stream, id, "", 0)));
        return enumValue(TxnState.values(), v, TxnState.UNKNOWN);
    }

    public TxnState checkTransactionStateRetrying(String scope, String stream, TxnId id) {
        int v = readEnum(call("checkTransactionState", txnRequest(scope, stream, id, "", 0)));
        return enumValue(TxnState.values(), v, TxnState.UNKNOWN);
    }

    /** What the controller answers to {@link #noteTimestamp}. */
    public enum NoteStatus { SUCCESS, INVALID_TIME, INVALID_POSITION, INTERNAL_ERROR }

    /**
     * Tells the controller that every event {@code writerId} writes from now on has a time at or
     * after {@code timestampMillis}, and that its events so far end at {@code position} (segment id
     * to offset) — input for the stream's watermarks ({@code noteTimestampFromWriter}). A time
     * older than the writer's previous one is answered with {@code INVALID_TIME}.
     */
    public NoteStatus noteTimestamp(String scope, String stream, String writerId, long timestampMillis,
                                    Map<Long, Long> position) {
        Proto.Writer cut = new Proto.Writer().message(1, streamInfo(scope, stream));
        for (Map.Entry<Long, Long> e : position.entrySet()) {
            cut.mapEntry(2, e.getKey(), e.getValue());
        }
        Proto.Writer request = new Proto.Writer().string(1, writerId).message(2, cut).int64(3, timestampMillis);
        int v = readEnum(call("noteTimestampFromWriter", request));
        return enumValue(NoteStatus.values(), v, NoteStatus.INTERNAL_ERROR);
    }

    @Override
    public void close() {
        transport.close();
    }
}
