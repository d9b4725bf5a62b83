package org.pravega.flink.client;

import java.io.Serializable;
import java.util.Objects;

import org.apache.flink.annotation.Internal;

/** A host and port: the controller's address or a segment store's. */
@Internal
public final class Endpoint implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String host;
    private final int port;

    public Endpoint(String host, int port) {
        this.host = Objects.requireNonNull(host, "host");
        this.port = port;
    }

    public String getHost() {
        return host;
    }

    public int getPort() {
        return port;
    }

    /**
     * Parses a controller URI: {@code tcp://host:port}, {@code host:port} or {@code pravega://...};
     * only the first of a comma-separated list is used. TLS schemes are refused (not supported).
     */
    public static Endpoint parseControllerUri(String uri) {
        if (uri == null || uri.trim().isEmpty()) {
            throw new IllegalArgumentException("the controller URI is empty");
        }
        String rest = uri.trim();
        int query = rest.indexOf('?');
        if (query >= 0) {
            ClientSecurity.fromUri(rest); // TLS and credential options (see ClientSecurity): checked here
            rest = rest.substring(0, query);
        }
        int scheme = rest.indexOf("://");
        if (scheme >= 0) {
            rest = rest.substring(scheme + 3);
        }
        int comma = rest.indexOf(',');
        if (comma >= 0) {
            rest = rest.substring(0, comma);
        }
        if (rest.endsWith("/")) {
            rest = rest.substring(0, rest.length() - 1);
        }
        int colon = rest.lastIndexOf(':');
        if (colon <= 0 || colon == rest.length() - 1) {
            throw new IllegalArgumentException("expected a controller URI like tcp://host:9090, got " + uri);
        }
        String host = rest.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(rest.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad port in controller URI " + uri);
        }
        if (port <= 0 || port > 65535) {
            throw new IllegalArgumentException("port out of range in controller URI " + uri);
        }
        return new Endpoint(host, port);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Endpoint && ((Endpoint) o).host.equals(host) && ((Endpoint) o).port == port;
    }

    @Override
    public int hashCode() {
        return host.hashCode() * 31 + port;
    }

    @Override
    public String toString() {
        return host + ":" + port;
    }
}
