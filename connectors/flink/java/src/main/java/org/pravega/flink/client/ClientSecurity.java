package org.pravega.flink.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.Locale;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * TLS and credentials of a connection to a secured server, read from the controller URI:
 * the scheme ({@code tls://}, {@code ssl://}, {@code tcps://}, {@code pravegas://}) or
 * {@code tls=true} switches TLS on; the query parameters {@code trust_cert} (a PEM file of CA
 * certificates; default: the JVM's trust store), {@code disable_cert_verification},
 * {@code username} and {@code password} (URL-encoded) complete it, as in the Python client:
 * {@code tls://host:9090?trust_cert=/etc/ca.pem&username=u&password=p}.
 */
public final class ClientSecurity implements Serializable {
    private static final long serialVersionUID = 1L;

    private final boolean tls;
    private final String trustCert;
    private final boolean disableCertVerification;
    private final String username;
    private final String password;

    private ClientSecurity(boolean tls, String trustCert, boolean disableCertVerification, String username,
            String password) {
        this.tls = tls;
        this.trustCert = trustCert;
        this.disableCertVerification = disableCertVerification;
        this.username = username;
        this.password = password;
    }

    /** The settings in {@code uri}; throws IllegalArgumentException for unknown or malformed ones. */
    public static ClientSecurity fromUri(String uri) {
        String text = uri.trim();
        int scheme = text.indexOf("://");
        boolean tls = false;
        if (scheme >= 0) {
            String s = text.substring(0, scheme).toLowerCase(Locale.ROOT);
            tls = s.equals("tls") || s.equals("ssl") || s.equals("tcps") || s.equals("pravegas");
        }
        String trustCert = null;
        boolean disable = false;
        String username = null;
        String password = null;
        int q = text.indexOf('?');
        if (q >= 0) {
            for (String pair : text.substring(q + 1).split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("malformed option '" + pair + "' in controller URI");
                }
                String key = decode(pair.substring(0, eq));
                String value = decode(pair.substring(eq + 1));
                switch (key) {
                    case "tls":
                        tls = bool(key, value);
                        break;
                    case "trust_cert":
                        trustCert = value;
                        break;
                    case "disable_cert_verification":
                        disable = bool(key, value);
                        break;
                    case "username":
                        username = value;
                        break;
                    case "password":
                        password = value;
                        break;
                    default:
                        throw new IllegalArgumentException("unknown option '" + key + "' in controller URI (known: tls,"
                                + " trust_cert, disable_cert_verification, username, password)");
                }
            }
        }
        if (trustCert != null && !Files.isReadable(Paths.get(trustCert))) {
            throw new IllegalArgumentException("trust_cert: cannot read " + trustCert);
        }
        return new ClientSecurity(tls, trustCert, disable, username, password);
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    private static boolean bool(String key, String value) {
        if (value.equalsIgnoreCase("true")) {
            return true;
        }
        if (value.equalsIgnoreCase("false")) {
            return false;
        }
        throw new IllegalArgumentException("option " + key + " in controller URI must be true or false, got " + value);
    }

    public boolean isTls() {
        return tls;
    }

    public boolean hasCredentials() {
        return username != null;
    }

    public String getTrustCert() {
        return trustCert;
    }

    public boolean isCertVerificationDisabled() {
        return disableCertVerification;
    }

    /** {@code Basic base64(user:password)}, or null without credentials. */
    public String authorizationHeader() {
        if (username == null) {
            return null;
        }
        String raw = username + ":" + (password == null ? "" : password);
        return "Basic " + Base64.getEncoder().encodeToString(raw.getBytes(StandardCharsets.UTF_8));
    }

    /** The trust managers for server certificates: the CA file, all (unverified), or the JVM's. */
    TrustManager[] trustManagers() {
        try {
            if (disableCertVerification) {
                return new TrustManager[] {new TrustAll()};
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            if (trustCert == null) {
                tmf.init((KeyStore) null);
            } else {
                KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
                store.load(null, null);
                try (InputStream in = Files.newInputStream(Paths.get(trustCert))) {
                    int i = 0;
                    for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                        store.setCertificateEntry("ca" + i++, c);
                    }
                }
                tmf.init(store);
            }
            return tmf.getTrustManagers();
        } catch (IOException | GeneralSecurityException e) {
            throw new PravegaException("cannot load the trusted certificates " + trustCert + ": " + e, e);
        }
    }

    /** Opens TLS over an already connected socket, checking the host name unless disabled. */
    SSLSocket wrap(java.net.Socket socket, String host, int port) throws IOException {
        SSLSocketFactory factory;
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, trustManagers(), null);
            factory = ctx.getSocketFactory();
        } catch (GeneralSecurityException e) {
            throw new IOException("TLS is not available: " + e, e);
        }
        SSLSocket ssl = (SSLSocket) factory.createSocket(socket, host, port, true);
        if (!disableCertVerification) {
            SSLParameters params = ssl.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            ssl.setSSLParameters(params);
        }
        ssl.startHandshake();
        return ssl;
    }

    private static final class TrustAll implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
