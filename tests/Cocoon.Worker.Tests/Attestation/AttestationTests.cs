using Cocoon.Worker.Attestation;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cocoon.Engine.Attestation;
using Cocoon.Testing;

namespace Cocoon.Worker.Tests.Attestation;

public sealed class AttestationTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private const string ModelHash = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

    private readonly TempDir _dir = new("cocoon-attest");
    private readonly SimulatedTeeProvider _tee;
    private readonly WorkerIdentity _identity = WorkerIdentity.Create("worker-1");
    private readonly ManualClock _clock = new(T0);
    private readonly string _measurement;

    public AttestationTests()
    {
        _tee = SimulatedTeeProvider.LoadOrCreate(_dir.File("simulated-tee"));
        File.WriteAllText(_dir.File("Cocoon.Worker.dll"), "worker code");
        File.WriteAllText(_dir.File("libllama.so"), "native code");
        _measurement = Measurement.Compute([_dir.File("Cocoon.Worker.dll"), _dir.File("libllama.so")]);
    }

    public void Dispose()
    {
        _identity.Dispose();
        _tee.Dispose();
        _dir.Dispose();
    }

    private WorkerClaims Claims => new(
        "provider-1", "stories260K", ModelHash, _measurement, new HardwareInfo("Test CPU", null, 8L << 30, 8), "eu", 1000, 4);

    private AttestationPolicy Policy => new()
    {
        AllowedMeasurements = [_measurement],
        ServedModelHashes = [ModelHash.ToUpperInvariant()],
        TrustedSimulatedPlatformKeys = [Convert.ToHexStringLower(_tee.PlatformPublicKey)],
    };

    private Task<AttestationBundle> AttestAsync(ITeeProvider? tee = null, WorkerIdentity? identity = null) =>
        (identity ?? _identity).AttestAsync(Claims, tee ?? _tee, _clock, TimeSpan.FromMinutes(30), CancellationToken.None);

    private AttestationVerdict Verify(AttestationBundle bundle, AttestationPolicy? policy = null) =>
        new AttestationVerifier(policy ?? Policy, _clock).Verify(bundle);

    [Fact]
    public async Task Genuine_simulated_bundle_is_accepted_and_says_simulated()
    {
        var bundle = await AttestAsync();
        var verdict = Verify(bundle);
        Assert.True(verdict.Accepted, verdict.Detail);
        Assert.Equal(AttestationRefusal.None, verdict.Refusal);
        Assert.True(verdict.IsSimulated);
        Assert.Equal("simulated", bundle.Document.TeeKind);
        Assert.Equal("simulated", bundle.Evidence.Kind);
        Assert.Equal(_identity.Sealing.PublicKey, bundle.Document.HpkePublicKey);
        Assert.Equal(_identity.SigningPublicKey, bundle.Document.SigningPublicKey);
        Assert.Equal(T0, bundle.Document.IssuedAt);
        Assert.Equal(T0.AddMinutes(30), bundle.Document.ExpiresAt);
    }

    [Fact]
    public async Task Bundle_survives_json_round_trip_and_still_verifies()
    {
        var bundle = await AttestAsync();
        var json = bundle.ToJson();
        var parsed = AttestationBundle.FromJson(json);
        Assert.Equal(bundle.Document.ToCanonicalBytes(), parsed.Document.ToCanonicalBytes());
        Assert.True(Verify(parsed).Accepted);
        Assert.Contains("\"teeKind\":\"simulated\"", json);
    }

    [Fact]
    public async Task Canonical_bytes_have_a_fixed_order_and_unix_millisecond_times()
    {
        var doc = (await AttestAsync()).Document;
        var text = System.Text.Encoding.UTF8.GetString(doc.ToCanonicalBytes());
        var names = JsonNode.Parse(text)!.AsObject().Select(p => p.Key).ToArray();
        Assert.Equal(
            ["version", "workerId", "providerId", "modelName", "modelSha256", "measurement", "hpkePublicKey", "signingPublicKey",
             "hardware", "region", "priceCoefficient", "maxConcurrency", "issuedAt", "expiresAt", "teeKind"],
            names);
        Assert.Contains($"\"issuedAt\":{T0.ToUnixTimeMilliseconds()}", text);

        // The same instant with another offset encodes identically.
        var shifted = doc with { IssuedAt = doc.IssuedAt.ToOffset(TimeSpan.FromHours(5)) };
        Assert.Equal(doc.ComputeHash(), shifted.ComputeHash());
    }

    [Fact]
    public async Task Bad_worker_signature_is_refused()
    {
        var bundle = await AttestAsync();
        var signature = (byte[])bundle.WorkerSignature.Clone();
        signature[10] ^= 1;
        Assert.Equal(AttestationRefusal.BadSignature, Verify(bundle with { WorkerSignature = signature }).Refusal);
    }

    [Theory]
    [InlineData("price")]
    [InlineData("hpke")]
    [InlineData("model")]
    [InlineData("concurrency")]
    [InlineData("region")]
    [InlineData("expiry")]
    public async Task Tampered_field_is_refused(string field)
    {
        var bundle = await AttestAsync();
        var d = bundle.Document;
        using var attacker = WorkerIdentity.Create("attacker");
        var tampered = field switch
        {
            "price" => d with { PriceCoefficient = 1 },
            "hpke" => d with { HpkePublicKey = attacker.Sealing.PublicKey },
            "model" => d with { ModelName = "other" },
            "concurrency" => d with { MaxConcurrency = 1000 },
            "region" => d with { Region = "us" },
            _ => d with { ExpiresAt = d.ExpiresAt.AddDays(30) },
        };
        var verdict = Verify(bundle with { Document = tampered });
        Assert.Equal(AttestationRefusal.BadSignature, verdict.Refusal);
        Assert.Contains("document signature", verdict.Detail);
    }

    [Fact]
    public async Task Resigned_document_with_attacker_keys_fails_the_platform_signature()
    {
        var bundle = await AttestAsync();
        using var attacker = WorkerIdentity.Create("worker-1");
        var forged = bundle.Document with { HpkePublicKey = attacker.Sealing.PublicKey, SigningPublicKey = attacker.SigningPublicKey };
        var signature = attacker.Sign([.. "cocoon attestation document v1\0"u8, .. forged.ToCanonicalBytes()]);
        var verdict = Verify(bundle with { Document = forged, WorkerSignature = signature });
        Assert.Equal(AttestationRefusal.BadSignature, verdict.Refusal);
        Assert.Contains("platform signature", verdict.Detail);
    }

    [Fact]
    public async Task Document_from_an_untrusted_platform_is_refused()
    {
        using var otherDir = new TempDir("cocoon-attest-other");
        using var rogue = SimulatedTeeProvider.LoadOrCreate(otherDir.Path);
        var verdict = Verify(await AttestAsync(rogue));
        Assert.Equal(AttestationRefusal.UntrustedPlatform, verdict.Refusal);
    }

    [Fact]
    public async Task Evidence_swapped_from_another_document_is_refused()
    {
        var a = await AttestAsync();
        _clock.Now = T0.AddSeconds(1);
        var b = await AttestAsync();
        Assert.Equal(AttestationRefusal.BadSignature, Verify(a with { Evidence = b.Evidence }).Refusal);
    }

    [Fact]
    public async Task Simulated_documents_are_refused_when_the_policy_requires_hardware()
    {
        var verdict = Verify(await AttestAsync(), Policy with { AllowSimulated = false });
        Assert.Equal(AttestationRefusal.SimulatedNotAllowed, verdict.Refusal);
    }

    [Fact]
    public async Task Expired_document_is_refused()
    {
        var bundle = await AttestAsync();
        _clock.Now = T0.AddMinutes(30).AddSeconds(29);
        Assert.True(Verify(bundle).Accepted, "within the clock skew");
        _clock.Now = T0.AddMinutes(31);
        Assert.Equal(AttestationRefusal.Expired, Verify(bundle).Refusal);
    }

    [Fact]
    public async Task Document_older_than_max_age_is_refused_even_before_its_expiry()
    {
        var bundle = await _identity.AttestAsync(Claims, _tee, _clock, TimeSpan.FromDays(7), CancellationToken.None);
        _clock.Now = T0.AddHours(2);
        var verdict = Verify(bundle);
        Assert.Equal(AttestationRefusal.Expired, verdict.Refusal);
        Assert.Contains("older than", verdict.Detail);
    }

    [Fact]
    public async Task Document_issued_in_the_future_is_refused()
    {
        var bundle = await AttestAsync();
        _clock.Now = T0.AddMinutes(-5);
        Assert.Equal(AttestationRefusal.NotYetValid, Verify(bundle).Refusal);
    }

    [Fact]
    public async Task Unknown_measurement_is_refused()
    {
        var verdict = Verify(await AttestAsync(), Policy with { AllowedMeasurements = [new string('0', 64)] });
        Assert.Equal(AttestationRefusal.UnknownMeasurement, verdict.Refusal);
        Assert.Equal(AttestationRefusal.UnknownMeasurement, Verify(await AttestAsync(), Policy with { AllowedMeasurements = [] }).Refusal);
    }

    [Fact]
    public async Task Wrong_model_hash_is_refused()
    {
        var verdict = Verify(await AttestAsync(), Policy with { ServedModelHashes = [new string('f', 64)] });
        Assert.Equal(AttestationRefusal.UnknownModel, verdict.Refusal);
    }

    [Fact]
    public async Task Malformed_documents_are_refused()
    {
        var bundle = await AttestAsync();
        Assert.Equal(AttestationRefusal.Malformed, Verify(bundle with { Document = bundle.Document with { HpkePublicKey = new byte[31] } }).Refusal);
        Assert.Equal(AttestationRefusal.Malformed, Verify(bundle with { Document = bundle.Document with { ModelSha256 = "not hex" } }).Refusal);
        Assert.Equal(AttestationRefusal.Malformed, Verify(bundle with { Document = bundle.Document with { Version = 2 } }).Refusal);
        Assert.Equal(AttestationRefusal.Malformed, Verify(bundle with { Evidence = bundle.Evidence with { Kind = "tdx" } }).Refusal);
        Assert.Equal(AttestationRefusal.Malformed, Verify(bundle with { WorkerSignature = new byte[3] }).Refusal);
        Assert.Equal(AttestationRefusal.Malformed, Verify(bundle with { Evidence = bundle.Evidence with { PlatformPublicKey = null } }).Refusal);
        Assert.Equal(AttestationRefusal.Malformed, new AttestationVerifier(Policy, _clock).Verify(null).Refusal);
    }

    [Fact]
    public async Task Unknown_tee_kind_is_refused()
    {
        var bundle = await AttestAsync(new NamedTee("sgx"));
        Assert.Equal(AttestationRefusal.UnknownTee, Verify(bundle).Refusal);
    }

    [Fact]
    public async Task Json_with_unknown_or_missing_members_does_not_parse()
    {
        var json = JsonNode.Parse((await AttestAsync()).ToJson())!.AsObject();
        json["document"]!.AsObject()["extra"] = 1;
        Assert.ThrowsAny<JsonException>(() => AttestationBundle.FromJson(json.ToJsonString()));

        json["document"]!.AsObject().Remove("extra");
        json["document"]!.AsObject().Remove("measurement");
        Assert.ThrowsAny<JsonException>(() => AttestationBundle.FromJson(json.ToJsonString()));
    }

    [Fact]
    public void Platform_key_is_created_once_owner_only_and_reloaded()
    {
        var folder = _dir.File("simulated-tee");
        var path = Path.Combine(folder, SimulatedTeeProvider.KeyFileName);
        Assert.Equal(32, new FileInfo(path).Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        using var again = SimulatedTeeProvider.LoadOrCreate(folder);
        Assert.Equal(_tee.PlatformPublicKey, again.PlatformPublicKey);
        Assert.Equal(_tee.PlatformPublicKey, SimulatedTeeProvider.ReadPlatformPublicKey(folder));
        Assert.Empty(Directory.GetFiles(folder, "*.tmp"));
    }

    [Fact]
    public async Task Workers_starting_together_share_one_platform_key()
    {
        var folder = _dir.File("race");
        var keys = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => SimulatedTeeProvider.ReadPlatformPublicKey(folder))));
        Assert.All(keys, k => Assert.Equal(keys[0], k));
        Assert.Single(Directory.GetFiles(folder));
    }

    [Fact]
    public void Corrupt_platform_key_file_gives_a_clear_error()
    {
        var folder = _dir.File("corrupt");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, SimulatedTeeProvider.KeyFileName), new byte[5]);
        var e = Assert.Throws<InvalidOperationException>(() => SimulatedTeeProvider.LoadOrCreate(folder));
        Assert.Contains("delete it", e.Message);
    }

    [Fact]
    public void Hardware_detection_reads_the_cpu_model_from_cpuinfo()
    {
        var cpuinfo = _dir.File("cpuinfo");
        File.WriteAllText(cpuinfo, "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Fixture CPU @ 2.10GHz \nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: Second\n");
        var hw = HardwareDetection.Detect("Fixture GPU", cpuinfo);
        Assert.Equal("Fixture CPU @ 2.10GHz", hw.Cpu);
        Assert.Equal("Fixture GPU", hw.Gpu);
        Assert.True(hw.MemoryBytes > 0);
        Assert.True(hw.Threads > 0);

        // No model line (some ARM kernels), an empty one, or no file at all: the architecture name.
        var arch = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
        File.WriteAllText(cpuinfo, "processor\t: 0\nBogoMIPS\t: 50.00\n");
        Assert.Equal(arch, HardwareDetection.Detect(null, cpuinfo).Cpu);
        File.WriteAllText(cpuinfo, "model name\t:   \n");
        Assert.Equal(arch, HardwareDetection.Detect(null, cpuinfo).Cpu);
        Assert.Equal(arch, HardwareDetection.Detect(null, _dir.File("no-such-cpuinfo")).Cpu);
    }

    /// <summary>A TEE kind the verifier does not know, signing nothing: checks the refusal path, not a provider.</summary>
    private sealed class NamedTee(string kind) : ITeeProvider
    {
        public string Kind => kind;

        public Task<AttestationEvidence> AttestAsync(ReadOnlyMemory<byte> documentHash, CancellationToken cancellationToken) =>
            Task.FromResult(new AttestationEvidence(kind, documentHash.ToArray()));
    }
}
