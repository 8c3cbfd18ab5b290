using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Stratus.Server.Hosting;
using Stratus.Server.Kernel;

namespace Stratus.Server.Security;

/// <summary>
/// The certificate a node serves HTTPS with: the operator's (<see cref="HostSettings.HttpsCertificate"/>, PEM or
/// PKCS#12), or with <see cref="HostSettings.Tls"/> one made on first start in <c>&lt;DataDir&gt;/tls/</c> and kept for
/// later starts: self-signed for this machine's loopback names, its SHA-256 fingerprint printed so that a client can
/// pin it (<c>stratus login --fingerprint</c>, <c>curl --cacert DATADIR/tls/server.crt</c>). A made certificate lasts two
/// years and is made again (a new fingerprint) once less than 30 days are left.
/// </summary>
public static class ServerCertificate
{
    /// <summary>The generated certificate with its key (mode 0600), and its public half as PEM for clients.</summary>
    public static (string Pkcs12, string Pem) GeneratedPaths(string dataDir) =>
        (Path.Combine(dataDir, "tls", "server.pfx"), Path.Combine(dataDir, "tls", "server.crt"));

    /// <summary>The certificate to serve with, or null when the node serves plain HTTP only.</summary>
    /// <exception cref="StartupException">The certificate named cannot be read, or has no private key.</exception>
    public static X509Certificate2? Load(HostSettings host, string dataDir)
    {
        if (host.HttpsCertificate is { Length: > 0 } path)
        {
            X509Certificate2 certificate;
            try
            {
                certificate = Path.GetExtension(path).ToLowerInvariant() is ".pfx" or ".p12"
                    ? X509CertificateLoader.LoadPkcs12FromFile(path, null)
                    : X509Certificate2.CreateFromPemFile(path, host.HttpsCertificateKey is { Length: > 0 } key ? key : null);
            }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                throw new StartupException($"Stratus:HttpsCertificate: cannot read {path}{(host.HttpsCertificateKey is { Length: > 0 } k ? $" with the key {k}" : "")}: {ex.Message}");
            }
            if (!certificate.HasPrivateKey)
                throw new StartupException($"Stratus:HttpsCertificate: {path} holds no private key; put it in the same file or name it with Stratus:HttpsCertificateKey");
            return certificate;
        }
        if (!host.Tls) return null;
        var (pkcs12, pem) = GeneratedPaths(dataDir);
        if (File.Exists(pkcs12))
        {
            try
            {
                var kept = X509CertificateLoader.LoadPkcs12FromFile(pkcs12, null);
                if (kept.NotAfter > DateTime.Now.AddDays(30)) return kept;
            }
            catch (CryptographicException ex)
            {
                throw new StartupException($"Stratus:Tls: {pkcs12} cannot be read ({ex.Message}); remove it to have a new certificate made");
            }
        }
        var made = Generate();
        Directory.CreateDirectory(Path.GetDirectoryName(pkcs12)!);
        SecretFile.WriteBytes(pkcs12, made.Export(X509ContentType.Pkcs12));
        File.WriteAllText(pem, made.ExportCertificatePem() + "\n");
        return made;
    }

    /// <summary>The certificate's SHA-256 fingerprint, as colon-separated hex pairs (as browsers and openssl show it).</summary>
    public static string Fingerprint(X509Certificate2 certificate) =>
        string.Join(':', certificate.GetCertHash(HashAlgorithmName.SHA256).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>A self-signed ECDSA P-256 server certificate for localhost, 127.0.0.1, ::1 and this host's name, valid for two years.</summary>
    private static X509Certificate2 Generate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=Stratus on {Environment.MachineName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddDnsName(Environment.MachineName);
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // server authentication
        var now = DateTimeOffset.UtcNow;
        using var created = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(2));
        // Through PKCS#12 once, so that the key is one TLS can use on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }
}
