using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using NSec.Cryptography;

namespace Cocoon.Engine.Attestation;

/// <summary>
/// A provider vouches for one of its workers: the worker's Ed25519 signing key (the one its attestation document is
/// signed with and the gateway pins), its worker id, the model file's SHA-256 and an expiry, signed by the provider's
/// own Ed25519 key (<see cref="ProviderKey"/>), which never leaves the provider's machine. The gateway checks it against
/// the public key the provider registered with the network, so a stolen worker token alone cannot bring a worker in.
/// Keys and the signature are lower-case hex; ExpiresAt is Unix seconds.
/// </summary>
public sealed record WorkerCertificate(
    string ProviderKey,
    string WorkerId,
    string WorkerKey,
    string ModelSha256,
    long ExpiresAt,
    string Signature)
{
    private static ReadOnlySpan<byte> Domain => "cocoon worker certificate v1\0"u8;

    /// <summary>The signed bytes: a domain, every field but the signature length-prefixed, then the expiry.</summary>
    public static byte[] Message(string providerKey, string workerId, string workerKey, string modelSha256, long expiresAt)
    {
        using var stream = new MemoryStream();
        stream.Write(Domain);
        Span<byte> buffer = stackalloc byte[8];
        foreach (var field in (string[])[providerKey.ToLowerInvariant(), workerId, workerKey.ToLowerInvariant(), modelSha256.ToLowerInvariant()])
        {
            var bytes = Encoding.UTF8.GetBytes(field);
            BinaryPrimitives.WriteInt32BigEndian(buffer, bytes.Length);
            stream.Write(buffer[..4]);
            stream.Write(bytes);
        }

        BinaryPrimitives.WriteInt64BigEndian(buffer, expiresAt);
        stream.Write(buffer);
        return stream.ToArray();
    }

    /// <summary>The certificate's signature verifies under the provider key it names (says nothing about whose key that is).</summary>
    public bool SignatureVerifies()
    {
        try
        {
            var key = Convert.FromHexString(ProviderKey);
            var signature = Convert.FromHexString(Signature);
            return signature.Length == 64
                && PublicKey.TryImport(SignatureAlgorithm.Ed25519, key, KeyBlobFormat.RawPublicKey, out var publicKey) && publicKey is not null
                && SignatureAlgorithm.Ed25519.Verify(publicKey, Message(ProviderKey, WorkerId, WorkerKey, ModelSha256, ExpiresAt), signature);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// The gateway's check for a worker of a provider that registered currentKey (hex) and retired revokedKeys: the
    /// certificate must name this worker id, the document's signing key and model, be signed by the current key, and
    /// not be past its expiry. The key binds it to the provider: a key is registered by its provider.
    /// </summary>
    public CertificateVerdict Check(
        string currentKey, IReadOnlyCollection<string> revokedKeys,
        string workerId, ReadOnlySpan<byte> workerSigningKey, string modelSha256, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(revokedKeys);
        if (!SignatureVerifies())
        {
            return CertificateVerdict.Forged;
        }

        var key = ProviderKey.ToLowerInvariant();
        if (revokedKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
        {
            return CertificateVerdict.RevokedKey;
        }

        if (!string.Equals(key, currentKey, StringComparison.OrdinalIgnoreCase))
        {
            return CertificateVerdict.Forged;
        }

        if (WorkerId != workerId
            || !string.Equals(WorkerKey, Convert.ToHexStringLower(workerSigningKey), StringComparison.OrdinalIgnoreCase)
            || !string.Equals(ModelSha256, modelSha256, StringComparison.OrdinalIgnoreCase))
        {
            return CertificateVerdict.OtherWorker;
        }

        return now.ToUnixTimeSeconds() >= ExpiresAt ? CertificateVerdict.Expired : CertificateVerdict.Valid;
    }

    public string ToJson() => JsonSerializer.Serialize(this, WorkerCertificateJson.Default.WorkerCertificate);

    /// <summary>Parses a certificate; throws <see cref="JsonException"/> on anything malformed.</summary>
    public static WorkerCertificate FromJson(string json) =>
        JsonSerializer.Deserialize(json, WorkerCertificateJson.Default.WorkerCertificate) ?? throw new JsonException("The certificate is null.");
}

/// <summary>What the gateway makes of a worker certificate.</summary>
public enum CertificateVerdict
{
    Valid,

    /// <summary>The signature does not verify, or it is made by a key that is not the provider's.</summary>
    Forged,

    /// <summary>Signed by a key the provider replaced.</summary>
    RevokedKey,

    /// <summary>A genuine certificate, but for another worker id, signing key or model.</summary>
    OtherWorker,

    Expired,
}

/// <summary>
/// A provider's Ed25519 key. Pure: the worker's <c>ProviderKeyFile</c> keeps the 32-byte private key in an owner-only
/// file on the provider's machine; only the public key is ever sent anywhere (registered with /provider key).
/// </summary>
public sealed class ProviderKey : IDisposable
{
    private readonly Key _key;

    private ProviderKey(Key key)
    {
        _key = key;
        PublicKeyHex = Convert.ToHexStringLower(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    public string PublicKeyHex { get; }

    public static ProviderKey Create() =>
        new(Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    public static ProviderKey Import(ReadOnlySpan<byte> privateKey) =>
        new(Key.Import(SignatureAlgorithm.Ed25519, privateKey, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    /// <summary>The 32-byte private key, for the key file only.</summary>
    public byte[] ExportPrivateKey() => _key.Export(KeyBlobFormat.RawPrivateKey);

    /// <summary>Certifies a worker's signing key for worker id and model until expiresAt.</summary>
    public WorkerCertificate Certify(string workerId, ReadOnlySpan<byte> workerSigningKey, string modelSha256, DateTimeOffset expiresAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(workerId);
        var workerKey = Convert.ToHexStringLower(workerSigningKey);
        var model = modelSha256.ToLowerInvariant();
        var expires = expiresAt.ToUnixTimeSeconds();
        var signature = SignatureAlgorithm.Ed25519.Sign(_key, WorkerCertificate.Message(PublicKeyHex, workerId, workerKey, model, expires));
        return new WorkerCertificate(PublicKeyHex, workerId, workerKey, model, expires, Convert.ToHexStringLower(signature));
    }

    public void Dispose() => _key.Dispose();
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(WorkerCertificate))]
public sealed partial class WorkerCertificateJson : JsonSerializerContext;
