using System.Buffers.Binary;
using System.Security.Cryptography;
using NSec.Cryptography;

namespace Cocoon.Engine.Crypto;

/// <summary>
/// The one HPKE suite Cocoon speaks (RFC 9180): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305.
/// A single fixed suite means no negotiation and no downgrade path.
/// </summary>
internal static class HpkeSuite
{
    public const ushort KemId = 0x0020;
    public const ushort KdfId = 0x0001;
    public const ushort AeadId = 0x0003;

    /// <summary>Nsecret, Nenc, Npk and Nsk of DHKEM(X25519, HKDF-SHA256).</summary>
    public const int SecretSize = 32;
    public const int EncSize = 32;
    public const int PublicKeySize = 32;
    public const int PrivateKeySize = 32;

    /// <summary>Nk, Nn, Nt of ChaCha20-Poly1305 and Nh of HKDF-SHA256.</summary>
    public const int KeySize = 32;
    public const int NonceSize = 12;
    public const int TagSize = 16;
    public const int HashSize = 32;

    public static readonly AeadAlgorithm Aead = AeadAlgorithm.ChaCha20Poly1305;
    private static readonly KeyDerivationAlgorithm2 Hkdf = KeyDerivationAlgorithm.HkdfSha256;

    private static readonly byte[] Version = "HPKE-v1"u8.ToArray();

    /// <summary>"KEM" || I2OSP(kem_id, 2): the suite id used inside the KEM.</summary>
    public static readonly byte[] KemSuiteId = ["K"u8[0], "E"u8[0], "M"u8[0], 0x00, 0x20];

    /// <summary>"HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2).</summary>
    public static readonly byte[] HpkeSuiteId = ["H"u8[0], "P"u8[0], "K"u8[0], "E"u8[0], 0x00, 0x20, 0x00, 0x01, 0x00, 0x03];

    public static byte[] LabeledExtract(ReadOnlySpan<byte> suiteId, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> label, ReadOnlySpan<byte> ikm)
    {
        var labeledIkm = new byte[Version.Length + suiteId.Length + label.Length + ikm.Length];
        try
        {
            var span = labeledIkm.AsSpan();
            Version.CopyTo(span);
            suiteId.CopyTo(span[Version.Length..]);
            label.CopyTo(span[(Version.Length + suiteId.Length)..]);
            ikm.CopyTo(span[(Version.Length + suiteId.Length + label.Length)..]);
            return Hkdf.Extract(labeledIkm, salt);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(labeledIkm);
        }
    }

    public static byte[] LabeledExpand(ReadOnlySpan<byte> suiteId, ReadOnlySpan<byte> prk, ReadOnlySpan<byte> label, ReadOnlySpan<byte> info, int length)
    {
        if (length is <= 0 or > 255 * HashSize)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"HPKE can expand 1 to {255 * HashSize} bytes.");
        }

        var labeledInfo = new byte[2 + Version.Length + suiteId.Length + label.Length + info.Length];
        var span = labeledInfo.AsSpan();
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)length);
        Version.CopyTo(span[2..]);
        suiteId.CopyTo(span[(2 + Version.Length)..]);
        label.CopyTo(span[(2 + Version.Length + suiteId.Length)..]);
        info.CopyTo(span[(2 + Version.Length + suiteId.Length + label.Length)..]);
        return Hkdf.Expand(prk, labeledInfo, length);
    }

    /// <summary>Public keys travel as 32 raw bytes; X25519 itself refuses small-order points at agreement.</summary>
    public static void CheckPublicKey(ReadOnlySpan<byte> raw, string what)
    {
        if (raw.Length != PublicKeySize)
        {
            throw new CryptographicException($"HPKE: the {what} must be {PublicKeySize} bytes (an X25519 public key), got {raw.Length}.");
        }
    }
}
