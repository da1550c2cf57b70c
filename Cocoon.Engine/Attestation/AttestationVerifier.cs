using System.Security.Cryptography;
using NSec.Cryptography;

namespace Cocoon.Engine.Attestation;

/// <summary>Why a worker's attestation was refused; <see cref="None"/> means accepted. Stable names: used as metric labels.</summary>
public enum AttestationRefusal
{
    None,
    Malformed,
    BadSignature,
    EvidenceMismatch,
    UntrustedPlatform,
    SimulatedNotAllowed,
    TdxUnverifiable,
    UnknownTee,
    ConsumerNotAllowed,
    NotYetValid,
    Expired,
    UnknownMeasurement,
    UnknownModel,
}

/// <summary>The outcome for one bundle. <see cref="Detail"/> names the reason without any secret.</summary>
public sealed record AttestationVerdict(AttestationRefusal Refusal, string Detail, AttestationDocument? Document)
{
    public bool Accepted => Refusal == AttestationRefusal.None;

    public bool IsSimulated => Document?.IsSimulated ?? false;

    internal static AttestationVerdict Refuse(AttestationRefusal reason, string detail, AttestationDocument? document = null) =>
        new(reason, detail, document);
}

/// <summary>
/// Decides whether a worker may receive jobs: structure, the worker's own signature, the TEE evidence bound to the
/// document hash, freshness, allow-listed measurement and served model. Pure apart from the clock.
/// </summary>
public sealed class AttestationVerifier
{
    private readonly AttestationPolicy _policy;
    private readonly TimeProvider _time;
    private readonly HashSet<string> _measurements;
    private readonly HashSet<string> _models;
    private readonly HashSet<string> _platforms;
    private readonly HashSet<string> _mrTds;

    public AttestationVerifier(AttestationPolicy policy, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(time);
        _policy = policy;
        _time = time;
        _measurements = new HashSet<string>(policy.AllowedMeasurements, StringComparer.OrdinalIgnoreCase);
        _models = new HashSet<string>(policy.ServedModelHashes, StringComparer.OrdinalIgnoreCase);
        _platforms = new HashSet<string>(policy.TrustedSimulatedPlatformKeys, StringComparer.OrdinalIgnoreCase);
        _mrTds = new HashSet<string>(policy.AllowedTdxMrTd, StringComparer.OrdinalIgnoreCase);
    }

    public AttestationVerdict Verify(AttestationBundle? bundle)
    {
        if (bundle?.Document is not { } doc || bundle.Evidence is not { } evidence || bundle.WorkerSignature is null)
        {
            return AttestationVerdict.Refuse(AttestationRefusal.Malformed, "the bundle lacks a document, a signature or evidence");
        }

        if (CheckShape(doc, bundle) is { } shapeProblem)
        {
            return AttestationVerdict.Refuse(AttestationRefusal.Malformed, shapeProblem, doc);
        }

        var signingKey = PublicKey.Import(SignatureAlgorithm.Ed25519, doc.SigningPublicKey, KeyBlobFormat.RawPublicKey);
        if (!SignatureAlgorithm.Ed25519.Verify(signingKey, AttestationBundle.SignedMessage(doc), bundle.WorkerSignature))
        {
            return AttestationVerdict.Refuse(AttestationRefusal.BadSignature, $"worker {doc.WorkerId}: the document signature does not verify under its signing key", doc);
        }

        var documentHash = doc.ComputeHash();
        var evidenceVerdict = doc.TeeKind switch
        {
            TeeKinds.Simulated => VerifySimulated(doc, evidence, documentHash),
            TeeKinds.Tdx => VerifyTdx(doc, evidence, documentHash),
            TeeKinds.Consumer => _policy.AllowConsumer
                ? null
                : AttestationVerdict.Refuse(AttestationRefusal.ConsumerNotAllowed, $"worker {doc.WorkerId}: workers without a TEE (consumer tier) are not allowed by this gateway", doc),
            _ => AttestationVerdict.Refuse(AttestationRefusal.UnknownTee, $"worker {doc.WorkerId}: TEE kind '{doc.TeeKind}' is not one this gateway knows", doc),
        };
        if (evidenceVerdict is not null)
        {
            return evidenceVerdict;
        }

        var now = _time.GetUtcNow();
        if (doc.IssuedAt > now + _policy.ClockSkew)
        {
            return AttestationVerdict.Refuse(AttestationRefusal.NotYetValid, $"worker {doc.WorkerId}: issued at {doc.IssuedAt:O}, in the future (now {now:O})", doc);
        }

        if (now > doc.ExpiresAt + _policy.ClockSkew)
        {
            return AttestationVerdict.Refuse(AttestationRefusal.Expired, $"worker {doc.WorkerId}: expired at {doc.ExpiresAt:O} (now {now:O})", doc);
        }

        if (now - doc.IssuedAt > _policy.MaxAge + _policy.ClockSkew)
        {
            return AttestationVerdict.Refuse(AttestationRefusal.Expired, $"worker {doc.WorkerId}: issued at {doc.IssuedAt:O}, older than the {_policy.MaxAge} the policy allows", doc);
        }

        // A consumer worker's measurement is its own claim: checking it against the allow-list would suggest an assurance
        // the consumer tier does not have.
        if (doc.TeeKind != TeeKinds.Consumer && !_measurements.Contains(doc.Measurement))
        {
            return AttestationVerdict.Refuse(AttestationRefusal.UnknownMeasurement, $"worker {doc.WorkerId}: measurement {doc.Measurement} is not allow-listed", doc);
        }

        if (!_models.Contains(doc.ModelSha256))
        {
            return AttestationVerdict.Refuse(AttestationRefusal.UnknownModel, $"worker {doc.WorkerId}: model {doc.ModelName} ({doc.ModelSha256}) is not served by this network", doc);
        }

        return new AttestationVerdict(AttestationRefusal.None, $"worker {doc.WorkerId}: attested ({doc.TeeKind})", doc);
    }

    private AttestationVerdict? VerifySimulated(AttestationDocument doc, AttestationEvidence evidence, byte[] documentHash)
    {
        if (!_policy.AllowSimulated)
        {
            return AttestationVerdict.Refuse(AttestationRefusal.SimulatedNotAllowed, $"worker {doc.WorkerId}: simulated attestation is not allowed by this gateway", doc);
        }

        if (evidence.PlatformPublicKey is not { Length: 32 } platformKey || evidence.Payload is not { Length: 64 })
        {
            return AttestationVerdict.Refuse(AttestationRefusal.Malformed, $"worker {doc.WorkerId}: simulated evidence needs a 32-byte platform key and a 64-byte signature", doc);
        }

        if (!_platforms.Contains(Convert.ToHexString(platformKey)))
        {
            return AttestationVerdict.Refuse(AttestationRefusal.UntrustedPlatform, $"worker {doc.WorkerId}: simulated platform key {Convert.ToHexStringLower(platformKey)} is not trusted", doc);
        }

        if (!PublicKey.TryImport(SignatureAlgorithm.Ed25519, platformKey, KeyBlobFormat.RawPublicKey, out var key) || key is null
            || !SignatureAlgorithm.Ed25519.Verify(key, TeeKinds.SimulatedSignedMessage(documentHash), evidence.Payload))
        {
            return AttestationVerdict.Refuse(AttestationRefusal.BadSignature, $"worker {doc.WorkerId}: the simulated platform signature does not cover this document", doc);
        }

        return null;
    }

    private AttestationVerdict? VerifyTdx(AttestationDocument doc, AttestationEvidence evidence, byte[] documentHash)
    {
        if (TdxQuote.TryParse(evidence.Payload, out var error) is not { } quote)
        {
            return AttestationVerdict.Refuse(AttestationRefusal.Malformed, $"worker {doc.WorkerId}: the TDX quote is malformed: {error}", doc);
        }

        var expected = new byte[TdxQuote.ReportDataSize];
        documentHash.CopyTo(expected, 0);
        if (!CryptographicOperations.FixedTimeEquals(expected, quote.ReportData))
        {
            return AttestationVerdict.Refuse(AttestationRefusal.EvidenceMismatch, $"worker {doc.WorkerId}: the TDX quote's report data is not this document's hash", doc);
        }

        if (_mrTds.Count > 0 && !_mrTds.Contains(Convert.ToHexString(quote.MrTd)))
        {
            return AttestationVerdict.Refuse(AttestationRefusal.UnknownMeasurement, $"worker {doc.WorkerId}: TD measurement (MRTD) {Convert.ToHexStringLower(quote.MrTd)} is not allow-listed", doc);
        }

        if (!_policy.AcceptUnverifiedTdxQuotes)
        {
            return AttestationVerdict.Refuse(
                AttestationRefusal.TdxUnverifiable,
                $"worker {doc.WorkerId}: the TDX quote is well formed and bound to the document, but its Intel signature chain cannot be verified offline (set AcceptUnverifiedTdxQuotes to accept)",
                doc);
        }

        return null;
    }

    private static string? CheckShape(AttestationDocument doc, AttestationBundle bundle)
    {
        if (doc.Version != AttestationDocument.CurrentVersion)
        {
            return $"document version {doc.Version} is not {AttestationDocument.CurrentVersion}";
        }

        if (string.IsNullOrWhiteSpace(doc.WorkerId) || string.IsNullOrWhiteSpace(doc.ProviderId) || string.IsNullOrWhiteSpace(doc.ModelName))
        {
            return "worker id, provider id and model name must not be empty";
        }

        if (!IsSha256Hex(doc.ModelSha256) || !IsSha256Hex(doc.Measurement))
        {
            return $"worker {doc.WorkerId}: model hash and measurement must be 64 hex digits";
        }

        if (doc.HpkePublicKey is not { Length: 32 } || doc.SigningPublicKey is not { Length: 32 })
        {
            return $"worker {doc.WorkerId}: the HPKE and signing public keys must be 32 bytes each";
        }

        if (bundle.WorkerSignature.Length != 64)
        {
            return $"worker {doc.WorkerId}: the document signature must be 64 bytes";
        }

        if (doc.Hardware is null || doc.Region is null || doc.TeeKind is null)
        {
            return $"worker {doc.WorkerId}: hardware, region and TEE kind are required";
        }

        if (doc.PriceCoefficient <= 0 || doc.MaxConcurrency <= 0)
        {
            return $"worker {doc.WorkerId}: price coefficient and max concurrency must be positive";
        }

        if (doc.ContextLength < 0)
        {
            return $"worker {doc.WorkerId}: the context length must not be negative (0 means not stated)";
        }

        if (doc.ModelKind is not (null or Protocol.ModelKinds.Embedding) || doc.EmbeddingDimensions < 0
            || (doc.ModelKind == Protocol.ModelKinds.Embedding) != (doc.EmbeddingDimensions > 0))
        {
            return $"worker {doc.WorkerId}: the model kind must be absent (chat) or 'embedding' with a positive vector length";
        }

        if (doc.ExpiresAt <= doc.IssuedAt)
        {
            return $"worker {doc.WorkerId}: expires before it is issued";
        }

        if (bundle.Evidence.Kind != doc.TeeKind || bundle.Evidence.Payload is null)
        {
            return $"worker {doc.WorkerId}: evidence kind '{bundle.Evidence.Kind}' does not match the document's TEE kind '{doc.TeeKind}'";
        }

        if (!PublicKey.TryImport(SignatureAlgorithm.Ed25519, doc.SigningPublicKey, KeyBlobFormat.RawPublicKey, out _))
        {
            return $"worker {doc.WorkerId}: the signing public key is not a valid Ed25519 key";
        }

        return null;
    }

    private static bool IsSha256Hex(string? value) => value is { Length: 64 } && value.All(char.IsAsciiHexDigit);
}
