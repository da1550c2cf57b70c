using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cocoon.Engine.Attestation;

/// <summary>What the worker runs on. Informational: it is signed, so it cannot be changed in transit, but it is self-reported.</summary>
public sealed record HardwareInfo(
    [property: JsonPropertyOrder(0)] string Cpu,
    [property: JsonPropertyOrder(1)] string? Gpu,
    [property: JsonPropertyOrder(2)] long MemoryBytes,
    [property: JsonPropertyOrder(3)] int Threads)
{
    /// <summary>Reads this machine: CPU model from /proc/cpuinfo where there is one, memory and logical threads from the runtime.</summary>
    public static HardwareInfo Detect(string? gpu = null) => Detect(gpu, "/proc/cpuinfo");

    /// <summary>As <see cref="Detect(string?)"/>, reading the CPU model from the given cpuinfo file.</summary>
    public static HardwareInfo Detect(string? gpu, string cpuInfoPath)
    {
        var cpu = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
        try
        {
            if (File.Exists(cpuInfoPath))
            {
                var model = File.ReadLines(cpuInfoPath).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
                if (model?.Split(':', 2) is [_, var name] && name.Trim().Length > 0)
                {
                    cpu = name.Trim();
                }
            }
        }
        catch (IOException)
        {
            // Unreadable /proc is not worth failing start-up over; the architecture name remains.
        }
        catch (UnauthorizedAccessException)
        {
        }

        return new HardwareInfo(cpu, gpu, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, Environment.ProcessorCount);
    }
}

/// <summary>
/// What a worker claims about itself, bound to a TEE by the hash of its canonical encoding. The gateway seals jobs
/// only to <see cref="HpkePublicKey"/> and accepts receipts only under <see cref="SigningPublicKey"/>.
/// Times are carried at millisecond precision (the canonical encoding writes Unix milliseconds).
/// </summary>
public sealed record AttestationDocument
{
    public const int CurrentVersion = 1;

    [JsonPropertyOrder(0)]
    public int Version { get; init; } = CurrentVersion;

    [JsonPropertyOrder(1)]
    public required string WorkerId { get; init; }

    [JsonPropertyOrder(2)]
    public required string ProviderId { get; init; }

    [JsonPropertyOrder(3)]
    public required string ModelName { get; init; }

    /// <summary>SHA-256 of the GGUF file, lowercase hex.</summary>
    [JsonPropertyOrder(4)]
    public required string ModelSha256 { get; init; }

    /// <summary>SHA-256 over the worker's own assemblies and native libraries (<see cref="Attestation.Measurement"/>), lowercase hex.</summary>
    [JsonPropertyOrder(5)]
    public required string Measurement { get; init; }

    /// <summary>X25519 public key jobs are sealed to (HPKE).</summary>
    [JsonPropertyOrder(6)]
    public required byte[] HpkePublicKey { get; init; }

    /// <summary>Ed25519 public key that signs this document and every usage receipt.</summary>
    [JsonPropertyOrder(7)]
    public required byte[] SigningPublicKey { get; init; }

    [JsonPropertyOrder(8)]
    public required HardwareInfo Hardware { get; init; }

    [JsonPropertyOrder(9)]
    public required string Region { get; init; }

    /// <summary>Price multiplier in thousandths: 1000 is 1.0x the network's base price.</summary>
    [JsonPropertyOrder(10)]
    public required int PriceCoefficient { get; init; }

    [JsonPropertyOrder(11)]
    public required int MaxConcurrency { get; init; }

    [JsonPropertyOrder(12)]
    public required DateTimeOffset IssuedAt { get; init; }

    [JsonPropertyOrder(13)]
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary><see cref="SimulatedTeeProvider.TeeKind"/> or <see cref="TdxTeeProvider.TeeKind"/>.</summary>
    [JsonPropertyOrder(14)]
    public required string TeeKind { get; init; }

    [JsonIgnore]
    public bool IsSimulated => TeeKind == SimulatedTeeProvider.TeeKind;

    /// <summary>Compact UTF-8 JSON with a fixed property order: the bytes that are hashed and signed.</summary>
    public byte[] ToCanonicalBytes() => JsonSerializer.SerializeToUtf8Bytes(this, AttestationJson.Default.AttestationDocument);

    /// <summary>SHA-256 of the canonical bytes: what the TEE binds into its evidence (report data).</summary>
    public byte[] ComputeHash() => SHA256.HashData(ToCanonicalBytes());
}
