using System.Security.Cryptography;

namespace Cocoon.Engine.Crypto;

/// <summary>A sealed answer stream was refused. The subclass says why; none of them carries any plaintext.</summary>
public abstract class ChunkStreamException : CryptographicException
{
    private protected ChunkStreamException(string requestId, string message, Exception? inner = null)
        : base(message, inner)
    {
        RequestId = requestId;
    }

    public string RequestId { get; }
}

/// <summary>The chunk does not authenticate: its ciphertext, sequence number, final flag, request id or key was changed.</summary>
public sealed class ChunkTamperedException(string requestId, long sequence)
    : ChunkStreamException(requestId, $"Sealed stream {requestId}: chunk {sequence} does not authenticate (altered ciphertext, sequence, final flag or request id, or a different key).")
{
    public long Sequence { get; } = sequence;
}

/// <summary>A chunk whose sequence number was already opened arrived again.</summary>
public sealed class ChunkReplayedException(string requestId, long sequence, long expected)
    : ChunkStreamException(requestId, $"Sealed stream {requestId}: chunk {sequence} was already opened (expected {expected}); a replayed or duplicated chunk is refused.")
{
    public long Sequence { get; } = sequence;

    public long Expected { get; } = expected;
}

/// <summary>
/// A chunk arrived ahead of its turn. At that moment the chunk(s) between are either dropped or late; the opener
/// refuses the stream at once and tells the two apart afterwards: <see cref="ChunkReorderedException"/> when a
/// skipped chunk turns up, <see cref="ChunkDroppedException"/> when the stream ends without it.
/// </summary>
public sealed class ChunkOutOfOrderException(string requestId, long sequence, long expected)
    : ChunkStreamException(requestId, $"Sealed stream {requestId}: chunk {sequence} arrived while chunk {expected} was expected; chunks {expected}..{sequence - 1} are missing (dropped or late).")
{
    public long Sequence { get; } = sequence;

    public long Expected { get; } = expected;
}

/// <summary>A chunk skipped earlier arrived after a later one: the stream was reordered.</summary>
public sealed class ChunkReorderedException(string requestId, long sequence, long arrivedBefore)
    : ChunkStreamException(requestId, $"Sealed stream {requestId}: chunk {sequence} arrived after chunk {arrivedBefore}; the stream was reordered and is refused.")
{
    public long Sequence { get; } = sequence;

    public long ArrivedBefore { get; } = arrivedBefore;
}

/// <summary>The stream ended while a chunk skipped earlier never arrived: it was dropped.</summary>
public sealed class ChunkDroppedException(string requestId, long missing, long seenAfter)
    : ChunkStreamException(requestId, $"Sealed stream {requestId}: chunk {missing} never arrived (chunk {seenAfter} did); a chunk was dropped.")
{
    public long Missing { get; } = missing;

    public long SeenAfter { get; } = seenAfter;
}

/// <summary>The stream ended without its final chunk: the answer was cut short.</summary>
public sealed class ChunkStreamTruncatedException(string requestId, long received)
    : ChunkStreamException(requestId, $"Sealed stream {requestId} ended after {received} chunk(s) without a final chunk; the answer is truncated.")
{
    public long Received { get; } = received;
}

/// <summary>A chunk arrived after the final one: someone tried to extend a finished answer.</summary>
public sealed class ChunkAfterFinalException(string requestId, long sequence)
    : ChunkStreamException(requestId, $"Sealed stream {requestId}: chunk {sequence} arrived after the final chunk; the stream was already complete.")
{
    public long Sequence { get; } = sequence;
}

/// <summary>The opener already refused this stream; it refuses every later chunk too.</summary>
public sealed class ChunkStreamFailedException(string requestId, ChunkStreamException cause)
    : ChunkStreamException(requestId, $"Sealed stream {requestId} was already refused: {cause.Message}", cause);
