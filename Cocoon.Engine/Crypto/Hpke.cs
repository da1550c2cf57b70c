using System.Security.Cryptography;

namespace Cocoon.Engine.Crypto;

/// <summary>A single-shot HPKE message: the encapsulated key and the ciphertext (plaintext + 16-byte tag).</summary>
public sealed record HpkeSealed(byte[] Enc, byte[] Ciphertext);

/// <summary>
/// HPKE base mode (RFC 9180 §5.1.1) for DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305.
/// Failures throw <see cref="CryptographicException"/>.
/// </summary>
public static class Hpke
{
    private const byte ModeBase = 0x00;

    public static HpkeSealed Seal(ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> info, ReadOnlySpan<byte> aad, ReadOnlySpan<byte> plaintext)
    {
        using var context = SetupSender(recipientPublicKey, info);
        return new HpkeSealed(context.Enc, context.Seal(aad, plaintext));
    }

    public static byte[] Open(HpkeKeyPair recipient, ReadOnlySpan<byte> enc, ReadOnlySpan<byte> info, ReadOnlySpan<byte> aad, ReadOnlySpan<byte> ciphertext)
    {
        using var context = SetupRecipient(recipient, enc, info);
        return context.Open(aad, ciphertext);
    }

    public static HpkeSenderContext SetupSender(ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> info)
    {
        Span<byte> skE = stackalloc byte[HpkeSuite.PrivateKeySize];
        var enc = new byte[HpkeSuite.EncSize];
        try
        {
            X25519.Generate(skE, enc);
            return SetupSender(recipientPublicKey, info, skE, enc);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(skE);
        }
    }

    /// <summary>Encap with a given ephemeral key: only for the RFC vectors, where the ephemeral key is derived from ikmE.</summary>
    internal static HpkeSenderContext SetupSender(ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> info, HpkeKeyPair ephemeral)
    {
        ArgumentNullException.ThrowIfNull(ephemeral);
        return SetupSender(recipientPublicKey, info, ephemeral.PrivateKey, (byte[])ephemeral.PublicKey.Clone());
    }

    private static HpkeSenderContext SetupSender(ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> info, ReadOnlySpan<byte> skE, byte[] enc)
    {
        HpkeSuite.CheckPublicKey(recipientPublicKey, "recipient public key");
        Span<byte> sharedSecret = stackalloc byte[HpkeSuite.SecretSize];
        try
        {
            Encapsulated(skE, recipientPublicKey, enc, recipientPublicKey, sharedSecret);
            return new HpkeSenderContext(KeySchedule(sharedSecret, info), enc);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sharedSecret);
        }
    }

    public static HpkeRecipientContext SetupRecipient(HpkeKeyPair recipient, ReadOnlySpan<byte> enc, ReadOnlySpan<byte> info)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        HpkeSuite.CheckPublicKey(enc, "encapsulated key (enc)");
        Span<byte> sharedSecret = stackalloc byte[HpkeSuite.SecretSize];
        try
        {
            Encapsulated(recipient.PrivateKey, enc, enc, recipient.PublicKey, sharedSecret);
            return new HpkeRecipientContext(KeySchedule(sharedSecret, info));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sharedSecret);
        }
    }

    /// <summary>DH then ExtractAndExpand of DHKEM (RFC 9180 §4.1), with the DH output only ever on the stack.</summary>
    private static void Encapsulated(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> peerPublicKey, ReadOnlySpan<byte> enc, ReadOnlySpan<byte> recipientPublicKey, Span<byte> sharedSecret)
    {
        Span<byte> dh = stackalloc byte[X25519.KeySize];
        try
        {
            X25519.Agree(privateKey, peerPublicKey, dh);
            var secret = Kem(dh, enc, recipientPublicKey);
            secret.CopyTo(sharedSecret);
            CryptographicOperations.ZeroMemory(secret);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dh);
        }
    }

    /// <summary>ExtractAndExpand of DHKEM (RFC 9180 §4.1).</summary>
    private static byte[] Kem(ReadOnlySpan<byte> dh, ReadOnlySpan<byte> enc, ReadOnlySpan<byte> recipientPublicKey)
    {
        byte[]? eaePrk = null;
        try
        {
            eaePrk = HpkeSuite.LabeledExtract(HpkeSuite.KemSuiteId, [], "eae_prk"u8, dh);
            var kemContext = new byte[enc.Length + recipientPublicKey.Length];
            enc.CopyTo(kemContext);
            recipientPublicKey.CopyTo(kemContext.AsSpan(enc.Length));
            return HpkeSuite.LabeledExpand(HpkeSuite.KemSuiteId, eaePrk, "shared_secret"u8, kemContext, HpkeSuite.SecretSize);
        }
        finally
        {
            if (eaePrk is not null)
            {
                CryptographicOperations.ZeroMemory(eaePrk);
            }
        }
    }

    /// <summary>KeySchedule of RFC 9180 §5.1 in base mode (empty psk and psk_id).</summary>
    internal static HpkeKeySchedule KeySchedule(ReadOnlySpan<byte> sharedSecret, ReadOnlySpan<byte> info)
    {
        var pskIdHash = HpkeSuite.LabeledExtract(HpkeSuite.HpkeSuiteId, [], "psk_id_hash"u8, []);
        var infoHash = HpkeSuite.LabeledExtract(HpkeSuite.HpkeSuiteId, [], "info_hash"u8, info);
        var context = new byte[1 + pskIdHash.Length + infoHash.Length];
        context[0] = ModeBase;
        pskIdHash.CopyTo(context, 1);
        infoHash.CopyTo(context, 1 + pskIdHash.Length);

        var secret = HpkeSuite.LabeledExtract(HpkeSuite.HpkeSuiteId, sharedSecret, "secret"u8, []);
        try
        {
            return new HpkeKeySchedule(
                context,
                HpkeSuite.LabeledExpand(HpkeSuite.HpkeSuiteId, secret, "key"u8, context, HpkeSuite.KeySize),
                HpkeSuite.LabeledExpand(HpkeSuite.HpkeSuiteId, secret, "base_nonce"u8, context, HpkeSuite.NonceSize),
                HpkeSuite.LabeledExpand(HpkeSuite.HpkeSuiteId, secret, "exp"u8, context, HpkeSuite.HashSize));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }
}

/// <summary>The outputs of the key schedule; the context takes ownership and wipes them.</summary>
internal sealed record HpkeKeySchedule(byte[] KeyScheduleContext, byte[] Key, byte[] BaseNonce, byte[] ExporterSecret);
