using System.Security.Cryptography;
using NSec.Cryptography;

namespace Cocoon.Engine.Crypto;

/// <summary>
/// An X25519 key pair for HPKE. The private key lives inside an NSec <see cref="Key"/> (libsodium secure memory)
/// and is never exportable: a worker's sealing key exists only in its process.
/// </summary>
public sealed class HpkeKeyPair : IDisposable
{
    private HpkeKeyPair(Key key)
    {
        PrivateKey = key;
        PublicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    /// <summary>The 32-byte serialized public key (SerializePublicKey of RFC 9180 §7.1.1).</summary>
    public byte[] PublicKey { get; }

    internal Key PrivateKey { get; }

    public static HpkeKeyPair Generate() => new(Key.Create(HpkeSuite.X25519));

    /// <summary>DeriveKeyPair of RFC 9180 §7.1.3: the same input keying material always gives the same key pair.</summary>
    public static HpkeKeyPair Derive(ReadOnlySpan<byte> ikm)
    {
        if (ikm.Length < HpkeSuite.PrivateKeySize)
        {
            throw new ArgumentException($"HPKE DeriveKeyPair needs at least {HpkeSuite.PrivateKeySize} bytes of input keying material.", nameof(ikm));
        }

        var sk = DerivePrivateKeyBytes(ikm);
        try
        {
            return new HpkeKeyPair(Key.Import(HpkeSuite.X25519, sk, KeyBlobFormat.RawPrivateKey));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sk);
        }
    }

    /// <summary>The raw private scalar DeriveKeyPair produces; visible to tests so the RFC vectors can check it.</summary>
    internal static byte[] DerivePrivateKeyBytes(ReadOnlySpan<byte> ikm)
    {
        var prk = HpkeSuite.LabeledExtract(HpkeSuite.KemSuiteId, [], "dkp_prk"u8, ikm);
        try
        {
            return HpkeSuite.LabeledExpand(HpkeSuite.KemSuiteId, prk, "sk"u8, [], HpkeSuite.PrivateKeySize);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(prk);
        }
    }

    public void Dispose() => PrivateKey.Dispose();
}
