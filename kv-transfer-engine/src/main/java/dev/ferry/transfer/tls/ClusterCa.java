package dev.ferry.transfer.tls;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.IPAddress;

/**
 * A cluster CA for tests and trial clusters ({@code ferry ca}): an ECDSA P-256 key and a
 * self-signed CA certificate, which issues each host a certificate (for both server and client
 * use) whose subject alternative names are the host's addresses and names. A production
 * cluster may use its own PKI instead: Ferry needs only the PEM files ({@link TlsConfig}).
 *
 * <p>Files, in the CA's directory: {@code ca.pem} and {@code ca-key.pem} (owner-only); per
 * host, a directory with {@code ca.pem}, {@code cert.pem} and {@code key.pem} (owner-only),
 * which is what {@code --tls-dir} takes. Certificates and keys by BouncyCastle (bcpkix).
 *
 * <p>Not thread-safe; a CA is made once and used by one thread.
 */
public final class ClusterCa {
    /** The CA's private key inside its directory. */
    public static final String CA_KEY_FILE = "ca-key.pem";
    private static final Duration CA_VALIDITY = Duration.ofDays(3650);
    private static final Duration HOST_VALIDITY = Duration.ofDays(825);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final X509Certificate certificate;
    private final PrivateKey key;

    private ClusterCa(X509Certificate certificate, PrivateKey key) {
        this.certificate = certificate;
        this.key = key;
    }

    /**
     * Makes a new CA (a fresh key) named {@code name}.
     *
     * @param name the CA's common name, e.g. "ferry-cluster-ca"
     */
    public static ClusterCa create(String name) {
        try {
            KeyPair pair = newKeyPair();
            X500Name subject = new X500Name("CN=" + name);
            X509v3CertificateBuilder builder = builder(subject, subject, pair.getPublic(), CA_VALIDITY);
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            builder.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
            return new ClusterCa(sign(builder, pair.getPrivate()), pair.getPrivate());
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot make a CA: " + e.getMessage(), e);
        }
    }

    /**
     * The CA saved in {@code dir} ({@link #save}) or, when it holds none, a new one saved there.
     *
     * @throws UncheckedIOException when the directory cannot be read or written
     * @throws IllegalArgumentException when its files are not a CA
     */
    public static ClusterCa openOrCreate(Path dir, String name) {
        if (Files.exists(dir.resolve(TlsConfig.CA_FILE)) && Files.exists(dir.resolve(CA_KEY_FILE))) {
            return load(dir);
        }
        ClusterCa ca = create(name);
        ca.save(dir);
        return ca;
    }

    /**
     * Loads the CA that {@link #save} wrote in {@code dir}.
     *
     * @throws IllegalArgumentException naming the file that is not what it should be
     */
    public static ClusterCa load(Path dir) {
        Path certFile = dir.resolve(TlsConfig.CA_FILE);
        Path keyFile = dir.resolve(CA_KEY_FILE);
        try (Reader cr = Files.newBufferedReader(certFile); PEMParser cp = new PEMParser(cr);
             Reader kr = Files.newBufferedReader(keyFile); PEMParser kp = new PEMParser(kr)) {
            if (!(cp.readObject() instanceof X509CertificateHolder holder)) {
                throw new IllegalArgumentException(certFile + " holds no PEM certificate");
            }
            if (!(kp.readObject() instanceof PrivateKeyInfo info)) {
                throw new IllegalArgumentException(keyFile + " holds no PKCS#8 PEM private key");
            }
            return new ClusterCa(new JcaX509CertificateConverter().getCertificate(holder),
                    new JcaPEMKeyConverter().getPrivateKey(info));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the CA in " + dir + ": " + e.getMessage(), e);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot read the CA in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code ca.pem} and {@code ca-key.pem} (owner-only) into {@code dir}, creating it. */
    public void save(Path dir) {
        try {
            Files.createDirectories(dir);
            write(dir.resolve(TlsConfig.CA_FILE), pem(certificate), false);
            write(dir.resolve(CA_KEY_FILE), pem(new JcaPKCS8Generator(key, null)), true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the CA into " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Issues a certificate for one host and writes {@code ca.pem}, {@code cert.pem} and
     * {@code key.pem} (owner-only) into {@code dir}, creating it: a directory for {@code --tls-dir}.
     *
     * @param name  the certificate's common name, e.g. the host's name
     * @param hosts its subject alternative names: IP addresses and DNS names (loopback's are added)
     * @return {@code dir}
     */
    public Path issue(Path dir, String name, List<String> hosts) {
        try {
            KeyPair pair = newKeyPair();
            X509v3CertificateBuilder builder = builder(new JcaX509CertificateHolder(certificate).getSubject(),
                    new X500Name("CN=" + name), pair.getPublic(), HOST_VALIDITY);
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                    new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            builder.addExtension(Extension.subjectAlternativeName, false, altNames(hosts));
            builder.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
            builder.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
            X509Certificate issued = sign(builder, key);
            Files.createDirectories(dir);
            write(dir.resolve(TlsConfig.CA_FILE), pem(certificate), false);
            write(dir.resolve(TlsConfig.CERT_FILE), pem(issued), false);
            write(dir.resolve(TlsConfig.KEY_FILE), pem(new JcaPKCS8Generator(pair.getPrivate(), null)), true);
            return dir;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot issue a certificate for " + name + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the certificate of " + name + " into " + dir + ": "
                    + e.getMessage(), e);
        }
    }

    /** The CA's certificate. */
    public X509Certificate certificate() {
        return certificate;
    }

    private static GeneralNames altNames(List<String> hosts) {
        Set<String> all = new LinkedHashSet<>(hosts);
        all.add("127.0.0.1");
        all.add("::1");
        all.add("localhost");
        List<GeneralName> names = new ArrayList<>();
        for (String host : all) {
            if (host.isBlank()) {
                continue;
            }
            boolean ip = IPAddress.isValid(host);
            names.add(new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, host));
        }
        return new GeneralNames(names.toArray(GeneralName[]::new));
    }

    private static KeyPair newKeyPair() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
        return g.generateKeyPair();
    }

    private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, PublicKey key,
                                                    Duration validity) {
        Instant now = Instant.now();
        return new JcaX509v3CertificateBuilder(issuer, new BigInteger(127, RANDOM).add(BigInteger.ONE),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(validity)), subject, key);
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey signer)
            throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter().getCertificate(builder.build(
                    new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException(e.getMessage(), e);
        }
    }

    private static String pem(Object o) throws IOException {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            w.writeObject(o instanceof JcaPKCS8Generator g ? g.generate() : o);
        }
        return out.toString();
    }

    /** Writes atomically; a private file is owner-only from its creation. */
    private static void write(Path file, String text, boolean secret) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        if (secret) {
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        }
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
