using System.Security.Cryptography;

namespace Cocoon.Engine.Crypto;

/// <summary>
/// The token ids of a delivered answer, sealed from the worker to the gateway that sent the job. A spot check scores
/// the answer's exact tokens (a text re-tokenized need not give the ids the sampler drew), so every worker returns
/// them with its final chunk, sealed like the answer: under a key exported from the job's HPKE context
/// (<c>Export("cocoon answer tokens v1", 32)</c>), used once per job (a fixed nonce is safe), bound to the request id.
/// Every job carries them, so a worker cannot tell which answers will be checked. The gateway keeps them in memory only,
/// for the replay of that request; they never reach Redis, a log or the database in plaintext.
/// Encoding: unsigned LEB128 per token (ids below 16,384 take 2 bytes).
/// </summary>
public static class AnswerTokenSeal
{
    private static ReadOnlySpan<byte> ExportLabel => "cocoon answer tokens v1"u8;

    /// <summary>More tokens than any context holds: a larger list is not one a worker produced.</summary>
    public const int MaxTokens = 1 << 20;

    public static byte[] Seal(HpkeContext jobContext, string requestId, IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(jobContext);
        ArgumentNullException.ThrowIfNull(tokens);
        var plain = Encode(tokens);
        using var aead = Aead(jobContext);
        return aead.Encrypt(stackalloc byte[ChaChaAead.NonceSize], SealedStream.RequestIdBytes(requestId), plain);
    }

    /// <summary>The tokens, or null when the seal does not open under this job's context (tampered, or another job's).</summary>
    public static int[]? Open(HpkeContext jobContext, string requestId, byte[]? sealedTokens)
    {
        ArgumentNullException.ThrowIfNull(jobContext);
        if (sealedTokens is null || sealedTokens.Length < ChaChaAead.TagSize)
        {
            return null;
        }

        var plain = new byte[sealedTokens.Length - ChaChaAead.TagSize];
        using var aead = Aead(jobContext);
        return aead.Decrypt(stackalloc byte[ChaChaAead.NonceSize], SealedStream.RequestIdBytes(requestId), sealedTokens, plain) ? Decode(plain) : null;
    }

    public static byte[] Encode(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var buffer = new List<byte>(tokens.Count * 2);
        foreach (var token in tokens)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(token);
            var v = (uint)token;
            while (v >= 0x80)
            {
                buffer.Add((byte)(v | 0x80));
                v >>= 7;
            }

            buffer.Add((byte)v);
        }

        return [.. buffer];
    }

    public static int[]? Decode(ReadOnlySpan<byte> bytes)
    {
        var tokens = new List<int>(bytes.Length / 2);
        uint value = 0;
        var shift = 0;
        foreach (var b in bytes)
        {
            if (shift > 28)
            {
                return null;
            }

            value |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                if (value > int.MaxValue || tokens.Count >= MaxTokens)
                {
                    return null;
                }

                tokens.Add((int)value);
                value = 0;
                shift = 0;
            }
            else
            {
                shift += 7;
            }
        }

        return shift == 0 ? [.. tokens] : null;
    }

    private static ChaChaAead Aead(HpkeContext jobContext)
    {
        var key = jobContext.Export(ExportLabel, ChaChaAead.KeySize);
        try
        {
            return new ChaChaAead(key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }
}
