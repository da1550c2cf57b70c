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
/// The X25519 key also rotates while the worker runs (<see cref="RotateSealing"/>, at each re-attestation), so a
/// key that leaks opens only the jobs of its own period, not every job the worker ever served (the Redis AOF keeps
/// their ciphertexts). The previous keys stay until their retirement time, so jobs already sealed to them still open.
/// </summary>
public sealed class WorkerIdentity : IDisposable
{
    private readonly Key _signingKey;
    private readonly Lock _keysLock = new();
    private readonly List<(HpkeKeyPair Key, DateTimeOffset RetireAt)> _previous = [];
    private HpkeKeyPair _sealing;

    private WorkerIdentity(string workerId)
    {
        WorkerId = workerId;
        _sealing = HpkeKeyPair.Generate();
        _signingKey = Key.Create(SignatureAlgorithm.Ed25519);
        SigningPublicKey = _signingKey.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    public string WorkerId { get; }

    /// <summary>The current HPKE key pair: the one the next attestation publishes and new jobs are sealed to.</summary>
    public HpkeKeyPair Sealing
    {
        get
        {
            lock (_keysLock)
            {
                return _sealing;
            }
        }
    }

    /// <summary>How many earlier sealing keys are still kept (their jobs may still be queued).</summary>
    public int PreviousSealingKeys
    {
        get
        {
            lock (_keysLock)
            {
                return _previous.Count;
            }
        }
    }

    /// <summary>
    /// The key pair (current or not yet retired) whose public key is publicKey; null when none is: the job was
    /// sealed to a key this run never had, or to one already retired and wiped.
    /// </summary>
    public HpkeKeyPair? FindSealing(ReadOnlySpan<byte> publicKey)
    {
        lock (_keysLock)
        {
            if (publicKey.SequenceEqual(_sealing.PublicKey))
            {
                return _sealing;
            }

            foreach (var (key, _) in _previous)
            {
                if (publicKey.SequenceEqual(key.PublicKey))
                {
                    return key;
                }
            }

            return null;
        }
    }

    /// <summary>
    /// Makes a fresh sealing key current; the one it replaces opens jobs until previousRetiresAt (when no gateway can
    /// still seal to it and no job sealed to it can still be within its deadline), then is wiped by
    /// <see cref="RetireSealingKeys"/>.
    /// </summary>
    public void RotateSealing(DateTimeOffset previousRetiresAt)
    {
        var fresh = HpkeKeyPair.Generate();
        lock (_keysLock)
        {
            _previous.Add((_sealing, previousRetiresAt));
            _sealing = fresh;
        }
    }

    /// <summary>Wipes the previous keys whose retirement time has come; returns how many.</summary>
    public int RetireSealingKeys(DateTimeOffset now)
    {
        List<HpkeKeyPair> retired;
        lock (_keysLock)
        {
            retired = [.. _previous.Where(p => p.RetireAt <= now).Select(p => p.Key)];
            _previous.RemoveAll(p => p.RetireAt <= now);
        }

        foreach (var key in retired)
        {
            key.Dispose();
        }

        return retired.Count;
    }

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
            HpkePublicKey = (byte[])Sealing.PublicKey.Clone(),
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
        lock (_keysLock)
        {
            _sealing.Dispose();
            foreach (var (key, _) in _previous)
            {
                key.Dispose();
            }

            _previous.Clear();
        }

        _signingKey.Dispose();
    }
}
