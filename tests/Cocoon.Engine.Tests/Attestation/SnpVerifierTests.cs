using System.Security.Cryptography.X509Certificates;
using Cocoon.Engine.Attestation.Snp;

namespace Cocoon.Engine.Tests.Attestation;

/// <summary>
/// The SEV-SNP verifier on a real report from an AMD Milan machine and the VCEK AMD's key distribution service issued
/// for it (published as test data by the virtee/sev project), chained to AMD's Milan ASK and ARK.
/// </summary>
public sealed class SnpVerifierTests
{
    private static readonly TimeProvider In2025 = new At(new DateTimeOffset(2025, 6, 1, 0, 0, 0, TimeSpan.Zero));

    private static byte[] Report() => Convert.FromHexString(Resource("snp-milan-report.hex").Trim());

    private static X509Certificate2 Vcek() => X509Certificate2.CreateFromPem(Resource("snp-milan-vcek.pem"));

    [Fact]
    public void A_real_milan_report_verifies_through_vcek_ask_and_ark_and_its_fields_read_as_the_specification_lays_them_out()
    {
        var (ask, ark) = AmdRoots.Chain("milan");
        var verdict = SnpVerifier.WithAmdRoots(In2025).Verify(Report(), Vcek(), ask, ark);
        Assert.True(verdict.Verified, $"{verdict.Refusal}: {verdict.Detail}");
        var report = verdict.Report!;
        Assert.Equal(2u, report.Version);
        Assert.Equal(0x30000ul, report.Policy);
        Assert.Equal(0u, report.Vmpl);
        Assert.Equal(new SnpTcb(3, 0, 8, 0x73), report.ReportedTcb);
        Assert.Equal("7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f", Convert.ToHexStringLower(report.Measurement));
        Assert.StartsWith("d447b55d197491bfe15cf298f9de9986", Convert.ToHexStringLower(report.ReportData), StringComparison.Ordinal);
        Assert.StartsWith("d49554ec717f4e5b", Convert.ToHexStringLower(report.ChipId), StringComparison.Ordinal);
    }

    [Fact]
    public void A_changed_measurement_or_report_data_breaks_the_signature()
    {
        var (ask, ark) = AmdRoots.Chain("milan");
        var verifier = SnpVerifier.WithAmdRoots(In2025);
        foreach (var offset in (int[])[0x090, 0x050, 0x008])
        {
            var report = Report();
            report[offset] ^= 1;
            Assert.Equal(SnpRefusal.BadSignature, verifier.Verify(report, Vcek(), ask, ark).Refusal);
        }
    }

    [Fact]
    public void Another_tcb_or_chip_than_the_vcek_was_issued_for_is_refused_by_name()
    {
        var (ask, ark) = AmdRoots.Chain("milan");
        var verifier = SnpVerifier.WithAmdRoots(In2025);
        var tcb = Report();
        tcb[0x186] = 9; // REPORTED_TCB's SNP level
        Assert.Equal(SnpRefusal.TcbMismatch, verifier.Verify(tcb, Vcek(), ask, ark).Refusal);
        var chip = Report();
        chip[0x1A0] ^= 1;
        Assert.Equal(SnpRefusal.ChipMismatch, verifier.Verify(chip, Vcek(), ask, ark).Refusal);
    }

    [Fact]
    public void An_unpinned_root_another_products_chain_an_expired_vcek_and_a_wrong_length_are_refused()
    {
        var (ask, ark) = AmdRoots.Chain("milan");
        var (genoaAsk, genoaArk) = AmdRoots.Chain("genoa");
        var verifier = SnpVerifier.WithAmdRoots(In2025);
        Assert.Equal(SnpRefusal.UnknownRoot, verifier.Verify(Report(), Vcek(), ask, Vcek()).Refusal);
        Assert.Equal(SnpRefusal.UnknownRoot, new SnpVerifier([], In2025).Verify(Report(), Vcek(), ask, ark).Refusal);
        Assert.Equal(SnpRefusal.ChainBroken, verifier.Verify(Report(), Vcek(), genoaAsk, genoaArk).Refusal);
        Assert.Equal(SnpRefusal.ChainBroken, verifier.Verify(Report(), Vcek(), genoaAsk, ark).Refusal);
        Assert.Equal(SnpRefusal.CertificateExpired, SnpVerifier.WithAmdRoots(new At(new DateTimeOffset(2031, 1, 1, 0, 0, 0, TimeSpan.Zero))).Verify(Report(), Vcek(), ask, ark).Refusal);
        Assert.Equal(SnpRefusal.Malformed, verifier.Verify(Report().AsSpan(1), Vcek(), ask, ark).Refusal);
    }

    private static string Resource(string name)
    {
        using var stream = typeof(SnpVerifierTests).Assembly.GetManifestResourceStream(name) ?? throw new InvalidOperationException(name + " is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private sealed class At(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
