using System.Buffers.Binary;
using System.Security.Cryptography;
using NSec.Cryptography;

namespace Cocoon.Engine.Crypto;

/// <summary>
/// An HPKE encryption context (RFC 9180 §5.2): an AEAD key, a base nonce XORed with a message sequence number,
/// and an exporter secret. Not thread-safe: the sequence number is the message order.
/// </summary>
public abstract class HpkeContext : IDisposable
{
    private readonly ChaChaAead _key;
    private readonly byte[] _baseNonce;
    private readonly byte[] _exporterSecret;
    private bool _disposed;

    private protected HpkeContext(HpkeKeySchedule schedule)
    {
        _key = new ChaChaAead(schedule.Key);
        CryptographicOperations.ZeroMemory(schedule.Key);
        _baseNonce = schedule.BaseNonce;
        _exporterSecret = schedule.ExporterSecret;
        KeyScheduleContext = schedule.KeyScheduleContext;
    }

    /// <summary>The next message's sequence number. Settable by tests to reach the RFC vectors and the overflow check.</summary>
    internal ulong Sequence { get; set; }

    internal byte[] KeyScheduleContext { get; }

    internal ReadOnlySpan<byte> BaseNonce => _baseNonce;

    internal ReadOnlySpan<byte> ExporterSecret => _exporterSecret;

    /// <summary>Export of RFC 9180 §5.3: a secret bound to this context and the exporter context.</summary>
    public byte[] Export(ReadOnlySpan<byte> exporterContext, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return HpkeSuite.LabeledExpand(HpkeSuite.HpkeSuiteId, _exporterSecret, "sec"u8, exporterContext, length);
    }

    private protected byte[] SealCore(ReadOnlySpan<byte> aad, ReadOnlySpan<byte> plaintext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> nonce = stackalloc byte[HpkeSuite.NonceSize];
        ComputeNonce(nonce);
        var ciphertext = _key.Encrypt(nonce, aad, plaintext);
        Sequence++;
        return ciphertext;
    }

    private protected byte[] OpenCore(ReadOnlySpan<byte> aad, ReadOnlySpan<byte> ciphertext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (ciphertext.Length < HpkeSuite.TagSize)
        {
            throw new CryptographicException($"HPKE open failed: the ciphertext is {ciphertext.Length} bytes, shorter than the {HpkeSuite.TagSize}-byte tag.");
        }

        Span<byte> nonce = stackalloc byte[HpkeSuite.NonceSize];
        ComputeNonce(nonce);
        var plaintext = new byte[ciphertext.Length - HpkeSuite.TagSize];
        if (!_key.Decrypt(nonce, aad, ciphertext, plaintext))
        {
            throw new CryptographicException(
                $"HPKE open failed at message {Sequence}: the tag does not verify (wrong key, enc, info or AAD, a tampered ciphertext, or messages out of order).");
        }

        Sequence++;
        return plaintext;
    }

    /// <summary>
    /// base_nonce XOR I2OSP(seq, Nn). The RFC limit is 2^96 - 1 messages; a 64-bit counter stops earlier, at 2^64 - 1,
    /// which is still far beyond any stream and keeps nonces unique.
    /// </summary>
    private void ComputeNonce(Span<byte> nonce)
    {
        if (Sequence == ulong.MaxValue)
        {
            throw new CryptographicException("HPKE message limit reached: the sequence number would overflow and reuse a nonce.");
        }

        _baseNonce.CopyTo(nonce);
        Span<byte> seq = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64BigEndian(seq, Sequence);
        var tail = nonce[(HpkeSuite.NonceSize - sizeof(ulong))..];
        for (var i = 0; i < seq.Length; i++)
        {
            tail[i] ^= seq[i];
        }
    }

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (disposing)
        {
            _key.Dispose();
        }

        CryptographicOperations.ZeroMemory(_baseNonce);
        CryptographicOperations.ZeroMemory(_exporterSecret);
    }
}

/// <summary>The sender's side: holds <see cref="Enc"/> to send along, seals messages in order.</summary>
public sealed class HpkeSenderContext : HpkeContext
{
    internal HpkeSenderContext(HpkeKeySchedule schedule, byte[] enc)
        : base(schedule)
    {
        Enc = enc;
    }

    /// <summary>The encapsulated ephemeral public key the recipient needs to set up its context.</summary>
    public byte[] Enc { get; }

    public byte[] Seal(ReadOnlySpan<byte> aad, ReadOnlySpan<byte> plaintext) => SealCore(aad, plaintext);
}

/// <summary>The recipient's side: opens messages in the order they were sealed.</summary>
public sealed class HpkeRecipientContext : HpkeContext
{
    internal HpkeRecipientContext(HpkeKeySchedule schedule)
        : base(schedule)
    {
    }

    public byte[] Open(ReadOnlySpan<byte> aad, ReadOnlySpan<byte> ciphertext) => OpenCore(aad, ciphertext);
}
