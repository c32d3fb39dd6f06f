package dev.ferry.cluster.cli;

import dev.ferry.store.model.ModelProfile;
import picocli.CommandLine.Command;

/** Lists the model profiles. */
@Command(name = "profiles", mixinStandardHelpOptions = true, description = "List model profiles and their KV block sizes.")
final class ProfilesCommand implements Runnable {
    @Override
    public void run() {
        System.out.printf("%-14s %7s %8s %9s %12s %12s%n", "profile", "layers", "kv_heads", "head_dim", "KiB/token",
                "MiB/block");
        for (ModelProfile p : ModelProfile.known()) {
            System.out.printf("%-14s %7d %8d %9d %12.1f %12.3f%n", p.name(), p.layers(), p.kvHeads(), p.headDim(),
                    p.bytesPerToken() / 1024.0, p.blockBytes() / 1048576.0);
        }
    }
}
