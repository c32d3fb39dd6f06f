/**
 * Authenticated ports: mutual TLS 1.3 between the processes of one cluster, whose
 * certificates a cluster CA signs ({@link dev.ferry.transfer.tls.TlsConfig}), the rule that a
 * port reachable beyond loopback authenticates its peers ({@link dev.ferry.transfer.tls.PortSecurity}),
 * and a CA for tests and trial clusters ({@link dev.ferry.transfer.tls.ClusterCa}).
 */
package dev.ferry.transfer.tls;
