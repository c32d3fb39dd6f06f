package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.rpc.RpcException;
import org.junit.jupiter.api.Test;

/** The master's refusals reach its callers as the RPC status of the same name, in process and over RPC. */
class MasterErrorsTest {
    private static final long BLOCK = 8192;

    @Test
    void eachReasonBecomesTheRpcStatusOfTheSameNameWithItsMessage() {
        for (MasterException.Reason reason : MasterException.Reason.values()) {
            MasterException refusal = new MasterException(reason, "why: " + reason);
            RpcException answer = MasterErrors.toRpc(refusal);
            int expected = switch (reason) {
                case REFUSED -> RpcException.REFUSED;
                case NO_SPACE -> RpcException.NO_SPACE;
                case BUSY -> RpcException.BUSY;
                case CONFLICT -> RpcException.CONFLICT;
                case STALE_PUT -> RpcException.STALE_PUT;
            };
            assertThat(answer.status()).isEqualTo(expected);
            assertThat(answer).hasMessage("why: " + reason).hasCause(refusal);
        }
    }

    @Test
    void aMasterInTheCallersProcessAnswersRpcStatuses() {
        Master master = new Master(new LruPolicy(), System::nanoTime, 1_000_000_000L, 5_000_000_000L);
        answersNoSpaceAndRefused(new InProcessMaster(master, segment -> true));
    }

    @Test
    void aRemoteMasterAnswersTheSameStatusesOverRpc() {
        try (MasterService service = new MasterService("127.0.0.1", 0, new LruPolicy(), 10_000);
             MasterClient client = new MasterClient("127.0.0.1", service.port(), 5_000)) {
            answersNoSpaceAndRefused(client);
        }
    }

    /** A master without nodes has no room for a block, and refuses a block of 0 bytes. */
    private static void answersNoSpaceAndRefused(MasterApi api) {
        assertThatThrownBy(() -> api.putStart(BlockKey.ofAll(1), BLOCK, 1, null)).isInstanceOf(RpcException.class)
                .hasMessageContaining("no store node is registered")
                .extracting(e -> ((RpcException) e).status()).isEqualTo(RpcException.NO_SPACE);
        assertThatThrownBy(() -> api.putStart(BlockKey.ofAll(1), 0, 1, null)).isInstanceOf(RpcException.class)
                .hasMessageContaining("block size")
                .extracting(e -> ((RpcException) e).status()).isEqualTo(RpcException.REFUSED);
    }
}
