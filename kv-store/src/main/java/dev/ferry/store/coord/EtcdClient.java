package dev.ferry.store.coord;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A small etcd v3 client over etcd's JSON gateway ({@code /v3/...}, served by etcd 3.4 and
 * later on its client URLs) and the JDK's {@link HttpClient}: the calls leader election and
 * discovery need (lease grant, keep-alive, revoke; get, put, create-if-absent, delete; a
 * watch for a key's deletion). Keys and values are UTF-8 strings (base64 on the wire, as the
 * gateway wants); int64 fields travel as JSON strings.
 *
 * <p>A request goes to the endpoint that answered last; one that cannot be reached is left
 * for the next, in order, until each was tried once. Each request waits at most the request
 * timeout.
 *
 * <p>Thread-safe. Owns an HTTP client (its threads and connections): close it.
 */
public final class EtcdClient implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final List<URI> endpoints;
    private final Duration requestTimeout;
    private final HttpClient http;
    private volatile int preferred;

    /**
     * @param endpoints      client URLs of the etcd members, e.g. {@code http://127.0.0.1:2379}
     * @param requestTimeout longest wait for one request (a connect and its answer)
     * @throws IllegalArgumentException when no endpoint is given
     */
    public EtcdClient(List<URI> endpoints, Duration requestTimeout) {
        this(endpoints, requestTimeout, dev.ferry.transfer.tls.PortSecurity.process());
    }

    /**
     * @param security for {@code https://} endpoints: its TLS identity is the client certificate
     *                 shown to etcd, its CA the one etcd's certificate must chain to (whose
     *                 name must match the endpoint's host: the JDK's HttpClient checks it)
     * @throws IllegalArgumentException when no endpoint is given, or an https one without TLS
     * @see #EtcdClient(List, Duration)
     */
    public EtcdClient(List<URI> endpoints, Duration requestTimeout, dev.ferry.transfer.tls.PortSecurity security) {
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException("no etcd endpoint given");
        }
        this.endpoints = List.copyOf(endpoints);
        this.requestTimeout = requestTimeout;
        HttpClient.Builder builder = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(requestTimeout);
        if (endpoints.stream().anyMatch(e -> "https".equals(e.getScheme()))) {
            if (!security.isTls()) {
                throw new IllegalArgumentException("etcd endpoint " + endpoints.getFirst() + " is https: give "
                        + "--tls-dir (the client certificate etcd checks, and the CA that signed etcd's)");
            }
            builder.sslContext(security.tlsConfig().clientContext());
        }
        this.http = builder.build();
    }

    /**
     * Parses a list of etcd endpoints: {@code host:port}, {@code http://host:port} or
     * {@code https://host:port} (TLS), separated by commas or semicolons (Mooncake's form).
     * Endpoints without a scheme are http.
     *
     * @throws IllegalArgumentException naming a bad entry, or when the list is empty
     */
    public static List<URI> endpoints(String text) {
        return endpoints(text, "http");
    }

    /**
     * As {@link #endpoints(String)}, with {@code scheme} (http or https) for endpoints written without one.
     *
     * @throws IllegalArgumentException naming a bad entry, or when the list is empty
     */
    public static List<URI> endpoints(String text, String scheme) {
        List<URI> out = new ArrayList<>();
        for (String part : text.split("[,;]")) {
            String s = part.strip();
            if (s.isEmpty()) {
                continue;
            }
            URI uri;
            try {
                uri = URI.create(s.startsWith("http://") || s.startsWith("https://") ? s : scheme + "://" + s);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("etcd endpoint '" + s + "': expected host:port");
            }
            if (uri.getHost() == null || uri.getPort() < 1) {
                throw new IllegalArgumentException("etcd endpoint '" + s + "': expected host:port");
            }
            out.add(URI.create(uri.getScheme() + "://" + uri.getHost() + ":" + uri.getPort()));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no etcd endpoint in '" + text + "'");
        }
        return out;
    }

    /** The endpoints, as given. */
    public List<URI> endpoints() {
        return endpoints;
    }

    /**
     * Grants a lease.
     *
     * @param ttlSeconds its time to live, s (etcd may raise it to its minimum)
     * @return the lease id
     * @throws EtcdException when etcd cannot be reached or refuses
     */
    public long grantLease(long ttlSeconds) {
        ObjectNode body = JSON.createObjectNode().put("TTL", ttlSeconds);
        JsonNode answer = post("/v3/lease/grant", body);
        if (answer.hasNonNull("error") && !answer.path("error").asText().isEmpty()) {
            throw new EtcdException("lease grant refused: " + answer.path("error").asText());
        }
        return answer.path("ID").asLong();
    }

    /**
     * Keeps a lease alive once (one keep-alive request).
     *
     * @return the lease's time to live now, s; 0 when the lease is gone (expired or revoked)
     * @throws EtcdException when etcd cannot be reached
     */
    public long keepAlive(long leaseId) {
        JsonNode answer = post("/v3/lease/keepalive", JSON.createObjectNode().put("ID", Long.toString(leaseId)));
        return Math.max(0, answer.path("result").path("TTL").asLong(0));
    }

    /**
     * The TTL a lease was granted with.
     *
     * @return its granted time to live, s; 0 when the lease is gone (expired or revoked)
     * @throws EtcdException when etcd cannot be reached
     */
    public long grantedTtl(long leaseId) {
        JsonNode answer = post("/v3/lease/timetolive", JSON.createObjectNode().put("ID", Long.toString(leaseId)));
        return answer.path("TTL").asLong(-1) < 0 ? 0 : Math.max(0, answer.path("grantedTTL").asLong(0));
    }

    /**
     * Revokes a lease: the keys bound to it are deleted now.
     *
     * @throws EtcdException when etcd cannot be reached
     */
    public void revoke(long leaseId) {
        post("/v3/lease/revoke", JSON.createObjectNode().put("ID", Long.toString(leaseId)));
    }

    /**
     * Reads one key.
     *
     * @throws EtcdException when etcd cannot be reached
     */
    public Optional<KeyValue> get(String key) {
        return read(key).kv();
    }

    /**
     * A key as read, with the store's revision at the read (a watch from {@code revision + 1}
     * misses no later change).
     *
     * @param revision the store's revision when read
     * @param kv       the key, when it exists
     */
    public record Read(long revision, Optional<KeyValue> kv) {
    }

    /**
     * Reads one key, with the revision of the read.
     *
     * @throws EtcdException when etcd cannot be reached
     */
    public Read read(String key) {
        JsonNode answer = post("/v3/kv/range", JSON.createObjectNode().put("key", b64(key)));
        JsonNode kvs = answer.path("kvs");
        return new Read(answer.path("header").path("revision").asLong(),
                kvs.isArray() && !kvs.isEmpty() ? Optional.of(keyValue(kvs.get(0))) : Optional.empty());
    }

    /**
     * Writes a key, bound to {@code lease} (0: none).
     *
     * @return the revision of the write
     * @throws EtcdException when etcd cannot be reached
     */
    public long put(String key, String value, long lease) {
        ObjectNode body = JSON.createObjectNode().put("key", b64(key)).put("value", b64(value));
        if (lease != 0) {
            body.put("lease", Long.toString(lease));
        }
        return post("/v3/kv/put", body).path("header").path("revision").asLong();
    }

    /**
     * Deletes a key.
     *
     * @throws EtcdException when etcd cannot be reached
     */
    public void delete(String key) {
        post("/v3/kv/deleterange", JSON.createObjectNode().put("key", b64(key)));
    }

    /**
     * The outcome of {@link #createIfAbsent}.
     *
     * @param created  whether this call created the key
     * @param revision the revision of the transaction: the key's create revision when created
     * @param existing the key as it was, when it existed
     */
    public record Creation(boolean created, long revision, Optional<KeyValue> existing) {
    }

    /**
     * In one transaction: creates {@code key} bound to {@code lease} when it does not exist,
     * else reads it.
     *
     * @throws EtcdException when etcd cannot be reached or refuses (an unknown lease)
     */
    public Creation createIfAbsent(String key, String value, long lease) {
        ObjectNode body = JSON.createObjectNode();
        body.putArray("compare").addObject().put("key", b64(key)).put("target", "CREATE")
                .put("create_revision", "0").put("result", "EQUAL");
        ObjectNode put = body.putArray("success").addObject().putObject("request_put");
        put.put("key", b64(key)).put("value", b64(value)).put("lease", Long.toString(lease));
        body.putArray("failure").addObject().putObject("request_range").put("key", b64(key));
        JsonNode answer = post("/v3/kv/txn", body);
        long revision = answer.path("header").path("revision").asLong();
        if (answer.path("succeeded").asBoolean(false)) {
            return new Creation(true, revision, Optional.empty());
        }
        JsonNode kvs = answer.path("responses").path(0).path("response_range").path("kvs");
        return new Creation(false, revision, kvs.isArray() && !kvs.isEmpty() ? Optional.of(keyValue(kvs.get(0)))
                : Optional.empty());
    }

    /**
     * Watches {@code key} from {@code fromRevision} and returns when it is deleted, when the
     * watch ends for another reason (etcd closed it, a compaction), or after {@code maxWait}:
     * the caller reads the key again in every case.
     *
     * @return whether a deletion was seen
     * @throws EtcdException when no endpoint accepts the watch
     */
    public boolean awaitDeletion(String key, long fromRevision, Duration maxWait) {
        ObjectNode body = JSON.createObjectNode();
        body.putObject("create_request").put("key", b64(key)).put("start_revision", Long.toString(fromRevision));
        EtcdException last = null;
        for (int i = 0; i < endpoints.size(); i++) {
            int index = (preferred + i) % endpoints.size();
            DeletionWatch watch = new DeletionWatch();
            HttpRequest request = HttpRequest.newBuilder(endpoints.get(index).resolve("/v3/watch"))
                    .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
            CompletableFuture<HttpResponse<Void>> response =
                    http.sendAsync(request, HttpResponse.BodyHandlers.fromLineSubscriber(watch));
            try {
                // The watch's first message says it is in place ("created"); a failed connect
                // fails the response instead.
                CompletableFuture.anyOf(watch.created, response).get(requestTimeout.toMillis(), TimeUnit.MILLISECONDS);
                if (!watch.created.isDone()) {
                    response.join();
                    throw new EtcdException("etcd at " + endpoints.get(index) + " ended the watch at once");
                }
                preferred = index;
                return watch.outcome.get(maxWait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (watch.created.isDone()) {
                    return false;
                }
                last = new EtcdException("etcd at " + endpoints.get(index) + " did not start a watch within "
                        + requestTimeout.toMillis() + " ms");
            } catch (ExecutionException | java.util.concurrent.CompletionException e) {
                if (watch.created.isDone()) {
                    return false;
                }
                last = new EtcdException("etcd at " + endpoints.get(index) + " unreachable (watch): " + e.getCause(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } finally {
                watch.cancel();
                response.cancel(true);
            }
        }
        throw last;
    }

    /** Completes with true on the first DELETE event, false when the stream ends first. */
    private static final class DeletionWatch implements Flow.Subscriber<String> {
        final CompletableFuture<Boolean> created = new CompletableFuture<>();
        final CompletableFuture<Boolean> outcome = new CompletableFuture<>();
        private volatile Flow.Subscription subscription;

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(String line) {
            if (line.isBlank()) {
                return;
            }
            try {
                JsonNode result = JSON.readTree(line).path("result");
                created.complete(true);
                for (JsonNode event : result.path("events")) {
                    if ("DELETE".equals(event.path("type").asText())) {
                        outcome.complete(true);
                    }
                }
                if (result.path("canceled").asBoolean(false)) {
                    outcome.complete(false);
                }
            } catch (IOException e) {
                outcome.complete(false);
            }
        }

        @Override
        public void onError(Throwable t) {
            created.completeExceptionally(t);
            outcome.complete(false);
        }

        @Override
        public void onComplete() {
            outcome.complete(false);
        }

        void cancel() {
            Flow.Subscription s = subscription;
            if (s != null) {
                s.cancel();
            }
        }
    }

    private JsonNode post(String path, ObjectNode body) {
        String text = body.toString();
        EtcdException last = null;
        for (int i = 0; i < endpoints.size(); i++) {
            int index = (preferred + i) % endpoints.size();
            URI endpoint = endpoints.get(index);
            HttpRequest request = HttpRequest.newBuilder(endpoint.resolve(path)).timeout(requestTimeout)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(text)).build();
            HttpResponse<String> response;
            try {
                response = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            } catch (IOException e) {
                last = new EtcdException("etcd at " + endpoint + " unreachable (" + path + "): " + e, e);
                continue;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EtcdException("interrupted while calling etcd (" + path + ")");
            }
            JsonNode answer;
            try {
                answer = JSON.readTree(response.body());
            } catch (IOException e) {
                throw new EtcdException("etcd at " + endpoint + " answered " + path + " with no JSON (HTTP "
                        + response.statusCode() + ")", e);
            }
            if (response.statusCode() == 503 || response.statusCode() == 502) {
                last = new EtcdException("etcd at " + endpoint + " unavailable (" + path + "): " + answer);
                continue;
            }
            if (response.statusCode() != 200) {
                throw new EtcdException("etcd at " + endpoint + " refused " + path + " (HTTP " + response.statusCode()
                        + "): " + answer.path("error").asText(answer.toString()));
            }
            preferred = index;
            return answer;
        }
        throw last;
    }

    private static KeyValue keyValue(JsonNode kv) {
        return new KeyValue(unb64(kv.path("key").asText()), unb64(kv.path("value").asText("")),
                kv.path("create_revision").asLong(), kv.path("mod_revision").asLong(), kv.path("lease").asLong());
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String unb64(String s) {
        return new String(Base64.getDecoder().decode(s), StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        http.shutdownNow();
    }
}
