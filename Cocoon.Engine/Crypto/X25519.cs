using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Cocoon.Engine.Crypto;

/// <summary>
/// Raw X25519 (RFC 7748) on caller-owned buffers, through the libsodium that NSec ships. NSec keeps every private key
/// and every shared secret in libsodium's guarded memory: mmap, mprotect and mlock to create it, the reverse to free
/// it. A dispatch creates three of them (the ephemeral key, the sender's and the recipient's shared secret) and those
/// system calls, with the TLB flush each unmap sends to every core, were a quarter of a dispatch's CPU. Here the
/// secrets live on the stack or in pinned arrays (never moved, so never copied by the GC) and are wiped with
/// <see cref="CryptographicOperations.ZeroMemory"/> as soon as they are used.
/// </summary>
internal static partial class X25519
{
    public const int KeySize = 32;

    private const string Library = "libsodium";

    /// <summary>sodium_init is idempotent and thread-safe; 0 = initialised now, 1 = already was (e.g. by NSec).</summary>
    private static readonly bool Initialized = sodium_init() >= 0;

    /// <summary>Fills privateKey with a fresh random scalar and publicKey with its public key.</summary>
    public static void Generate(Span<byte> privateKey, Span<byte> publicKey)
    {
        RandomNumberGenerator.Fill(privateKey[..KeySize]);
        PublicKeyOf(privateKey, publicKey);
    }

    public static void PublicKeyOf(ReadOnlySpan<byte> privateKey, Span<byte> publicKey)
    {
        EnsureInitialized();
        if (privateKey.Length != KeySize || publicKey.Length != KeySize)
        {
            throw new ArgumentException($"X25519 keys are {KeySize} bytes.");
        }

        int result;
        unsafe
        {
            fixed (byte* q = publicKey)
            fixed (byte* n = privateKey)
            {
                result = crypto_scalarmult_curve25519_base(q, n);
            }
        }

        if (result != 0)
        {
            throw new CryptographicException("X25519: the private key gives the identity point.");
        }
    }

    /// <summary>The raw shared secret; refuses (as libsodium does) an all-zero result from a small-order public key, as RFC 9180 §7.1.4 asks.</summary>
    public static void Agree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey, Span<byte> sharedSecret)
    {
        EnsureInitialized();
        if (privateKey.Length != KeySize || publicKey.Length != KeySize || sharedSecret.Length != KeySize)
        {
            throw new ArgumentException($"X25519 keys and shared secrets are {KeySize} bytes.");
        }

        int result;
        unsafe
        {
            fixed (byte* q = sharedSecret)
            fixed (byte* n = privateKey)
            fixed (byte* p = publicKey)
            {
                result = crypto_scalarmult_curve25519(q, n, p);
            }
        }

        if (result != 0)
        {
            CryptographicOperations.ZeroMemory(sharedSecret);
            throw new CryptographicException("HPKE: X25519 key agreement failed (the peer public key has small order).");
        }
    }

    private static void EnsureInitialized()
    {
        if (!Initialized)
        {
            throw new CryptographicException("libsodium failed to initialise (sodium_init returned -1).");
        }
    }

    [LibraryImport(Library)]
    private static partial int sodium_init();

    [LibraryImport(Library)]
    private static unsafe partial int crypto_scalarmult_curve25519(byte* q, byte* n, byte* p);

    [LibraryImport(Library)]
    private static unsafe partial int crypto_scalarmult_curve25519_base(byte* q, byte* n);
}
