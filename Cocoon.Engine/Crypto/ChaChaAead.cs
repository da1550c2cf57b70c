using System.Security.Cryptography;

namespace Cocoon.Engine.Crypto;

/// <summary>
/// ChaCha20-Poly1305 (RFC 8439) on a short-lived per-job key, through the platform's implementation. NSec keeps every
/// key in libsodium's guarded memory (mmap, mprotect and mlock per key, the reverse on dispose); for the keys each
/// job creates on both sides those system calls and their TLB flushes were the largest CPU cost of a dispatch. Here
/// the key lives in the platform's cipher context, wiped on dispose. The output layout is NSec's (and RFC 9180's):
/// the ciphertext followed by the 16-byte tag, so sealed bytes are unchanged on the wire.
/// </summary>
public sealed class ChaChaAead : IDisposable
{
    public const int KeySize = 32;

    public const int NonceSize = 12;

    public const int TagSize = 16;

    private readonly ChaCha20Poly1305 _aead;

    public ChaChaAead(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException($"A ChaCha20-Poly1305 key is {KeySize} bytes, got {key.Length}.", nameof(key));
        }

        _aead = new ChaCha20Poly1305(key);
    }

    /// <summary>Ciphertext followed by the tag.</summary>
    public byte[] Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext)
    {
        var output = new byte[plaintext.Length + TagSize];
        _aead.Encrypt(nonce, plaintext, output.AsSpan(0, plaintext.Length), output.AsSpan(plaintext.Length), associatedData);
        return output;
    }

    /// <summary>False (and a wiped plaintext) when the tag does not verify; plaintext must be the ciphertext's length minus the tag.</summary>
    public bool Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertextAndTag, Span<byte> plaintext)
    {
        if (ciphertextAndTag.Length < TagSize || plaintext.Length != ciphertextAndTag.Length - TagSize)
        {
            return false;
        }

        try
        {
            _aead.Decrypt(nonce, ciphertextAndTag[..^TagSize], ciphertextAndTag[^TagSize..], plaintext, associatedData);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            return false;
        }
    }

    public void Dispose() => _aead.Dispose();
}
