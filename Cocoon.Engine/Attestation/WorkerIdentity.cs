using System.Text.Json;
using Cocoon.Engine.Crypto;
using NSec.Cryptography;

namespace Cocoon.Engine.Attestation;

/// <summary>
/// What a worker declares about itself; <see cref="WorkerIdentity.AttestAsync"/> adds keys, times and the TEE kind.
/// ContextLength is the loaded model's tokens per request (<see cref="Protocol.ModelInfo.ContextLength"/>).
/// </summary>
public sealed record WorkerClaims(
    string ProviderId,
    string ModelName,
    string ModelSha256,
    string Measurement,
    HardwareInfo Hardware,
    string Region,
    int PriceCoefficient,
    int MaxConcurrency,
    int ContextLength = 0,
    string? ModelKind = null,
    int EmbeddingDimensions = 0);

/// <summary>
/// A signed attestation as it is published: the document, the worker's Ed25519 signature over its canonical bytes
/// (proof it holds the signing key) and the TEE's evidence over the document hash.
/// </summary>
public sealed record AttestationBundle(AttestationDocument Document, byte[] WorkerSignature, AttestationEvidence Evidence)
{
    internal static ReadOnlySpan<byte> Domain => "cocoon attestation document v1\0"u8;

    internal static byte[] SignedMessage(AttestationDocument document) => [.. Domain, .. document.ToCanonicalBytes()];

    public string ToJson() => JsonSerializer.Serialize(this, AttestationJson.Default.AttestationBundle);

    /// <summary>Parses a published bundle; throws <see cref="JsonException"/> on anything malformed (unknown or missing fields).</summary>
    public static AttestationBundle FromJson(string json) =>
        JsonSerializer.Deserialize(json, AttestationJson.Default.AttestationBundle)
        ?? throw new JsonException("The attestation bundle is null.");
}

/// <summary>
/// A worker's keys, created in memory at start and never written anywhere: X25519 for jobs sealed to it (HPKE),
/// Ed25519 for its attestation document and usage receipts. A restart means new keys and a new attestation.
/// </summary>
public sealed class WorkerIdentity : IDisposable
{
    private readonly Key _signingKey;

    private WorkerIdentity(string workerId)
    {
        WorkerId = workerId;
        Sealing = HpkeKeyPair.Generate();
        _signingKey = Key.Create(SignatureAlgorithm.Ed25519);
        SigningPublicKey = _signingKey.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    public string WorkerId { get; }

    /// <summary>The HPKE key pair jobs are sealed to; pass it to <see cref="Hpke.SetupRecipient"/>.</summary>
    public HpkeKeyPair Sealing { get; }

    public byte[] SigningPublicKey { get; }

    public static WorkerIdentity Create(string workerId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        return new WorkerIdentity(workerId);
    }

    /// <summary>Ed25519 signature with the worker's signing key. Callers prefix a domain so a signature means one thing.</summary>
    public byte[] Sign(ReadOnlySpan<byte> message) => SignatureAlgorithm.Ed25519.Sign(_signingKey, message);

    /// <summary>Builds the document for these keys, signs it, and has the TEE bind its hash.</summary>
    public async Task<AttestationBundle> AttestAsync(WorkerClaims claims, ITeeProvider tee, TimeProvider time, TimeSpan validity, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claims);
        ArgumentNullException.ThrowIfNull(tee);
        ArgumentNullException.ThrowIfNull(time);
        if (validity <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(validity), validity, "An attestation must be valid for a positive time.");
        }

        var now = DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds());
        var document = new AttestationDocument
        {
            WorkerId = WorkerId,
            ProviderId = claims.ProviderId,
            ModelName = claims.ModelName,
            ModelSha256 = claims.ModelSha256.ToLowerInvariant(),
            Measurement = claims.Measurement.ToLowerInvariant(),
            HpkePublicKey = Sealing.PublicKey,
            SigningPublicKey = SigningPublicKey,
            Hardware = claims.Hardware,
            Region = claims.Region,
            PriceCoefficient = claims.PriceCoefficient,
            MaxConcurrency = claims.MaxConcurrency,
            ContextLength = claims.ContextLength,
            ModelKind = claims.ModelKind,
            EmbeddingDimensions = claims.EmbeddingDimensions,
            IssuedAt = now,
            ExpiresAt = now + validity,
            TeeKind = tee.Kind,
        };

        var signature = Sign(AttestationBundle.SignedMessage(document));
        var evidence = await tee.AttestAsync(document.ComputeHash(), cancellationToken);
        return new AttestationBundle(document, signature, evidence);
    }

    public void Dispose()
    {
        Sealing.Dispose();
        _signingKey.Dispose();
    }
}
