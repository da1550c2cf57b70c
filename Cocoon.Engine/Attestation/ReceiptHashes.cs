using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.Attestation;

/// <summary>
/// The two hashes a caller recomputes from its own bytes to check a receipt. The request hash is SHA-256 over the
/// canonical request JSON (<see cref="CanonicalRequest"/>: the <see cref="GenerationRequest"/> the gateway built from
/// the API call, serialized by <see cref="WireJsonContext"/>), which is exactly the plaintext sealed to the worker; the
/// gateway hands it back to the caller with the answer. The response hash is SHA-256 over the UTF-8 bytes of the
/// answer text as streamed, concatenated (no separators; the same bytes whatever the chunking).
/// </summary>
public static class ReceiptHashes
{
    public static byte[] CanonicalRequest(GenerationRequest request) =>
        JsonSerializer.SerializeToUtf8Bytes(request, WireJsonContext.Default.GenerationRequest);

    public static byte[] Request(ReadOnlySpan<byte> canonicalRequest) => SHA256.HashData(canonicalRequest);

    public static byte[] Response(string text) => SHA256.HashData(Encoding.UTF8.GetBytes(text));
}

/// <summary>The response hash computed piece by piece, with the hash so far available after every piece (a stopped answer's receipt covers a prefix).</summary>
public sealed class ResponseHasher : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public void Append(ReadOnlySpan<byte> utf8Text) => _hash.AppendData(utf8Text);

    public byte[] Current() => _hash.GetCurrentHash();

    public void Dispose() => _hash.Dispose();
}
