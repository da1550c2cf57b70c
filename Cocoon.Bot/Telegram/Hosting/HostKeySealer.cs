using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Cocoon.Bot.Telegram.Hosting;

/// <summary>
/// Encrypts what the bot keeps at rest (conversation turns, queued updates) with the host key: XChaCha20-Poly1305
/// with a random 192-bit nonce per write (random 96-bit nonces under one long-lived key run into the birthday bound
/// after about 2^32 writes; 192 bits never do), and the caller's context (the Redis key name, plus what else must
/// match) as associated data so a blob can't be moved to another user's key and still open. The host key comes from
/// configuration (Telegram:HostKey) and is the same on every replica, so any replica opens what another sealed.
/// Blob layout: 0x02 || nonce (24) || ciphertext || tag (16). Blobs of the earlier layout (ChaCha20-Poly1305 with a
/// 12-byte nonce, no version byte) still open, so an upgrade loses no queued update or conversation.
/// </summary>
public sealed class HostKeySealer : IDisposable
{
    private const byte Version = 0x02;
    private static readonly AeadAlgorithm Aead = AeadAlgorithm.XChaCha20Poly1305;
    private static readonly AeadAlgorithm LegacyAead = AeadAlgorithm.ChaCha20Poly1305;
    private readonly Key _key;
    private readonly Key _legacyKey;

    public HostKeySealer(ReadOnlySpan<byte> key)
    {
        if (key.Length != Aead.KeySize)
        {
            throw new ArgumentException($"The host key must be {Aead.KeySize} bytes.", nameof(key));
        }

        _key = Key.Import(Aead, key, KeyBlobFormat.RawSymmetricKey);
        _legacyKey = Key.Import(LegacyAead, key, KeyBlobFormat.RawSymmetricKey);
    }

    public byte[] Seal(ReadOnlySpan<byte> plaintext, string context)
    {
        var output = new byte[1 + Aead.NonceSize + plaintext.Length + Aead.TagSize];
        output[0] = Version;
        var nonce = output.AsSpan(1, Aead.NonceSize);
        RandomNumberGenerator.Fill(nonce);
        Aead.Encrypt(_key, nonce, Encoding.UTF8.GetBytes(context), plaintext, output.AsSpan(1 + Aead.NonceSize));
        return output;
    }

    /// <summary>Null when the blob was not sealed by this key for this context (a rotated key, a moved blob).</summary>
    public byte[]? Open(ReadOnlySpan<byte> sealedBytes, string context)
    {
        var aad = Encoding.UTF8.GetBytes(context);
        if (sealedBytes.Length >= 1 + Aead.NonceSize + Aead.TagSize && sealedBytes[0] == Version)
        {
            var plaintext = new byte[sealedBytes.Length - 1 - Aead.NonceSize - Aead.TagSize];
            if (Aead.Decrypt(_key, sealedBytes.Slice(1, Aead.NonceSize), aad, sealedBytes[(1 + Aead.NonceSize)..], plaintext))
            {
                return plaintext;
            }
        }

        // The earlier layout (its first nonce byte may be 0x02 by chance, so it is tried whenever the new one fails).
        if (sealedBytes.Length < LegacyAead.NonceSize + LegacyAead.TagSize)
        {
            return null;
        }

        var legacy = new byte[sealedBytes.Length - LegacyAead.NonceSize - LegacyAead.TagSize];
        return LegacyAead.Decrypt(_legacyKey, sealedBytes[..LegacyAead.NonceSize], aad, sealedBytes[LegacyAead.NonceSize..], legacy)
            ? legacy
            : null;
    }

    /// <summary>
    /// The configured key (Telegram:HostKey, base64 of 32 bytes), shared by every replica. There is no per-replica
    /// fallback any more: a key each replica made for itself lost the conversations another replica had stored.
    /// </summary>
    public static HostKeySealer FromConfiguration(string? base64Key)
    {
        if (base64Key is not { Length: > 0 })
        {
            throw new InvalidOperationException(
                "Telegram:HostKey is empty: set it to 32 random bytes in base64 (openssl rand -base64 32), the same on every gateway replica.");
        }

        return new HostKeySealer(Convert.FromBase64String(base64Key));
    }

    public void Dispose()
    {
        _key.Dispose();
        _legacyKey.Dispose();
    }
}
