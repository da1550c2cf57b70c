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

    /// <summary>Builds one end of the stream from the job's HPKE context; the exported key is wiped once imported.</summary>
    public static T FromContext<T>(HpkeContext context, string requestId, Func<byte[], string, T> create)
    {
        var key = ExportKey(context);
        try
        {
            return create(key, requestId);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
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
/// What the sealer and the opener each hold: the stream's key, the request id its AADs carry, the position of the next
/// chunk and the transcript hash over every ciphertext in order, finished by the final chunk.
/// </summary>
public abstract class ChunkStreamEnd : IDisposable
{
    private readonly IncrementalHash _transcript = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private byte[]? _transcriptHash;

    private protected ChunkStreamEnd(ReadOnlySpan<byte> streamKey, string requestId)
    {
        RequestIdBytes = SealedStream.RequestIdBytes(requestId);
        Key = SealedStream.ImportKey(streamKey);
        RequestId = requestId;
    }

    private protected ChaChaAead Key { get; }

    private protected byte[] RequestIdBytes { get; }

    public string RequestId { get; }

    /// <summary>The sequence number the next chunk carries.</summary>
    public long NextSequence { get; private set; }

    /// <summary>True once the final chunk has been sealed or opened.</summary>
    public bool IsComplete => _transcriptHash is not null;

    /// <summary>
    /// SHA-256 over the ciphertexts in order, available once the final chunk has passed: the worker puts it into the
    /// usage receipt and the gateway compares it with the receipt.
    /// </summary>
    public byte[] TranscriptHash => (byte[])(_transcriptHash
        ?? throw new InvalidOperationException("The transcript hash exists only after the final chunk."))
        .Clone();

    /// <summary>SHA-256 over the ciphertexts so far (a stopped answer's receipt covers only these).</summary>
    public byte[] TranscriptHashSoFar() => _transcriptHash is { } done ? (byte[])done.Clone() : _transcript.GetCurrentHash();

    /// <summary>Takes a chunk that has passed into the transcript and moves to the next position.</summary>
    private protected void Record(ReadOnlySpan<byte> ciphertext, bool isFinal)
    {
        SealedStream.AppendTranscript(_transcript, ciphertext);
        NextSequence = checked(NextSequence + 1);
        if (isFinal)
        {
            _transcriptHash = _transcript.GetHashAndReset();
        }
    }

    public void Dispose()
    {
        Key.Dispose();
        _transcript.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// Seals a streamed answer chunk by chunk (the worker's side). Each chunk's AAD binds the request id, its sequence
/// number and whether it is the last one, so the opener notices reordered, dropped, replayed, truncated or altered chunks.
/// </summary>
public sealed class ChunkSealer(ReadOnlySpan<byte> streamKey, string requestId) : ChunkStreamEnd(streamKey, requestId)
{
    /// <summary>Keys the stream from the job's HPKE context: <c>Export("cocoon stream v1", 32)</c>.</summary>
    public static ChunkSealer Create(HpkeContext jobContext, string requestId) =>
        SealedStream.FromContext(jobContext, requestId, static (key, id) => new ChunkSealer(key, id));

    public SealedChunk Seal(ReadOnlySpan<byte> plaintext, bool isFinal)
    {
        if (IsComplete)
        {
            throw new InvalidOperationException($"Stream {RequestId} is complete: no chunk can follow the final one.");
        }

        var sequence = NextSequence;
        Span<byte> nonce = stackalloc byte[AeadAlgorithm.ChaCha20Poly1305.NonceSize];
        SealedStream.Nonce(sequence, nonce);
        var ciphertext = Key.Encrypt(nonce, SealedStream.Aad(RequestIdBytes, sequence, isFinal), plaintext);
        Record(ciphertext, isFinal);
        return new SealedChunk(sequence, isFinal, ciphertext);
    }
}

/// <summary>
/// Opens a sealed answer stream strictly in order (the gateway's side). Any deviation is refused with its own
/// exception, and after the first refusal the opener refuses everything: a broken stream is never half-trusted.
/// One reader per stream: not thread-safe, like the HPKE contexts.
/// </summary>
public sealed class ChunkOpener(ReadOnlySpan<byte> streamKey, string requestId) : ChunkStreamEnd(streamKey, requestId)
{
    private ChunkStreamException? _failure;

    /// <summary>Keys the stream from the job's HPKE context: <c>Export("cocoon stream v1", 32)</c>.</summary>
    public static ChunkOpener Create(HpkeContext jobContext, string requestId) =>
        SealedStream.FromContext(jobContext, requestId, static (key, id) => new ChunkOpener(key, id));

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

        if (!IsComplete)
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
        return Key.Decrypt(nonce, SealedStream.Aad(RequestIdBytes, chunk.Sequence, chunk.IsFinal), ciphertext, plaintext)
            ? plaintext
            : null;
    }

    private byte[] OpenCore(SealedChunk chunk)
    {
        if (IsComplete)
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
        Record(chunk.Ciphertext, chunk.IsFinal);
        return plaintext;
    }
}
