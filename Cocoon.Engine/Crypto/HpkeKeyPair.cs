using System.Security.Cryptography;

namespace Cocoon.Engine.Crypto;

/// <summary>
/// An X25519 key pair for HPKE. The private scalar lives in a pinned array (the GC never moves it, so it leaves no
/// copies behind), is never exposed outside this assembly and is wiped on dispose: a worker's sealing key exists
/// only in its process. (Not NSec's guarded memory: see <see cref="X25519"/> for why.)
/// </summary>
public sealed class HpkeKeyPair : IDisposable
{
    private readonly byte[] _privateKey;
    private bool _disposed;

    private HpkeKeyPair(byte[] pinnedPrivateKey)
    {
        _privateKey = pinnedPrivateKey;
        PublicKey = new byte[X25519.KeySize];
        X25519.PublicKeyOf(_privateKey, PublicKey);
    }

    /// <summary>The 32-byte serialized public key (SerializePublicKey of RFC 9180 §7.1.1).</summary>
    public byte[] PublicKey { get; }

    internal ReadOnlySpan<byte> PrivateKey
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _privateKey;
        }
    }

    public static HpkeKeyPair Generate()
    {
        var sk = NewPinned();
        RandomNumberGenerator.Fill(sk);
        return new HpkeKeyPair(sk);
    }

    /// <summary>DeriveKeyPair of RFC 9180 §7.1.3: the same input keying material always gives the same key pair.</summary>
    public static HpkeKeyPair Derive(ReadOnlySpan<byte> ikm)
    {
        if (ikm.Length < HpkeSuite.PrivateKeySize)
        {
            throw new ArgumentException($"HPKE DeriveKeyPair needs at least {HpkeSuite.PrivateKeySize} bytes of input keying material.", nameof(ikm));
        }

        var derived = DerivePrivateKeyBytes(ikm);
        var sk = NewPinned();
        derived.CopyTo(sk, 0);
        CryptographicOperations.ZeroMemory(derived);
        return new HpkeKeyPair(sk);
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

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            CryptographicOperations.ZeroMemory(_privateKey);
        }
    }

    private static byte[] NewPinned() => GC.AllocateArray<byte>(HpkeSuite.PrivateKeySize, pinned: true);
}
