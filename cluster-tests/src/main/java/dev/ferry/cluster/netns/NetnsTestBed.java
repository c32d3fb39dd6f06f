package dev.ferry.cluster.netns;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A test bed of real links: a network namespace joined to the root namespace by one veth
 * pair per link, each shaped in both directions with {@code tc qdisc tbf} to its own rate.
 * Link {@code i} is {@code 10.231.(s+i).1} (root side) to {@code 10.231.(s+i).2} (namespace
 * side), where {@code s} is the first block of eight subnets that no address of the root
 * namespace is in yet, so that beds of tests running side by side (other processes included)
 * do not route into each other.
 * {@link #setLinkUp(int, boolean)} takes a link down as a real failure would ({@code ip link
 * set DEV down}). Needs root and iproute2; {@link #unavailableReason()} says why not where
 * they are missing. ({@code netem} does not exist on every kernel; tbf does.)
 *
 * <p>Not thread-safe. Owns the namespace and its links: close it.
 */
public final class NetnsTestBed implements AutoCloseable {
    private final String namespace;
    private final String tag;
    private final int links;
    /** Third octet of link 0's subnet. */
    private final int subnet;

    private NetnsTestBed(String tag, int links, int subnet) {
        this.tag = tag;
        this.namespace = "ferry-" + tag;
        this.links = links;
        this.subnet = subnet;
    }

    /**
     * Why a test bed cannot be made here, or empty when it can: makes (and removes) a bed of
     * one shaped link, so that a missing namespace, veth or tbf support all show up here.
     */
    public static Optional<String> unavailableReason() {
        try {
            if (run(List.of("ip", "-V"), true) != 0) {
                return Optional.of("iproute2 ('ip') does not run");
            }
        } catch (IOException e) {
            return Optional.of("iproute2 ('ip') is not installed: " + e.getMessage());
        }
        try (NetnsTestBed probe = create("q" + ProcessHandle.current().pid() % 100000, 100)) {
            return Optional.empty();
        } catch (IllegalStateException e) {
            return Optional.of("cannot build a shaped veth link in a network namespace (needs root, iproute2 and "
                    + "tc tbf): " + e.getMessage());
        }
    }

    /**
     * Creates the namespace and one shaped veth link per rate.
     *
     * @param tag       short unique name (letters and digits, at most 6)
     * @param rateMbits rate of each link, Mbit/s
     * @throws IllegalStateException naming the command that failed
     */
    public static NetnsTestBed create(String tag, int... rateMbits) {
        NetnsTestBed bed = new NetnsTestBed(tag, rateMbits.length, freeSubnet(tag, rateMbits.length));
        try {
            bed.must("ip", "netns", "add", bed.namespace);
            bed.inNamespace("ip", "link", "set", "lo", "up");
            for (int i = 0; i < rateMbits.length; i++) {
                String a = bed.rootDevice(i);
                String b = bed.nsDevice(i);
                bed.must("ip", "link", "add", a, "type", "veth", "peer", "name", b);
                bed.must("ip", "link", "set", b, "netns", bed.namespace);
                bed.must("ip", "addr", "add", bed.address(i, 1) + "/24", "dev", a);
                bed.inNamespace("ip", "addr", "add", bed.address(i, 2) + "/24", "dev", b);
                bed.must("ip", "link", "set", a, "up");
                bed.inNamespace("ip", "link", "set", b, "up");
                bed.shape("add", i, rateMbits[i]);
            }
            return bed;
        } catch (RuntimeException e) {
            bed.close();
            throw e;
        }
    }

    /** The namespace's name. */
    public String namespace() {
        return namespace;
    }

    /** Addresses of the namespace's side of each link, in link order. */
    public List<String> peerAddresses() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < links; i++) {
            out.add(address(i, 2));
        }
        return out;
    }

    /** Takes link {@code i} down or up (its root-side device), as a cable pulled or plugged. */
    public void setLinkUp(int i, boolean up) {
        must("ip", "link", "set", rootDevice(i), up ? "up" : "down");
    }

    /**
     * Changes the rate of link {@code i}, both directions, while it carries traffic
     * ({@code tc qdisc change}); bytes already queued in its tbf leave at the new rate.
     *
     * @param rateMbits the new rate, Mbit/s
     * @throws IllegalStateException naming the command that failed
     */
    public void setRate(int i, int rateMbits) {
        shape("change", i, rateMbits);
    }

    /** {@code tc qdisc add} or {@code change}: a tbf of {@code rateMbits} on both ends of link {@code i}. */
    private void shape(String verb, int i, int rateMbits) {
        String rate = rateMbits + "mbit";
        must("tc", "qdisc", verb, "dev", rootDevice(i), "root", "tbf", "rate", rate, "burst", "256kb", "latency", "100ms");
        inNamespace("tc", "qdisc", verb, "dev", nsDevice(i), "root", "tbf", "rate", rate, "burst", "256kb",
                "latency", "100ms");
    }

    /** A command line that runs {@code command} inside the namespace. */
    public List<String> inNamespaceCommand(List<String> command) {
        List<String> out = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
        out.addAll(command);
        return out;
    }

    private String address(int link, int host) {
        return "10.231." + (subnet + link) + "." + host;
    }

    /**
     * The first third octet, from a block of eight per tag, whose {@code links} subnets
     * {@code 10.231.x.0/24} hold no address of the root namespace.
     *
     * @throws IllegalStateException if all are taken or the addresses cannot be listed
     */
    private static int freeSubnet(String tag, int links) {
        int block = Math.max(8, Integer.highestOneBit(Math.max(1, links - 1)) << 1);
        String taken;
        try {
            Process p = new ProcessBuilder("ip", "-o", "-4", "addr", "show").redirectErrorStream(true).start();
            taken = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (IOException e) {
            throw new IllegalStateException("cannot list addresses ('ip -o -4 addr show'): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while listing addresses", e);
        }
        int blocks = 256 / block;
        int first = Math.floorMod(tag.hashCode(), blocks);
        for (int k = 0; k < blocks; k++) {
            int start = ((first + k) % blocks) * block;
            boolean free = true;
            for (int i = 0; i < links && free; i++) {
                free = !taken.contains(" 10.231." + (start + i) + ".");
            }
            if (free) {
                return start;
            }
        }
        throw new IllegalStateException("no free block of " + links + " subnets in 10.231.0.0/16");
    }

    private String rootDevice(int i) {
        return "fy" + tag + "a" + i;
    }

    private String nsDevice(int i) {
        return "fy" + tag + "b" + i;
    }

    private void inNamespace(String... command) {
        List<String> full = inNamespaceCommand(List.of(command));
        must(full.toArray(String[]::new));
    }

    private void must(String... command) {
        try {
            int code = run(List.of(command));
            if (code != 0) {
                throw new IllegalStateException("'" + String.join(" ", command) + "' failed with exit code " + code);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run '" + String.join(" ", command) + "': " + e.getMessage(), e);
        }
    }

    private static int run(List<String> command) throws IOException {
        return run(command, false);
    }

    private static int run(List<String> command, boolean quiet) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            byte[] output = p.getInputStream().readAllBytes();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return -1;
            }
            if (p.exitValue() != 0 && !quiet) {
                System.err.println(String.join(" ", command) + ": " + new String(output, StandardCharsets.UTF_8).trim());
            }
            return p.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** Deletes the namespace and every link (quietly: shutdown must finish). */
    @Override
    public void close() {
        try {
            run(List.of("ip", "netns", "del", namespace), true);
            for (int i = 0; i < links; i++) {
                run(List.of("ip", "link", "del", rootDevice(i)), true); // usually gone with the namespace
            }
        } catch (IOException ignored) {
            // nothing was created
        }
    }
}
