using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>
/// Turns Redis:Endpoint and Redis:TlsCaFile into the client's configuration. "rediss://host:port,..." (or
/// Redis:TlsCaFile set) means TLS. With a CA file the server's certificate must chain to that CA alone (the system's
/// roots do not count) and name the host connected to; without one the system's roots decide. Nothing accepts any
/// certificate.
/// </summary>
public static class RedisConnection
{
    public const string TlsScheme = "rediss://";
    public const string PlainScheme = "redis://";

    public static ConfigurationOptions Configure(RedisOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (rest, tls) = StripScheme(options.Endpoint);
        var config = ConfigurationOptions.Parse(rest);
        if (tls || !string.IsNullOrEmpty(options.TlsCaFile))
        {
            config.Ssl = true;
        }

        if (!string.IsNullOrEmpty(options.TlsCaFile))
        {
            var ca = X509Certificate2.CreateFromPem(File.ReadAllText(options.TlsCaFile));
            config.CertificateValidation += TrustOnly(ca);
        }

        return config;
    }

    /// <summary>True when the endpoint asks for TLS (rediss://, ssl=true) or a CA file is configured.</summary>
    public static bool UsesTls(RedisOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (rest, tls) = StripScheme(options.Endpoint);
        return tls || !string.IsNullOrEmpty(options.TlsCaFile) || ConfigurationOptions.Parse(rest).Ssl;
    }

    /// <summary>The endpoint without its redis:// or rediss:// scheme, and whether the scheme asked for TLS.</summary>
    public static (string Address, bool Tls) StripScheme(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint.StartsWith(TlsScheme, StringComparison.OrdinalIgnoreCase))
        {
            return (endpoint[TlsScheme.Length..], true);
        }

        return endpoint.StartsWith(PlainScheme, StringComparison.OrdinalIgnoreCase) ? (endpoint[PlainScheme.Length..], false) : (endpoint, false);
    }

    /// <summary>
    /// Accepts a server certificate only when it names the host (the TLS stack's own name check passed) and chains to
    /// <paramref name="ca"/> as the one trusted root; revocation is not checked (a private CA publishes no CRL).
    /// </summary>
    public static RemoteCertificateValidationCallback TrustOnly(X509Certificate2 ca)
    {
        ArgumentNullException.ThrowIfNull(ca);
        return (_, certificate, chain, errors) =>
        {
            // A missing certificate or a name mismatch is final; chain errors are expected (the CA is not a system root).
            if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
            {
                return false;
            }

            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.Add(ca);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (chain is not null)
            {
                foreach (var element in chain.ChainElements)
                {
                    custom.ChainPolicy.ExtraStore.Add(element.Certificate);
                }
            }

            var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            try
            {
                return custom.Build(leaf);
            }
            finally
            {
                if (!ReferenceEquals(leaf, certificate))
                {
                    leaf.Dispose();
                }
            }
        };
    }
}
