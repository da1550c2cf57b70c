using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using NSec.Cryptography;

namespace Cocoon.Engine.Attestation;

/// <summary>
/// A worker's fresh answer to a client's challenge: "I, the worker whose attested signing key signs this, serve this
/// model and take jobs sealed to this HPKE key, now, for your nonce". The nonce is the client's 32 random bytes, so
/// the statement cannot have been made before the client asked, and only the holder of the attested signing key can
/// make it (the gateway relays it but cannot forge it). Together with the attestation document, which binds that key
/// to a measured build on a trusted platform, it tells the client the build is live. (A TDX worker would bind the
/// nonce into a fresh quote's report data instead; no TDX hardware is available here, see the report.)
/// </summary>
public sealed record AttestationStatement
{
    public const int CurrentVersion = 1;

    public const int NonceSize = 32;

    [JsonPropertyOrder(0)]
    public int Version { get; init; } = CurrentVersion;

    /// <summary>The client's nonce, 32 bytes.</summary>
    [JsonPropertyOrder(1)]
    public required byte[] Nonce { get; init; }

    [JsonPropertyOrder(2)]
    public required string WorkerId { get; init; }

    [JsonPropertyOrder(3)]
    public required string ModelSha256 { get; init; }

    /// <summary>The HPKE key the worker takes jobs on right now (it rotates; the attestation document names it too).</summary>
    [JsonPropertyOrder(4)]
    public required byte[] HpkePublicKey { get; init; }

    [JsonPropertyOrder(5)]
    public required DateTimeOffset IssuedAt { get; init; }

    /// <summary>What the worker's Ed25519 key signs: this prefix, then the canonical statement bytes.</summary>
    public const string SignedPrefix = "cocoon attestation statement v1\0";

    private static ReadOnlySpan<byte> Domain => "cocoon attestation statement v1\0"u8;

    /// <summary>Compact UTF-8 JSON with a fixed property order and the time in Unix milliseconds.</summary>
    public byte[] ToCanonicalBytes() => JsonSerializer.SerializeToUtf8Bytes(this, AttestationJson.Default.AttestationStatement);

    public SignedAttestationStatement Sign(WorkerIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        return new SignedAttestationStatement(this, identity.Sign(SignedMessage()));
    }

    internal byte[] SignedMessage() => [.. Domain, .. ToCanonicalBytes()];
}

/// <summary>A statement with the worker's Ed25519 signature over <see cref="AttestationStatement.SignedPrefix"/> || canonical bytes.</summary>
public sealed record SignedAttestationStatement(AttestationStatement Statement, byte[] Signature)
{
    public string ToJson() => JsonSerializer.Serialize(this, AttestationJson.Default.SignedAttestationStatement);

    public static SignedAttestationStatement FromJson(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize(json, AttestationJson.Default.SignedAttestationStatement)
        ?? throw new JsonException("The attestation statement is null.");

    /// <summary>
    /// The statement as a gateway or client accepts it, or null: it parses, answers this nonce, names the worker and
    /// model of the verified document, names the document's HPKE key, and carries a valid signature by the document's
    /// signing key. Any failure is the same null.
    /// </summary>
    public static SignedAttestationStatement? Accept(byte[]? json, AttestationDocument worker, ReadOnlySpan<byte> nonce)
    {
        ArgumentNullException.ThrowIfNull(worker);
        if (json is null)
        {
            return null;
        }

        SignedAttestationStatement signed;
        try
        {
            signed = FromJson(json);
        }
        catch (JsonException)
        {
            return null;
        }

        var s = signed.Statement;
        if (s is null || signed.Signature is not { Length: 64 } || s.Version != AttestationStatement.CurrentVersion
            || s.Nonce is not { Length: AttestationStatement.NonceSize } || !CryptographicOperations.FixedTimeEquals(s.Nonce, nonce)
            || s.WorkerId != worker.WorkerId || !string.Equals(s.ModelSha256, worker.ModelSha256, StringComparison.OrdinalIgnoreCase)
            || s.HpkePublicKey is null || !s.HpkePublicKey.AsSpan().SequenceEqual(worker.HpkePublicKey))
        {
            return null;
        }

        return PublicKey.TryImport(SignatureAlgorithm.Ed25519, worker.SigningPublicKey, KeyBlobFormat.RawPublicKey, out var key) && key is not null
            && SignatureAlgorithm.Ed25519.Verify(key, s.SignedMessage(), signed.Signature)
            ? signed
            : null;
    }
}
