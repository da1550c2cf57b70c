using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cocoon.Engine.Attestation.Snp;

/// <summary>Why an SEV-SNP report was not believed; None when it was.</summary>
public enum SnpRefusal
{
    None,

    /// <summary>Not a 1184-byte report of version 2 or later, or a certificate that does not parse.</summary>
    Malformed,

    /// <summary>Signed with another algorithm than ECDSA P-384/SHA-384, or by a VLEK (not checked here).</summary>
    UnsupportedSigner,

    /// <summary>The chain's root is not one of the pinned AMD root keys (ARK).</summary>
    UnknownRoot,

    /// <summary>ARK → ASK → VCEK does not verify (RSA-PSS/SHA-384 signatures, issuer names).</summary>
    ChainBroken,

    /// <summary>A certificate of the chain is outside its validity period now.</summary>
    CertificateExpired,

    /// <summary>The VCEK was issued for another TCB than the report's REPORTED_TCB.</summary>
    TcbMismatch,

    /// <summary>The VCEK was issued for another chip than the report's CHIP_ID.</summary>
    ChipMismatch,

    /// <summary>The report's ECDSA signature does not verify under the VCEK.</summary>
    BadSignature,

    /// <summary>The guest policy lets the host debug the guest: its memory is not private.</summary>
    DebugAllowed,
}

/// <summary>The verdict and, when verified, the report (measurement, report data, policy, TCB) to apply policy to.</summary>
public sealed record SnpVerdict(SnpRefusal Refusal, string Detail, SnpReport? Report)
{
    public bool Verified => Refusal == SnpRefusal.None;
}

/// <summary>
/// Verifies an SEV-SNP attestation report against the chain AMD publishes (pure: no network; the caller supplies the
/// VCEK and the ASK/ARK, e.g. from the report's extended certificate table or AMD's key distribution service):
/// the ARK is one of the pinned AMD roots and self-signed; ARK signs the ASK and ASK signs the VCEK (RSASSA-PSS with
/// SHA-384, issuer names chained); every certificate is valid now; the VCEK's TCB extensions (blSPL, teeSPL, snpSPL,
/// ucodeSPL) equal the report's REPORTED_TCB and its hwID equals CHIP_ID; the report is ECDSA P-384/SHA-384 signed by
/// the VCEK over bytes 0x000–0x29F; the guest policy forbids debugging. Not checked here: the launch measurement and
/// REPORT_DATA (the caller's policy), revocation (AMD's CRL), VLEK-signed reports, Turin's TCB layout, minimum TCB levels.
/// </summary>
public sealed class SnpVerifier(IReadOnlyCollection<byte[]> pinnedRootKeys, TimeProvider time)
{
    private const string RsassaPss = "1.2.840.113549.1.1.10";
    private const string AmdOid = "1.3.6.1.4.1.3704.1.";

    /// <summary>A verifier that trusts the AMD root keys shipped with Cocoon (<see cref="AmdRoots"/>).</summary>
    public static SnpVerifier WithAmdRoots(TimeProvider time) => new(AmdRoots.PinnedRootKeys, time);

    public SnpVerdict Verify(ReadOnlySpan<byte> reportBytes, X509Certificate2 vcek, X509Certificate2 ask, X509Certificate2 ark)
    {
        ArgumentNullException.ThrowIfNull(vcek);
        ArgumentNullException.ThrowIfNull(ask);
        ArgumentNullException.ThrowIfNull(ark);
        SnpReport report;
        try
        {
            report = SnpReport.Parse(reportBytes);
        }
        catch (FormatException e)
        {
            return new(SnpRefusal.Malformed, e.Message, null);
        }

        if (report.SignatureAlgorithm != SnpReport.EcdsaP384Sha384 || report.SigningKey != 0)
        {
            return new(SnpRefusal.UnsupportedSigner, $"signature algorithm {report.SignatureAlgorithm}, signing key {report.SigningKey} (only VCEK with ECDSA P-384 is verified)", null);
        }

        var arkKey = ark.PublicKey.ExportSubjectPublicKeyInfo();
        if (!pinnedRootKeys.Any(k => k.AsSpan().SequenceEqual(arkKey)))
        {
            return new(SnpRefusal.UnknownRoot, $"the root {ark.Subject} is not a pinned AMD root key", null);
        }

        try
        {
            if (!SignedBy(ark, ark) || !SignedBy(ask, ark) || !SignedBy(vcek, ask))
            {
                return new(SnpRefusal.ChainBroken, "ARK → ASK → VCEK signatures or issuer names do not chain", null);
            }
        }
        catch (Exception e) when (e is AsnContentException or CryptographicException)
        {
            return new(SnpRefusal.Malformed, "a certificate of the chain does not parse: " + e.Message, null);
        }

        var now = time.GetUtcNow().UtcDateTime;
        foreach (var certificate in (X509Certificate2[])[ark, ask, vcek])
        {
            if (now < certificate.NotBefore.ToUniversalTime() || now > certificate.NotAfter.ToUniversalTime())
            {
                return new(SnpRefusal.CertificateExpired, $"{certificate.Subject} is valid {certificate.NotBefore:u}–{certificate.NotAfter:u}", null);
            }
        }

        var tcb = report.ReportedTcb;
        var issued = (Spl(vcek, "3.1"), Spl(vcek, "3.2"), Spl(vcek, "3.3"), Spl(vcek, "3.8"));
        if (issued != (tcb.BootLoader, tcb.Tee, tcb.Snp, tcb.Microcode))
        {
            return new(SnpRefusal.TcbMismatch, $"the VCEK is for TCB bl {issued.Item1} tee {issued.Item2} snp {issued.Item3} ucode {issued.Item4}, the report's is bl {tcb.BootLoader} tee {tcb.Tee} snp {tcb.Snp} ucode {tcb.Microcode}", null);
        }

        if (!report.ChipIdMasked && !HardwareId(vcek).SequenceEqual(report.ChipId))
        {
            return new(SnpRefusal.ChipMismatch, "the VCEK's hwID is not the report's CHIP_ID", null);
        }

        using var key = vcek.GetECDsaPublicKey();
        if (key is null || key.KeySize != 384 || !report.SignaturePaddingIsZero()
            || !key.VerifyData(report.SignedBytes, report.SignatureP1363(), HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
        {
            return new(SnpRefusal.BadSignature, "the report's signature does not verify under the VCEK", null);
        }

        if ((report.Policy & SnpReport.PolicyDebug) != 0)
        {
            return new(SnpRefusal.DebugAllowed, "the guest policy allows the host to debug the guest", null);
        }

        return new(SnpRefusal.None, string.Empty, report);
    }

    /// <summary>The certificate's signature (RSASSA-PSS, SHA-384, salt 48) verifies under issuer's key and the names chain.</summary>
    private static bool SignedBy(X509Certificate2 certificate, X509Certificate2 issuer)
    {
        if (!certificate.IssuerName.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData) || certificate.SignatureAlgorithm.Value != RsassaPss)
        {
            return false;
        }

        var outer = new AsnReader(certificate.RawData, AsnEncodingRules.DER).ReadSequence();
        var tbs = outer.ReadEncodedValue();
        outer.ReadSequence();
        var signature = outer.ReadBitString(out _);
        using var rsa = issuer.GetRSAPublicKey();
        return rsa is not null && rsa.VerifyData(tbs.Span, signature, HashAlgorithmName.SHA384, RSASignaturePadding.Pss);
    }

    /// <summary>
    /// The VCEK's hwID extension: AMD's key distribution service writes the 64 chip id bytes as the extension's value
    /// itself (not wrapped in an OCTET STRING); a wrapped value is read too. Empty when absent or of another size.
    /// </summary>
    private static ReadOnlySpan<byte> HardwareId(X509Certificate2 vcek)
    {
        if (vcek.Extensions[AmdOid + "4"] is not { } extension)
        {
            return [];
        }

        var raw = extension.RawData;
        return raw.Length switch
        {
            64 => raw,
            66 when raw[0] == 0x04 && raw[1] == 64 => raw.AsSpan(2),
            _ => [],
        };
    }

    /// <summary>A security patch level extension of the VCEK (an INTEGER); -1 when absent.</summary>
    private static int Spl(X509Certificate2 vcek, string suffix) =>
        vcek.Extensions[AmdOid + suffix] is { } extension
            ? (int)new AsnReader(extension.RawData, AsnEncodingRules.DER).ReadInteger()
            : -1;
}

/// <summary>
/// AMD's root and signing keys for SEV-SNP as AMD publishes them (ARK and ASK per product line, Milan and Genoa),
/// shipped as embedded resources so verifying needs no network. Pinning is by SubjectPublicKeyInfo of the ARKs.
/// </summary>
public static class AmdRoots
{
    private static readonly string[] Products = ["milan", "genoa"];

    public static IReadOnlyCollection<byte[]> PinnedRootKeys { get; } =
        [.. Products.Select(p => Load($"amd-{p}-ark.pem").PublicKey.ExportSubjectPublicKeyInfo())];

    /// <summary>The ASK and ARK of a product line ("milan" or "genoa"), to verify a VCEK whose chain was not supplied.</summary>
    public static (X509Certificate2 Ask, X509Certificate2 Ark) Chain(string product)
    {
        var name = Products.FirstOrDefault(p => string.Equals(p, product, StringComparison.OrdinalIgnoreCase));
        return name is not null
            ? (Load($"amd-{name}-ask.pem"), Load($"amd-{name}-ark.pem"))
            : throw new ArgumentException($"No AMD chain is shipped for '{product}' (milan and genoa are).", nameof(product));
    }

    private static X509Certificate2 Load(string resource)
    {
        using var stream = typeof(AmdRoots).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The embedded resource {resource} is missing.");
        using var reader = new StreamReader(stream);
        return X509Certificate2.CreateFromPem(reader.ReadToEnd());
    }
}
