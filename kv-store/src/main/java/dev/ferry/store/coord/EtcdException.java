package dev.ferry.store.coord;

/** An etcd request that failed: no endpoint answered, or one answered with an error. */
public final class EtcdException extends RuntimeException {
    public EtcdException(String message) {
        super(message);
    }

    public EtcdException(String message, Throwable cause) {
        super(message, cause);
    }
}
