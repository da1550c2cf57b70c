using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cocoon.Engine.Protocol;
using NSec.Cryptography;

namespace Cocoon.Engine.Attestation;

/// <summary>
/// What a worker vouches for after a job: the tokens it counted, a hash of exactly the ciphertexts it sent
/// (<see cref="Crypto.ChunkSealer.TranscriptHash"/>), so the bill is tied to the answer the gateway received, and
/// (version 2) hashes the caller can recompute from its own bytes: the request as sealed and the answer text
/// (<see cref="ReceiptHashes"/>), with the price coefficient and the TEE kind the worker ran under. Hashes only:
/// a receipt never holds text, so it can be stored, returned and anchored.
/// </summary>
public sealed record UsageReceipt
{
    public const int CurrentVersion = 2;

    [JsonPropertyOrder(0)]
    public int Version { get; init; } = CurrentVersion;

    [JsonPropertyOrder(1)]
    public required string RequestId { get; init; }

    [JsonPropertyOrder(2)]
    public required string WorkerId { get; init; }

    [JsonPropertyOrder(3)]
    public required string ModelSha256 { get; init; }

    [JsonPropertyOrder(4)]
    public required int PromptTokens { get; init; }

    [JsonPropertyOrder(5)]
    public required int CompletionTokens { get; init; }

    [JsonPropertyOrder(6)]
    public required FinishReason FinishReason { get; init; }

    /// <summary>SHA-256 over the sealed chunk ciphertexts in order (length-prefixed), as the chunk sealer computes it.</summary>
    [JsonPropertyOrder(7)]
    public required byte[] ChunksSha256 { get; init; }

    [JsonPropertyOrder(8)]
    public required DateTimeOffset WorkerStartedAt { get; init; }

    [JsonPropertyOrder(9)]
    public required DateTimeOffset WorkerFinishedAt { get; init; }

    /// <summary>
    /// Prompt tokens the worker took from its prefix cache (part of PromptTokens), billed at the cached-prompt price.
    /// Left out of the signed JSON when 0 (it came before receipt v2; order 20 keeps it after the v2 fields).
    /// </summary>
    [JsonPropertyOrder(20)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int CachedPromptTokens { get; init; }

    /// <summary>SHA-256 of the request exactly as sealed to the worker (<see cref="ReceiptHashes.Request"/>).</summary>
    [JsonPropertyOrder(10)]
    public required byte[] RequestSha256 { get; init; }

    /// <summary>SHA-256 of the answer text the worker sent: the UTF-8 bytes of every chunk's text, concatenated.</summary>
    [JsonPropertyOrder(11)]
    public required byte[] ResponseSha256 { get; init; }

    /// <summary>The worker's price multiplier in thousandths, as in its attestation document.</summary>
    [JsonPropertyOrder(12)]
    public required int PriceCoefficient { get; init; }

    /// <summary>The TEE the worker ran in (<see cref="TeeKinds"/>), as in its attestation document.</summary>
    [JsonPropertyOrder(13)]
    public required string TeeKind { get; init; }

    internal static ReadOnlySpan<byte> Domain => "cocoon usage receipt v1\0"u8;

    /// <summary>Compact UTF-8 JSON with a fixed property order and times in Unix milliseconds.</summary>
    public byte[] ToCanonicalBytes() => JsonSerializer.SerializeToUtf8Bytes(this, AttestationJson.Default.UsageReceipt);

    public SignedUsageReceipt Sign(WorkerIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        return new SignedUsageReceipt(this, identity.Sign(SignedMessage()));
    }

    internal byte[] SignedMessage() => [.. Domain, .. ToCanonicalBytes()];
}

/// <summary>A usage receipt with the worker's Ed25519 signature; verify it with the signing key from the worker's attestation.</summary>
public sealed record SignedUsageReceipt(UsageReceipt Receipt, byte[] Signature)
{
    public bool Verify(ReadOnlySpan<byte> signingPublicKey)
    {
        if (Receipt is null || Signature is not { Length: 64 }
            || !PublicKey.TryImport(SignatureAlgorithm.Ed25519, signingPublicKey, KeyBlobFormat.RawPublicKey, out var key) || key is null)
        {
            return false;
        }

        return SignatureAlgorithm.Ed25519.Verify(key, Receipt.SignedMessage(), Signature);
    }

    /// <summary>
    /// The receipt of one attempt as the gateway accepts it, or null: it parses, carries the signature of the worker
    /// that was attested (<paramref name="worker"/>), names this request, that worker, its model, price and TEE kind,
    /// hashes exactly the ciphertexts the gateway received (<paramref name="transcriptHash"/>), the request it sealed
    /// and the text it opened (<paramref name="content"/>), and bills no more completion tokens than the request
    /// allowed. A stopped answer's receipt (the caller left) must say <see cref="FinishReason.Cancelled"/>, and only
    /// such a receipt may. Any failure is the same null: a receipt is either the bill or worthless.
    /// </summary>
    public static SignedUsageReceipt? Accept(byte[]? json, AttestationDocument worker, string requestId, ReadOnlySpan<byte> transcriptHash, int maxTokens, ReceiptContent content)
    {
        ArgumentNullException.ThrowIfNull(worker);
        ArgumentNullException.ThrowIfNull(content);
        if (json is null)
        {
            return null;
        }

        SignedUsageReceipt receipt;
        try
        {
            receipt = FromJson(Encoding.UTF8.GetString(json));
        }
        catch (Exception e) when (e is JsonException or ArgumentException or FormatException)
        {
            return null;
        }

        var r = receipt.Receipt;
        return receipt.Verify(worker.SigningPublicKey)
            && r.RequestId == requestId
            && r.WorkerId == worker.WorkerId
            && string.Equals(r.ModelSha256, worker.ModelSha256, StringComparison.OrdinalIgnoreCase)
            && r.ChunksSha256 is { Length: 32 }
            && CryptographicOperations.FixedTimeEquals(r.ChunksSha256, transcriptHash)
            && r.PromptTokens >= 0 && r.CompletionTokens >= 0
            && r.CachedPromptTokens >= 0 && r.CachedPromptTokens <= r.PromptTokens
            && r.CompletionTokens <= maxTokens
            && r.Version == UsageReceipt.CurrentVersion
            && r.RequestSha256 is { Length: 32 } && (content.RequestSha256 is null || CryptographicOperations.FixedTimeEquals(r.RequestSha256, content.RequestSha256))
            && r.ResponseSha256 is { Length: 32 } && (content.ResponseSha256 is null || CryptographicOperations.FixedTimeEquals(r.ResponseSha256, content.ResponseSha256))
            && r.PriceCoefficient == worker.PriceCoefficient
            && r.TeeKind == worker.TeeKind
            && (r.FinishReason == FinishReason.Cancelled) == content.Stopped
            ? receipt
            : null;
    }

    public string ToJson() => JsonSerializer.Serialize(this, AttestationJson.Default.SignedUsageReceipt);

    public static SignedUsageReceipt FromJson(string json) =>
        JsonSerializer.Deserialize(json, AttestationJson.Default.SignedUsageReceipt)
        ?? throw new JsonException("The usage receipt is null.");
}

/// <summary>
/// What the gateway itself computed for one attempt, for <see cref="SignedUsageReceipt.Accept"/>: the hash of the request
/// it sealed, the hash of the text it opened, and whether the answer was stopped (a receipt for the part delivered).
/// A gateway that relays a request the client sealed itself sees neither text: <see cref="Blind"/> leaves both hashes
/// to the client, which recomputes them from its own bytes (the receipt must still carry them).
/// </summary>
public sealed record ReceiptContent(byte[]? RequestSha256, byte[]? ResponseSha256, bool Stopped)
{
    public static ReceiptContent Blind(bool stopped) => new(null, null, stopped);
}
