package dev.ferry.cluster.netns;

import dev.ferry.cluster.ClusterHosts;
import dev.ferry.transfer.segment.HostIdentity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One "host" per role, each a network namespace of its own joined to a Linux bridge in
 * this (the root) namespace by a veth pair: role {@code i} is {@code 10.234.N.(i+1)} on the
 * namespace's {@code eth0}, the bridge is {@code 10.234.N.254} (this process, the operator's
 * host), and {@code N} is the first {@code 10.234.N.0/24} no address of this namespace uses.
 * With several links per host ({@link #create(List, int)}), link {@code k} of each role is
 * {@code eth<k>} on a bridge and subnet of its own, so that the links are separate paths
 * (two NICs on two networks): {@link #setLinkUp} takes one down and up again.
 * Between the roles there is no loopback: each binds and advertises its own address. The
 * namespaces still share {@code /dev/shm} and the kernel's boot id, so each role also gets
 * a host identity of its own ({@code FERRY_HOST_ID}, {@link HostIdentity}), which keeps the
 * shared-memory transport and Aeron IPC from ever being chosen between them.
 *
 * <p>Names carry the pid of the process that made them ({@code ferryh-PID-ROLE}, bridge
 * {@code fybPID}, {@code fybPIDxK} for link K above 0, veths {@code fyvPIDxI}, {@code fywPIDxI}, ... for
 * links 0, 1, ...): {@link #create} first removes the beds of processes
 * that no longer run (a run killed before it could clean up). {@link #close()} removes the
 * namespaces, veths and bridge; so does a shutdown hook (Ctrl-C, an exit without close).
 *
 * <p>Needs root and iproute2: {@link #unavailableReason()} says why not. Thread-safe.
 */
public final class NetnsHosts implements ClusterHosts {
    private static final String NAMESPACE_PREFIX = "ferryh-";
    private static final Pattern STALE_NAMESPACE = Pattern.compile("^ferryh-(\\d+)-\\S+$");
    private static final Pattern STALE_LINK = Pattern.compile("^fy[bvwxy](\\d+)(x\\d+)?$");
    /** Most links per host: veths {@code fyv}, {@code fyw}, {@code fyx}, {@code fyy}. */
    public static final int MAX_LINKS_PER_HOST = 4;
    private static final Pattern ROLE = Pattern.compile("[a-z0-9-]{1,24}");

    private final long pid = ProcessHandle.current().pid();
    private final String subnet;
    /** One subnet per link, link 0's being {@link #subnet}. */
    private final List<String> subnets;
    private final Map<String, Integer> roles = new LinkedHashMap<>();
    private final List<String> namespaces = new ArrayList<>();
    private final List<String> veths = new ArrayList<>();
    private final List<String> bridgesMade = new ArrayList<>();
    private boolean closed;
    private final Thread shutdownHook = new Thread(this::close, "ferry-netns-cleanup");

    private NetnsHosts(List<String> subnets) {
        this.subnet = subnets.getFirst();
        this.subnets = List.copyOf(subnets);
    }

    /**
     * Why a bed of namespaces cannot be made here, or empty when it can: not root, or no
     * iproute2.
     */
    public static Optional<String> unavailableReason() {
        if (!isRoot()) {
            return Optional.of("network namespaces, veths and a bridge need root: run as root (or with sudo)");
        }
        IpCommand.Result version = IpCommand.run(List.of("ip", "-V"));
        if (!version.ok()) {
            return Optional.of("iproute2 ('ip') does not run: " + version.output().trim());
        }
        return Optional.empty();
    }

    /**
     * Removes the beds of processes that no longer run, then makes the bridge and one
     * namespace per role.
     *
     * @param roles role names (lower-case letters, digits and '-'), in the order their
     *              addresses are given
     * @throws IllegalStateException when not root, or naming the command that failed (what
     *                               was made is removed)
     * @throws IllegalArgumentException for a bad or repeated role name
     */
    public static NetnsHosts create(List<String> roles) {
        return create(roles, 1);
    }

    /**
     * As {@link #create(List)}, with {@code linksPerHost} links per role: link {@code k} is
     * the namespace's {@code eth<k>} on bridge {@link #bridge(int) bridge(k)}, in a subnet of
     * its own.
     *
     * @throws IllegalArgumentException for a bad or repeated role name, or links per host
     *                                  outside 1 to {@value #MAX_LINKS_PER_HOST}
     */
    public static NetnsHosts create(List<String> roles, int linksPerHost) {
        if (linksPerHost < 1 || linksPerHost > MAX_LINKS_PER_HOST) {
            throw new IllegalArgumentException("links per host must be 1 to " + MAX_LINKS_PER_HOST + ": " + linksPerHost);
        }
        unavailableReason().ifPresent(reason -> {
            throw new IllegalStateException(reason);
        });
        if (roles.isEmpty() || roles.size() > 200 || roles.stream().distinct().count() != roles.size()
                || !roles.stream().allMatch(r -> ROLE.matcher(r).matches())) {
            throw new IllegalArgumentException("1 to 200 distinct roles of lower-case letters, digits and '-': " + roles);
        }
        removeStale();
        NetnsHosts hosts = new NetnsHosts(freeSubnets(linksPerHost));
        Runtime.getRuntime().addShutdownHook(hosts.shutdownHook);
        boolean made = false;
        try {
            hosts.make(roles);
            made = true;
            return hosts;
        } finally {
            if (!made) {
                hosts.close();
            }
        }
    }

    private synchronized void make(List<String> names) {
        for (int k = 0; k < subnets.size(); k++) {
            String bridge = bridge(k);
            bridgesMade.add(bridge);
            IpCommand.must(List.of("ip", "link", "add", bridge, "type", "bridge"));
            IpCommand.must(List.of("ip", "addr", "add", subnets.get(k) + ".254/24", "dev", bridge));
            IpCommand.must(List.of("ip", "link", "set", bridge, "up"));
        }
        for (int i = 0; i < names.size(); i++) {
            String role = names.get(i);
            String ns = namespace(role);
            IpCommand.must(List.of("ip", "netns", "add", ns));
            namespaces.add(ns);
            IpCommand.must(List.of("ip", "-n", ns, "link", "set", "lo", "up"));
            for (int k = 0; k < subnets.size(); k++) {
                String outside = device(i, k);
                String inside = "fy" + (char) ('p' + k) + pid + "x" + i;
                String eth = "eth" + k;
                IpCommand.must(List.of("ip", "link", "add", outside, "type", "veth", "peer", "name", inside));
                veths.add(outside);
                IpCommand.must(List.of("ip", "link", "set", inside, "netns", ns));
                IpCommand.must(List.of("ip", "-n", ns, "link", "set", inside, "name", eth));
                IpCommand.must(List.of("ip", "-n", ns, "addr", "add", subnets.get(k) + "." + (i + 1) + "/24", "dev", eth));
                IpCommand.must(List.of("ip", "-n", ns, "link", "set", eth, "up"));
                IpCommand.must(List.of("ip", "link", "set", outside, "master", bridge(k)));
                IpCommand.must(List.of("ip", "link", "set", outside, "up"));
            }
            roles.put(role, i);
        }
    }

    /** The veth end in this namespace of link {@code k} of the role at index {@code i}. */
    private String device(int i, int k) {
        return "fy" + (char) ('v' + k) + pid + "x" + i;
    }

    /**
     * Takes link {@code link} of {@code role} down or up again, as a cut cable would: its veth
     * end on the bridge ({@code ip link set DEV down}); the namespace's end loses its carrier
     * and what is sent meanwhile is lost.
     *
     * @throws IllegalArgumentException for a role or link this bed does not have
     * @throws IllegalStateException naming the command that failed
     */
    public synchronized void setLinkUp(String role, int link, boolean up) {
        if (link < 0 || link >= subnets.size()) {
            throw new IllegalArgumentException("no link " + link + "; links per host: " + subnets.size());
        }
        IpCommand.must(List.of("ip", "link", "set", device(roles.get(known(role)), link), up ? "up" : "down"));
    }

    /** Links (interfaces, each on a subnet of its own) per role. */
    public int linksPerHost() {
        return subnets.size();
    }

    @Override
    public List<String> prefix(String role) {
        return List.of("ip", "netns", "exec", namespace(known(role)), "env", HostIdentity.ENV + "=" + namespace(role));
    }

    @Override
    public synchronized String address(String role) {
        return subnet + "." + (roles.get(known(role)) + 1);
    }

    /** Every address of {@code role}: link 0's ({@link #address}) first. */
    @Override
    public synchronized List<String> addresses(String role) {
        int i = roles.get(known(role)) + 1;
        return subnets.stream().map(s -> s + "." + i).toList();
    }

    @Override
    public boolean oneHost() {
        return false;
    }

    @Override
    public String describe() {
        if (subnets.size() == 1) {
            return "one network namespace per role on bridge " + bridge() + " (" + subnet + ".0/24, this host "
                    + subnet + ".254)";
        }
        List<String> links = new ArrayList<>();
        for (int k = 0; k < subnets.size(); k++) {
            links.add("eth" + k + " on bridge " + bridge(k) + " (" + subnets.get(k) + ".0/24)");
        }
        return "one network namespace per role, " + subnets.size() + " links each: " + String.join(", ", links);
    }

    /** The namespace of {@code role}. */
    public String namespace(String role) {
        return NAMESPACE_PREFIX + pid + "-" + role;
    }

    /** The bridge's name (link 0's). */
    public String bridge() {
        return bridge(0);
    }

    /** The bridge of link {@code k}. */
    public String bridge(int k) {
        return k == 0 ? "fyb" + pid : "fyb" + pid + "x" + k;
    }

    /** The namespaces made, in role order. */
    public synchronized List<String> namespaces() {
        return List.copyOf(namespaces);
    }

    private synchronized String known(String role) {
        if (!roles.containsKey(role)) {
            throw new IllegalArgumentException("no host for role '" + role + "'; hosts: " + roles.keySet());
        }
        return role;
    }

    /**
     * Removes the veths, namespaces and bridge (quietly: shutdown must finish). A process
     * still running in a namespace keeps it alive, without its link, until it exits.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException | IllegalArgumentException ignored) {
                // shutting down already, or never added
            }
        }
        for (String veth : veths) {
            IpCommand.run(List.of("ip", "link", "del", veth));
        }
        for (String ns : namespaces) {
            IpCommand.run(List.of("ip", "netns", "del", ns));
        }
        for (String bridge : bridgesMade) {
            IpCommand.run(List.of("ip", "link", "del", bridge));
        }
    }

    /**
     * Removes the namespaces, veths and bridges that a Ferry process made and left behind
     * when it was killed: those whose pid no longer runs.
     *
     * @return the names removed
     */
    public static List<String> removeStale() {
        List<String> removed = new ArrayList<>();
        for (String line : IpCommand.run(List.of("ip", "netns", "list")).output().lines().toList()) {
            String name = line.split(" ", 2)[0];
            Matcher m = STALE_NAMESPACE.matcher(name);
            if (m.matches() && !running(m.group(1)) && IpCommand.run(List.of("ip", "netns", "del", name)).ok()) {
                removed.add(name);
            }
        }
        for (String line : IpCommand.run(List.of("ip", "-o", "link", "show")).output().lines().toList()) {
            String[] parts = line.split(": ", 3);
            if (parts.length < 2) {
                continue;
            }
            String name = parts[1].split("@", 2)[0];
            Matcher m = STALE_LINK.matcher(name);
            if (m.matches() && !running(m.group(1)) && IpCommand.run(List.of("ip", "link", "del", name)).ok()) {
                removed.add(name);
            }
        }
        return removed;
    }

    private static boolean running(String pid) {
        try {
            return ProcessHandle.of(Long.parseLong(pid)).map(ProcessHandle::isAlive).orElse(false);
        } catch (NumberFormatException e) {
            return true; // not a name of ours: leave it
        }
    }

    /** The first {@code count} subnets {@code 10.234.N} that no address of this namespace is in. */
    private static List<String> freeSubnets(int count) {
        Set<String> used = new TreeSet<>();
        Matcher m = Pattern.compile("inet (10\\.234\\.\\d+)\\.\\d+/").matcher(
                IpCommand.must(List.of("ip", "-o", "-4", "addr", "show")));
        while (m.find()) {
            used.add(m.group(1));
        }
        List<String> free = new ArrayList<>();
        for (int n = 0; n < 256 && free.size() < count; n++) {
            if (!used.contains("10.234." + n)) {
                free.add("10.234." + n);
            }
        }
        if (free.size() < count) {
            throw new IllegalStateException("fewer than " + count + " subnets 10.234.N.0/24 are free on this host");
        }
        return free;
    }

    private static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.split("\\s+")[2].equals("0"); // the effective uid
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux: no namespaces either
        }
        return false;
    }
}
