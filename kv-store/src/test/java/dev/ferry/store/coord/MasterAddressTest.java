package dev.ferry.store.coord;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import org.junit.jupiter.api.Test;

class MasterAddressTest {
    @Test
    void aHostAndPortIsAFixedMaster() {
        MasterAddress a = MasterAddress.parse("10.0.0.1:7000");
        assertThat(a.viaEtcd()).isFalse();
        assertThat(a.host()).isEqualTo("10.0.0.1");
        assertThat(a.port()).isEqualTo(7000);
        assertThat(a).hasToString("10.0.0.1:7000");
    }

    @Test
    void anEtcdAddressNamesItsEndpointsAndCluster() {
        MasterAddress a = MasterAddress.parse("etcd://h1:2379,h2:2380/prod");
        assertThat(a.viaEtcd()).isTrue();
        assertThat(a.etcd()).containsExactly(URI.create("http://h1:2379"), URI.create("http://h2:2380"));
        assertThat(a.clusterId()).isEqualTo("prod");
        assertThat(a).hasToString("etcd://h1:2379,h2:2380/prod");
    }

    @Test
    void mooncakesFormTakesTheClusterIdApart() {
        MasterAddress a = MasterAddress.parse("etcd://h1:2379;h2:2379", "prod");
        assertThat(a).isEqualTo(MasterAddress.parse("etcd://h1:2379,h2:2379/prod"));
        assertThat(MasterAddress.parse("etcd://h1:2379/prod", "prod").clusterId()).isEqualTo("prod");
    }

    @Test
    void badAddressesAreClearErrors() {
        assertThatThrownBy(() -> MasterAddress.parse("etcd://h1:2379;h2:2379"))
                .hasMessageContaining("names no cluster").hasMessageContaining("--cluster-id");
        assertThatThrownBy(() -> MasterAddress.parse("etcd://h1:2379/a", "b"))
                .hasMessageContaining("'a'").hasMessageContaining("'b'");
        assertThatThrownBy(() -> MasterAddress.parse("h1:2379", "prod")).hasMessageContaining("needs an etcd://");
        assertThatThrownBy(() -> MasterAddress.parse("nohost")).hasMessageContaining("expected host:port");
        assertThatThrownBy(() -> MasterAddress.parse("h:99999")).hasMessageContaining("expected host:port");
        assertThatThrownBy(() -> MasterAddress.parse("etcd://h1/prod")).hasMessageContaining("'h1'");
        assertThatThrownBy(() -> MasterAddress.parse("etcd://h1:2379/a/b")).hasMessageContaining("without '/'");
    }
}
