using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cocoon.Testing;

/// <summary>
/// A CA made for one test run and a server certificate it signed for 127.0.0.1 and localhost, written as PEM files
/// (what redis-server's tls-cert-file, tls-key-file and tls-ca-cert-file read). ECDSA P-256, valid for a day.
/// </summary>
public sealed class TestCertificates
{
    private TestCertificates(string caFile, string certFile, string keyFile)
    {
        CaFile = caFile;
        CertFile = certFile;
        KeyFile = keyFile;
    }

    public string CaFile { get; }

    public string CertFile { get; }

    public string KeyFile { get; }

    /// <summary>Writes ca.crt, server.crt and server.key into <paramref name="dir"/> (prefixed by <paramref name="name"/>).</summary>
    public static TestCertificates Create(string dir, string name = "redis")
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN=Cocoon test CA {Guid.NewGuid():N}", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        serverRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var server = serverRequest.Create(ca, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(16));

        var caFile = Path.Combine(dir, name + "-ca.crt");
        var certFile = Path.Combine(dir, name + "-server.crt");
        var keyFile = Path.Combine(dir, name + "-server.key");
        File.WriteAllText(caFile, ca.ExportCertificatePem());
        File.WriteAllText(certFile, server.ExportCertificatePem());
        File.WriteAllText(keyFile, serverKey.ExportPkcs8PrivateKeyPem());
        return new TestCertificates(caFile, certFile, keyFile);
    }
}
