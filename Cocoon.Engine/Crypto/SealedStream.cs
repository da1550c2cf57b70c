using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;
using IncrementalHash = System.Security.Cryptography.IncrementalHash;

namespace Cocoon.Engine.Crypto;

/// <summary>One sealed piece of a streamed answer as it travels: its position, whether it is the last, and the ciphertext.</summary>
public sealed record SealedChunk(long Sequence, bool IsFinal, byte[] Ciphertext);

/// <summary>
/// What both ends of a sealed stream share: the key (exported from the job's HPKE context, so only the gateway that
/// sealed the job and the worker that opened it know it), the request id in every AAD, and the transcript hash.
/// </summary>
internal static class SealedStream
{
    /// <summary>The HPKE exporter context that names the stream key; bumping the version changes every key.</summary>
    public static ReadOnlySpan<byte> ExportLabel => "cocoon stream v1"u8;

    public const int KeySize = 32;

    private static ReadOnlySpan<byte> AadPrefix => "cocoon-chunk-v1"u8;

    public static byte[] ExportKey(HpkeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Export(ExportLabel, KeySize);
    }

    public static ChaChaAead ImportKey(ReadOnlySpan<byte> streamKey)
    {
        if (streamKey.Length != KeySize)
        {
            throw new ArgumentException($"A stream key is {KeySize} bytes (HPKE Export(\"cocoon stream v1\", 32)), got {streamKey.Length}.", nameof(streamKey));
        }

        return new ChaChaAead(streamKey);
    }

    public static byte[] RequestIdBytes(string requestId)
    {
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        var bytes = Encoding.UTF8.GetBytes(requestId);
        if (bytes.Length > ushort.MaxValue)
        {
            throw new ArgumentException("The request id is longer than 65535 UTF-8 bytes.", nameof(requestId));
        }

        return bytes;
    }

    /// <summary>AAD = prefix || u16 len || request id || u64 seq || u8 final: a chunk cannot move to another request, position or role.</summary>
    public static byte[] Aad(ReadOnlySpan<byte> requestId, long sequence, bool isFinal)
    {
        var aad = new byte[AadPrefix.Length + 2 + requestId.Length + 8 + 1];
        var span = aad.AsSpan();
        AadPrefix.CopyTo(span);
        span = span[AadPrefix.Length..];
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)requestId.Length);
        requestId.CopyTo(span[2..]);
        span = span[(2 + requestId.Length)..];
        BinaryPrimitives.WriteInt64BigEndian(span, sequence);
        span[8] = isFinal ? (byte)1 : (byte)0;
        return aad;
    }

    /// <summary>The key is used for one stream only, so the sequence number alone makes every nonce unique.</summary>
    public static void Nonce(long sequence, Span<byte> nonce)
    {
        nonce.Clear();
        BinaryPrimitives.WriteInt64BigEndian(nonce[4..], sequence);
    }

    /// <summary>Adds one ciphertext to the transcript hash (length-prefixed so the boundaries are part of what is hashed).</summary>
    public static void AppendTranscript(IncrementalHash hash, ReadOnlySpan<byte> ciphertext)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, ciphertext.Length);
        hash.AppendData(length);
        hash.AppendData(ciphertext);
    }
}

/// <summary>
/// Seals a streamed answer chunk by chunk (the worker's side). Each chunk's AAD binds the request id, its sequence
/// number and whether it is the last one, so the opener notices reordered, dropped, replayed, truncated or altered chunks.
/// </summary>
public sealed class ChunkSealer : IDisposable
{
    private readonly ChaChaAead _key;
    private readonly byte[] _requestId;
    private readonly IncrementalHash _transcript = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private byte[]? _transcriptHash;

    public ChunkSealer(ReadOnlySpan<byte> streamKey, string requestId)
    {
        _requestId = SealedStream.RequestIdBytes(requestId);
        _key = SealedStream.ImportKey(streamKey);
        RequestId = requestId;
    }

    /// <summary>Keys the stream from the job's HPKE context: <c>Export("cocoon stream v1", 32)</c>.</summary>
    public static ChunkSealer Create(HpkeContext jobContext, string requestId)
    {
        var key = SealedStream.ExportKey(jobContext);
        try
        {
            return new ChunkSealer(key, requestId);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    public string RequestId { get; }

    /// <summary>The sequence number the next chunk will carry.</summary>
    public long NextSequence { get; private set; }

    public bool IsComplete => _transcriptHash is not null;

    /// <summary>SHA-256 over the sealed ciphertexts in order; available once the final chunk is sealed (it goes into the usage receipt).</summary>
    public byte[] TranscriptHash => (byte[])(_transcriptHash
        ?? throw new InvalidOperationException("The transcript hash exists only after the final chunk is sealed."))
        .Clone();

    /// <summary>SHA-256 over the ciphertexts sealed so far (a stopped answer's receipt covers only these).</summary>
    public byte[] TranscriptHashSoFar() => _transcriptHash is { } done ? (byte[])done.Clone() : _transcript.GetCurrentHash();

    public SealedChunk Seal(ReadOnlySpan<byte> plaintext, bool isFinal)
    {
        if (_transcriptHash is not null)
        {
            throw new InvalidOperationException($"Stream {RequestId} is complete: no chunk can follow the final one.");
        }

        var sequence = NextSequence;
        Span<byte> nonce = stackalloc byte[AeadAlgorithm.ChaCha20Poly1305.NonceSize];
        SealedStream.Nonce(sequence, nonce);
        var ciphertext = _key.Encrypt(nonce, SealedStream.Aad(_requestId, sequence, isFinal), plaintext);
        SealedStream.AppendTranscript(_transcript, ciphertext);
        NextSequence = checked(sequence + 1);
        if (isFinal)
        {
            _transcriptHash = _transcript.GetHashAndReset();
        }

        return new SealedChunk(sequence, isFinal, ciphertext);
    }

    public void Dispose()
    {
        _key.Dispose();
        _transcript.Dispose();
    }
}

/// <summary>
/// Opens a sealed answer stream strictly in order (the gateway's side). Any deviation is refused with its own
/// exception, and after the first refusal the opener refuses everything: a broken stream is never half-trusted.
/// One reader per stream: not thread-safe, like the HPKE contexts.
/// </summary>
public sealed class ChunkOpener : IDisposable
{
    private readonly ChaChaAead _key;
    private readonly byte[] _requestId;
    private readonly IncrementalHash _transcript = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private byte[]? _transcriptHash;
    private ChunkStreamException? _failure;

    public ChunkOpener(ReadOnlySpan<byte> streamKey, string requestId)
    {
        _requestId = SealedStream.RequestIdBytes(requestId);
        _key = SealedStream.ImportKey(streamKey);
        RequestId = requestId;
    }

    /// <summary>Keys the stream from the job's HPKE context: <c>Export("cocoon stream v1", 32)</c>.</summary>
    public static ChunkOpener Create(HpkeContext jobContext, string requestId)
    {
        var key = SealedStream.ExportKey(jobContext);
        try
        {
            return new ChunkOpener(key, requestId);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    public string RequestId { get; }

    /// <summary>The sequence number the next chunk must carry.</summary>
    public long NextSequence { get; private set; }

    /// <summary>True once the final chunk has been opened.</summary>
    public bool IsComplete => _transcriptHash is not null;

    /// <summary>SHA-256 over the opened ciphertexts in order; compare it with the worker's signed usage receipt.</summary>
    public byte[] TranscriptHash => (byte[])(_transcriptHash
        ?? throw new InvalidOperationException("The transcript hash exists only after the final chunk is opened."))
        .Clone();

    /// <summary>
    /// True when the chunk was sealed with this stream's key at its sequence number and role, whatever the opener's
    /// state; changes nothing. Lets a reader drop an entry someone else wrote into the stream instead of letting it
    /// break the stream: only a chunk that authenticates is evidence about the sender.
    /// </summary>
    public bool Authenticates(SealedChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var plaintext = TryDecrypt(chunk);
        if (plaintext is null)
        {
            return false;
        }

        CryptographicOperations.ZeroMemory(plaintext);
        return true;
    }

    /// <summary>SHA-256 over the ciphertexts opened so far: what a stopped answer's receipt must hash.</summary>
    public byte[] TranscriptHashSoFar() => _transcriptHash is { } done ? (byte[])done.Clone() : _transcript.GetCurrentHash();

    public byte[] Open(SealedChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        if (_failure is not null)
        {
            throw AfterFailure(chunk);
        }

        try
        {
            return OpenCore(chunk);
        }
        catch (ChunkStreamException e)
        {
            _failure = e;
            throw;
        }
    }

    /// <summary>Call when the transport says the stream has ended: refuses a stream that stopped before its final chunk.</summary>
    public void Complete()
    {
        if (_failure is ChunkOutOfOrderException gap)
        {
            // The chunk that was skipped never turned up: it was dropped, not merely late.
            _failure = new ChunkDroppedException(RequestId, gap.Expected, gap.Sequence);
            throw _failure;
        }

        if (_failure is not null)
        {
            throw new ChunkStreamFailedException(RequestId, _failure);
        }

        if (_transcriptHash is null)
        {
            _failure = new ChunkStreamTruncatedException(RequestId, NextSequence);
            throw _failure;
        }
    }

    /// <summary>
    /// Once refused, nothing more is opened. A chunk that fills the gap an out-of-order chunk left is authenticated and
    /// reported as proof of reordering (it was late, not lost); anything else is refused as part of a failed stream.
    /// </summary>
    private ChunkStreamException AfterFailure(SealedChunk chunk)
    {
        if (_failure is ChunkOutOfOrderException gap && chunk.Sequence >= gap.Expected && chunk.Sequence < gap.Sequence)
        {
            _failure = TryDecrypt(chunk) is null
                ? new ChunkTamperedException(RequestId, chunk.Sequence)
                : new ChunkReorderedException(RequestId, chunk.Sequence, gap.Sequence);
            return _failure;
        }

        return new ChunkStreamFailedException(RequestId, _failure!);
    }

    private byte[]? TryDecrypt(SealedChunk chunk)
    {
        var ciphertext = chunk.Ciphertext ?? [];
        var tagSize = AeadAlgorithm.ChaCha20Poly1305.TagSize;
        if (ciphertext.Length < tagSize)
        {
            return null;
        }

        Span<byte> nonce = stackalloc byte[AeadAlgorithm.ChaCha20Poly1305.NonceSize];
        SealedStream.Nonce(chunk.Sequence, nonce);
        var plaintext = new byte[ciphertext.Length - tagSize];
        return _key.Decrypt(nonce, SealedStream.Aad(_requestId, chunk.Sequence, chunk.IsFinal), ciphertext, plaintext)
            ? plaintext
            : null;
    }

    private byte[] OpenCore(SealedChunk chunk)
    {
        if (_transcriptHash is not null)
        {
            throw new ChunkAfterFinalException(RequestId, chunk.Sequence);
        }

        if (chunk.Sequence < NextSequence)
        {
            throw new ChunkReplayedException(RequestId, chunk.Sequence, NextSequence);
        }

        if (chunk.Sequence > NextSequence)
        {
            throw new ChunkOutOfOrderException(RequestId, chunk.Sequence, NextSequence);
        }

        var plaintext = TryDecrypt(chunk) ?? throw new ChunkTamperedException(RequestId, chunk.Sequence);
        SealedStream.AppendTranscript(_transcript, chunk.Ciphertext);
        NextSequence++;
        if (chunk.IsFinal)
        {
            _transcriptHash = _transcript.GetHashAndReset();
        }

        return plaintext;
    }

    public void Dispose()
    {
        _key.Dispose();
        _transcript.Dispose();
    }
}
