using System.Security.Cryptography;

namespace Cocoon.Engine.Crypto;

/// <summary>
/// The transcript hash of a sealed answer stream computed from the ciphertexts alone, for a relay that holds no stream
/// key (a client-sealed job): the same length-prefixed SHA-256 <see cref="ChunkSealer"/> and <see cref="ChunkOpener"/>
/// compute, so the worker's signed receipt can be checked without opening a single chunk.
/// </summary>
public sealed class TranscriptHasher : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public void Append(ReadOnlySpan<byte> ciphertext) => SealedStream.AppendTranscript(_hash, ciphertext);

    /// <summary>The hash of everything appended so far; resets the hasher.</summary>
    public byte[] Finish() => _hash.GetHashAndReset();

    public void Dispose() => _hash.Dispose();
}
