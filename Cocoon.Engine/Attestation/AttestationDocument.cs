using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cocoon.Engine.Attestation;

/// <summary>What the worker runs on. Informational: it is signed, so it cannot be changed in transit, but it is self-reported.</summary>
public sealed record HardwareInfo(
    [property: JsonPropertyOrder(0)] string Cpu,
    [property: JsonPropertyOrder(1)] string? Gpu,
    [property: JsonPropertyOrder(2)] long MemoryBytes,
    [property: JsonPropertyOrder(3)] int Threads);

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

    /// <summary><see cref="TeeKinds.Simulated"/> or <see cref="TeeKinds.Tdx"/>.</summary>
    [JsonPropertyOrder(14)]
    public required string TeeKind { get; init; }

    /// <summary>
    /// Tokens of context one request may fill on this worker (prompt and answer together), as the loaded model reports
    /// it; 0 in a document from a worker that predates the field. Signed like every claim; left out of the canonical
    /// bytes when 0, so such older documents still verify (their hash did not cover it).
    /// </summary>
    [JsonPropertyOrder(15)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int ContextLength { get; init; }

    /// <summary>
    /// What the model does (<see cref="Protocol.ModelKinds"/>): null for a chat model, as every document before the
    /// field; "embedding" for an embedding model. Left out of the canonical bytes when null, like ContextLength.
    /// </summary>
    [JsonPropertyOrder(16)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public string? ModelKind { get; init; }

    /// <summary>The length of the vectors an embedding model returns; 0 for a chat model (and left out).</summary>
    [JsonPropertyOrder(17)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int EmbeddingDimensions { get; init; }

    [JsonIgnore]
    public bool IsSimulated => TeeKind == TeeKinds.Simulated;

    /// <summary>Compact UTF-8 JSON with a fixed property order: the bytes that are hashed and signed.</summary>
    public byte[] ToCanonicalBytes() => JsonSerializer.SerializeToUtf8Bytes(this, AttestationJson.Default.AttestationDocument);

    /// <summary>SHA-256 of the canonical bytes: what the TEE binds into its evidence (report data).</summary>
    public byte[] ComputeHash() => SHA256.HashData(ToCanonicalBytes());
}
