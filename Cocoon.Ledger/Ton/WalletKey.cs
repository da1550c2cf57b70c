using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Cocoon.Ledger.Ton;

/// <summary>An Ed25519 key pair for a TON wallet, made from a 32-byte seed. Never logged.</summary>
public sealed class WalletKey : IDisposable
{
    private static readonly SignatureAlgorithm Ed25519 = SignatureAlgorithm.Ed25519;
    private readonly Key _key;

    private WalletKey(Key key)
    {
        _key = key;
        PublicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    public byte[] PublicKey { get; }

    public static WalletKey FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != 32)
        {
            throw new ArgumentException($"An Ed25519 seed is 32 bytes, got {seed.Length}.", nameof(seed));
        }

        return new WalletKey(Key.Import(Ed25519, seed, KeyBlobFormat.RawPrivateKey));
    }

    public static WalletKey FromSeedHex(string seedHex)
    {
        try
        {
            return FromSeed(Convert.FromHexString(seedHex.Trim()));
        }
        catch (FormatException e)
        {
            throw new ArgumentException("A wallet seed is 64 hexadecimal digits.", nameof(seedHex), e);
        }
    }

    /// <summary>
    /// A key from a TON mnemonic without a password (what TON wallets show): entropy = HMAC-SHA512(words joined by
    /// spaces, ""), seed = PBKDF2-SHA512(entropy, "TON default seed", 100000), key = the first 32 bytes.
    /// </summary>
    public static WalletKey FromMnemonic(string phrase)
    {
        ArgumentNullException.ThrowIfNull(phrase);
        var words = phrase.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(w => w.ToLowerInvariant()).ToArray();
        if (words.Length is not (12 or 15 or 18 or 21 or 24))
        {
            throw new ArgumentException($"A TON mnemonic has 24 words (or 12..24 in steps of 3); got {words.Length}.", nameof(phrase));
        }

        var entropy = HMACSHA512.HashData(Encoding.UTF8.GetBytes(string.Join(' ', words)), Array.Empty<byte>());
        var version = Rfc2898DeriveBytes.Pbkdf2(entropy, Encoding.UTF8.GetBytes("TON seed version"), 100_000 / 256, HashAlgorithmName.SHA512, 64);
        if (version[0] != 0)
        {
            throw new ArgumentException("These words are not a valid TON mnemonic without a password (its seed version check fails).", nameof(phrase));
        }

        var seed = Rfc2898DeriveBytes.Pbkdf2(entropy, Encoding.UTF8.GetBytes("TON default seed"), 100_000, HashAlgorithmName.SHA512, 64);
        return FromSeed(seed.AsSpan(0, 32));
    }

    /// <summary>64 hex digits of seed, or a mnemonic phrase.</summary>
    public static WalletKey FromSecret(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        return secret.Trim().Contains(' ', StringComparison.Ordinal) ? FromMnemonic(secret) : FromSeedHex(secret);
    }

    public byte[] Sign(ReadOnlySpan<byte> data) => Ed25519.Sign(_key, data);

    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != 32 || signature.Length != 64)
        {
            return false;
        }

        return NSec.Cryptography.PublicKey.TryImport(Ed25519, publicKey, KeyBlobFormat.RawPublicKey, out var key)
            && key is not null
            && Ed25519.Verify(key, data, signature);
    }

    public void Dispose() => _key.Dispose();
}
