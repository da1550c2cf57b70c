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
