using Cocoon.Worker.Attestation;
using System.Buffers.Binary;
using System.Security.Cryptography;
using Cocoon.Engine.Attestation;
using Cocoon.Testing;

namespace Cocoon.Worker.Tests.Attestation;

public sealed class TdxTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private const string ModelHash = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    private const string WorkerMeasurement = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
    private static readonly byte[] MrTd = Enumerable.Range(0, 48).Select(i => (byte)i).ToArray();

    private readonly WorkerIdentity _identity = WorkerIdentity.Create("tdx-worker");
    private readonly ManualClock _clock = new(T0);

    public void Dispose() => _identity.Dispose();

    private static WorkerClaims Claims => new("p", "m", ModelHash, WorkerMeasurement, new HardwareInfo("cpu", "gpu", 1, 1), "eu", 1000, 1);

    private static AttestationPolicy Policy => new() { AllowedMeasurements = [WorkerMeasurement], ServedModelHashes = [ModelHash] };

    /// <summary>
    /// Lays out a TD quote (v4 header, TD 1.0 report body, signature data) the way the TDX quoting enclave does.
    /// The signature data is random bytes: no hardware here can produce a real one, and Cocoon does not check it.
    /// </summary>
    internal static byte[] BuildQuote(ReadOnlySpan<byte> reportData, ushort version = 4, uint teeType = 0x81)
    {
        var bodyOffset = TdxQuote.HeaderSize + (version == 5 ? 6 : 0);
        var quote = new byte[bodyOffset + TdxQuote.Td10BodySize + 4 + 64];
        BinaryPrimitives.WriteUInt16LittleEndian(quote, version);
        BinaryPrimitives.WriteUInt16LittleEndian(quote.AsSpan(2), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(quote.AsSpan(4), teeType);
        if (version == 5)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(quote.AsSpan(TdxQuote.HeaderSize), 2);
            BinaryPrimitives.WriteInt32LittleEndian(quote.AsSpan(TdxQuote.HeaderSize + 2), TdxQuote.Td10BodySize);
        }

        MrTd.CopyTo(quote, bodyOffset + 136);
        reportData.CopyTo(quote.AsSpan(bodyOffset + 520));
        BinaryPrimitives.WriteUInt32LittleEndian(quote.AsSpan(bodyOffset + TdxQuote.Td10BodySize), 64);
        RandomNumberGenerator.Fill(quote.AsSpan(bodyOffset + TdxQuote.Td10BodySize + 4));
        return quote;
    }

    private async Task<AttestationBundle> TdxBundleAsync(Func<byte[], byte[]>? makeQuote = null)
    {
        // Attest through the simulated provider's shape, then replace the evidence with a quote over the same hash.
        var bundle = await _identity.AttestAsync(Claims, new QuoteLayout(), _clock, TimeSpan.FromMinutes(10), CancellationToken.None);
        var hash = bundle.Document.ComputeHash();
        var reportData = new byte[64];
        hash.CopyTo(reportData, 0);
        return bundle with { Evidence = new AttestationEvidence("tdx", (makeQuote ?? (rd => BuildQuote(rd)))(reportData)) };
    }

    [Fact]
    public async Task Provider_reports_missing_configfs_tsm_clearly()
    {
        var root = Path.Combine(Path.GetTempPath(), "cocoon-no-tsm-" + Guid.NewGuid().ToString("N"));
        var provider = new TdxTeeProvider(root);
        Assert.False(provider.IsAvailable);
        Assert.Equal("tdx", provider.Kind);
        var e = await Assert.ThrowsAsync<TeeUnavailableException>(() => provider.AttestAsync(new byte[32], CancellationToken.None));
        Assert.Contains(root, e.Message);
        Assert.Contains("simulated", e.Message);
    }

    [Fact]
    public void Default_provider_looks_at_the_kernel_interface()
    {
        // The kernel's documented path (Documentation/ABI/testing/configfs-tsm), written out rather than read back.
        Assert.Equal("/sys/kernel/config/tsm/report", TdxTeeProvider.DefaultReportRoot);
    }

    [Fact]
    public void Availability_follows_the_report_folder_that_exists()
    {
        using var present = new TempDir("cocoon-tsm-present");
        Assert.True(new TdxTeeProvider(present.Path).IsAvailable);
        Assert.False(new TdxTeeProvider(Path.Combine(present.Path, "report")).IsAvailable);
        File.WriteAllText(present.File("report"), "a file, not a folder");
        Assert.False(new TdxTeeProvider(present.File("report")).IsAvailable);
    }

    [Fact]
    public async Task Provider_refuses_a_folder_that_is_not_configfs_tsm()
    {
        using var dir = new TempDir("cocoon-fake-tsm");
        var provider = new TdxTeeProvider(dir.Path);
        Assert.True(provider.IsAvailable);
        var e = await Assert.ThrowsAsync<TeeUnavailableException>(() => provider.AttestAsync(new byte[32], CancellationToken.None));
        Assert.Contains("outblob", e.Message);

        // On a plain folder the written inblob keeps the entry from being removed with rmdir; on configfs it goes.
        foreach (var entry in Directory.GetDirectories(dir.Path))
        {
            Assert.Equal(64, new FileInfo(Path.Combine(entry, "inblob")).Length);
        }
    }

    [Fact]
    public async Task Provider_rejects_a_hash_of_the_wrong_size()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => new TdxTeeProvider("/nonexistent").AttestAsync(new byte[31], CancellationToken.None));
    }

    [Fact]
    public void Quote_parser_reads_v4_and_v5_layouts()
    {
        var reportData = RandomNumberGenerator.GetBytes(64);
        foreach (ushort version in new ushort[] { 4, 5 })
        {
            var quote = TdxQuote.TryParse(BuildQuote(reportData, version), out var error);
            Assert.True(quote is not null, error);
            Assert.Equal(version, quote.Version);
            Assert.Equal(reportData, quote.ReportData);
            Assert.Equal(MrTd, quote.MrTd);
            Assert.Equal(4, quote.Rtmrs.Length);
        }
    }

    [Fact]
    public void Quote_parser_refuses_wrong_tee_version_and_length()
    {
        Assert.Null(TdxQuote.TryParse(BuildQuote(new byte[64], teeType: 0), out var e1));
        Assert.Contains("not TDX", e1);
        Assert.Null(TdxQuote.TryParse(BuildQuote(new byte[64], version: 3), out var e2));
        Assert.Contains("version", e2);
        Assert.Null(TdxQuote.TryParse(BuildQuote(new byte[64]).AsSpan(0, 600), out _));
        var badSigLength = BuildQuote(new byte[64]);
        BinaryPrimitives.WriteUInt32LittleEndian(badSigLength.AsSpan(TdxQuote.HeaderSize + TdxQuote.Td10BodySize), 100_000);
        Assert.Null(TdxQuote.TryParse(badSigLength, out var e3));
        Assert.Contains("signature data length", e3);
    }

    [Fact]
    public async Task Bound_quote_is_refused_as_unverifiable_by_default()
    {
        var verdict = new AttestationVerifier(Policy, _clock).Verify(await TdxBundleAsync());
        Assert.Equal(AttestationRefusal.TdxUnverifiable, verdict.Refusal);
        Assert.Contains("Intel signature chain", verdict.Detail);
    }

    [Fact]
    public async Task Bound_quote_is_accepted_when_the_policy_accepts_unverified_quotes()
    {
        var bundle = await TdxBundleAsync();
        var verdict = new AttestationVerifier(Policy with { AcceptUnverifiedTdxQuotes = true, AllowedTdxMrTd = [Convert.ToHexString(MrTd)] }, _clock).Verify(bundle);
        Assert.True(verdict.Accepted, verdict.Detail);
        Assert.False(verdict.IsSimulated);
    }

    [Fact]
    public async Task Quote_over_another_document_is_refused()
    {
        var bundle = await TdxBundleAsync(rd => BuildQuote(RandomNumberGenerator.GetBytes(64)));
        var verdict = new AttestationVerifier(Policy with { AcceptUnverifiedTdxQuotes = true }, _clock).Verify(bundle);
        Assert.Equal(AttestationRefusal.EvidenceMismatch, verdict.Refusal);
    }

    [Fact]
    public async Task Quote_with_an_unlisted_mrtd_is_refused()
    {
        var policy = Policy with { AcceptUnverifiedTdxQuotes = true, AllowedTdxMrTd = [new string('a', 96)] };
        Assert.Equal(AttestationRefusal.UnknownMeasurement, new AttestationVerifier(policy, _clock).Verify(await TdxBundleAsync()).Refusal);
    }

    [Fact]
    public async Task Garbage_quote_is_malformed()
    {
        var bundle = await TdxBundleAsync(_ => RandomNumberGenerator.GetBytes(100));
        Assert.Equal(AttestationRefusal.Malformed, new AttestationVerifier(Policy, _clock).Verify(bundle).Refusal);
    }

    /// <summary>Names the document "tdx" so the worker's signature covers that kind; the evidence is replaced by a laid-out quote.</summary>
    private sealed class QuoteLayout : ITeeProvider
    {
        public string Kind => TdxTeeProvider.TeeKind;

        public Task<AttestationEvidence> AttestAsync(ReadOnlyMemory<byte> documentHash, CancellationToken cancellationToken) =>
            Task.FromResult(new AttestationEvidence(Kind, []));
    }
}
