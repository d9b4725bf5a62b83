package org.pravega.flink.client;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.flink.annotation.Internal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One TCP connection to a segment store: frames out under a lock, a daemon thread decoding frames
 * in. A reply whose request id has a waiting future completes it; any other reply (append
 * acknowledgements and append errors) goes to the {@link Listener}. The connection starts with
 * the Hello exchange; after any I/O or protocol error it is closed for good and every waiter
 * fails with a {@link RetriableException}.
 */
@Internal
public final class WireConnection implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WireConnection.class);
    private static final AtomicLong REQUEST_IDS = new AtomicLong(1);

    /** Receives the replies nobody waits for by request id, and the end of the connection. */
    public interface Listener {
        void onReply(Reply reply);

        void onClosed(Throwable cause);
    }

    private final Endpoint endpoint;
    private final Socket socket;
    private final OutputStream out;
    private final Object writeLock = new Object();
    private final Map<Long, CompletableFuture<Reply>> pending = new ConcurrentHashMap<>();
    private final CompletableFuture<Reply> hello = new CompletableFuture<>();
    private final Listener listener;
    private final Thread readerThread;
    private volatile Throwable failure;

    public static long nextRequestId() {
        return REQUEST_IDS.getAndIncrement();
    }

    /** Connects, exchanges Hello and returns the open connection. */
    public static WireConnection open(Endpoint endpoint, Listener listener, int timeoutMillis) {
        return open(endpoint, listener, timeoutMillis, null);
    }

    /** As {@link #open(Endpoint, Listener, int)}, over TLS when {@code security} says so. */
    public static WireConnection open(Endpoint endpoint, Listener listener, int timeoutMillis,
            ClientSecurity security) {
        Socket socket = new Socket();
        try {
            socket.setTcpNoDelay(true);
            socket.setKeepAlive(true);
            socket.setSendBufferSize(1 << 20);
            socket.setReceiveBufferSize(1 << 20);
            socket.connect(new InetSocketAddress(endpoint.getHost(), endpoint.getPort()), timeoutMillis);
            if (security != null && security.isTls()) {
                socket.setSoTimeout(timeoutMillis); // for the handshake only
                Socket tls = security.wrap(socket, endpoint.getHost(), endpoint.getPort());
                tls.setSoTimeout(0);
                socket = tls;
            }
        } catch (javax.net.ssl.SSLException e) {
            closeQuietly(socket);
            throw new PravegaException("TLS handshake with segment store " + endpoint + " failed: " + e, e);
        } catch (IOException e) {
            closeQuietly(socket);
            throw new RetriableException("cannot connect to segment store " + endpoint + ": " + e, e);
        }
        WireConnection conn;
        try {
            conn = new WireConnection(endpoint, socket, listener);
        } catch (IOException e) {
            closeQuietly(socket);
            throw new RetriableException("cannot open connection to " + endpoint + ": " + e, e);
        }
        try {
            conn.send(WireCommands.hello());
            Reply h = conn.hello.get(timeoutMillis, TimeUnit.MILLISECONDS);
            if (h.lowVersion > WireCommands.WIRE_VERSION || h.highVersion < WireCommands.OLDEST_COMPATIBLE_VERSION) {
                conn.close();
                throw new PravegaException("segment store " + endpoint + " speaks wire versions " + h.lowVersion
                        + ".." + h.highVersion + ", which do not include ours (" + WireCommands.WIRE_VERSION + ")");
            }
        } catch (TimeoutException e) {
            conn.close();
            throw new RetriableException("no Hello from segment store " + endpoint + " within " + timeoutMillis + " ms");
        } catch (InterruptedException e) {
            conn.close();
            Thread.currentThread().interrupt();
            throw new RetriableException("interrupted while connecting to " + endpoint, e);
        } catch (ExecutionException e) {
            conn.close();
            throw new RetriableException("connection to " + endpoint + " failed during Hello: " + e.getCause(),
                    e.getCause());
        }
        return conn;
    }

    private WireConnection(Endpoint endpoint, Socket socket, Listener listener) throws IOException {
        this.endpoint = endpoint;
        this.socket = socket;
        this.out = socket.getOutputStream();
        this.listener = listener;
        DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
        this.readerThread = new Thread(() -> readLoop(in), "pravega-wire-" + endpoint);
        this.readerThread.setDaemon(true);
        this.readerThread.start();
    }

    public Endpoint getEndpoint() {
        return endpoint;
    }

    public boolean isOpen() {
        return failure == null;
    }

    /** Sends a request and returns a future for the reply carrying the same request id. */
    public CompletableFuture<Reply> call(long requestId, byte[] frame) {
        CompletableFuture<Reply> future = new CompletableFuture<>();
        pending.put(requestId, future);
        Throwable f = failure;
        if (f != null) {
            pending.remove(requestId);
            future.completeExceptionally(closedError(f));
            return future;
        }
        try {
            send(frame);
        } catch (RetriableException e) {
            pending.remove(requestId);
            future.completeExceptionally(e);
        }
        return future;
    }

    /** Writes the parts of one frame back to back. */
    public void send(byte[]... parts) {
        Throwable f = failure;
        if (f != null) {
            throw closedError(f);
        }
        synchronized (writeLock) {
            try {
                for (byte[] part : parts) {
                    out.write(part);
                }
                out.flush();
            } catch (IOException e) {
                fail(e);
                throw closedError(e);
            }
        }
    }

    /** Writes {@code header, data[offset, offset+length), trailer} as one frame. */
    public void send(byte[] header, byte[] data, int offset, int length, byte[] trailer) {
        Throwable f = failure;
        if (f != null) {
            throw closedError(f);
        }
        synchronized (writeLock) {
            try {
                out.write(header);
                out.write(data, offset, length);
                out.write(trailer);
                out.flush();
            } catch (IOException e) {
                fail(e);
                throw closedError(e);
            }
        }
    }

    private RetriableException closedError(Throwable cause) {
        return new RetriableException("connection to " + endpoint + " is closed: " + cause, cause);
    }

    private void readLoop(DataInputStream in) {
        try {
            while (true) {
                int type = in.readInt();
                int length = in.readInt();
                if (length < 0 || length > WireCommands.MAX_FRAME - WireCommands.HEADER) {
                    throw new ProtocolException("frame of type " + type + " declares " + length + " bytes");
                }
                byte[] payload = new byte[length];
                in.readFully(payload);
                dispatch(WireCommands.decode(type, payload));
            }
        } catch (Throwable t) {
            fail(t);
        }
    }

    private void dispatch(Reply reply) {
        if (reply.type == WireCommands.HELLO) {
            hello.complete(reply);
            return;
        }
        if (reply.type == WireCommands.KEEP_ALIVE) {
            return;
        }
        CompletableFuture<Reply> waiter = pending.remove(reply.requestId);
        if (waiter != null) {
            waiter.complete(reply);
        } else if (listener != null) {
            listener.onReply(reply);
        } else {
            LOG.debug("{}: unexpected reply {}", endpoint, reply);
        }
    }

    private void fail(Throwable cause) {
        synchronized (this) {
            if (failure != null) {
                return;
            }
            failure = cause;
        }
        closeQuietly(socket);
        RetriableException error = closedError(cause);
        hello.completeExceptionally(error);
        List<CompletableFuture<Reply>> waiters = new ArrayList<>(pending.values());
        pending.clear();
        for (CompletableFuture<Reply> w : waiters) {
            w.completeExceptionally(error);
        }
        if (listener != null) {
            try {
                listener.onClosed(cause);
            } catch (RuntimeException e) {
                LOG.warn("connection listener failed", e);
            }
        }
    }

    @Override
    public void close() {
        fail(new IOException("closed by the client"));
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
