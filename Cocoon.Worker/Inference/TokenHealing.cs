using Cocoon.Worker.Native;

namespace Cocoon.Worker.Inference;

/// <summary>
/// The end of a resumed answer's delivered text, given back to the model to write again (token healing; see
/// <see cref="Continuation"/>). The last tokens of the retokenized delivered text are not pre-filled: while their bytes
/// are not all written again, only tokens that agree with them may be drawn (a token whose bytes start them, or that
/// starts with all that is left of them), and what they write of them is not sent again. So a delivered text that ends
/// inside a token of the first worker (text held back as a stop string's possible start, the first bytes of a character
/// held back until its last) is continued by that token, as the first worker wrote it, not by the pieces the cut made.
/// </summary>
internal sealed class TokenHealing
{
    /// <summary>At most this many trailing tokens are written again (the gateway's receipt bound allows for them).</summary>
    private const int MaxTokens = Cocoon.Engine.Attestation.ReceiptBounds.MaxHealedTokens;

    private readonly byte[] _bytes;
    private int _written;

    private TokenHealing(byte[] bytes) => _bytes = bytes;

    /// <summary>Tokens that write the healed bytes again are still being drawn.</summary>
    public bool Active => _written < _bytes.Length;

    /// <summary>
    /// How many tokens at the end of <paramref name="tokens"/> to write again, and their bytes: the shortest tail that
    /// starts on a character boundary (a byte-fallback token may hold a character's last byte), grown token by token
    /// while its bytes still start some token of the vocabulary (" w" + "it" is the start of " with": the cut token may
    /// have been that one). None when that would reach below <paramref name="first"/> (the prompt) or leave nothing to
    /// pre-fill, or when the tokens' bytes are not the last bytes of <paramref name="delivered"/> (a tokenizer that
    /// rewrites text).
    /// </summary>
    public static (int Tokens, TokenHealing? Healing) Plan(LlamaModel model, int[] tokens, int first, ReadOnlySpan<byte> delivered)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokens);
        var pieces = model.Pieces;
        var tail = new List<byte>();
        var best = 0;
        byte[]? bestBytes = null;
        for (var k = 1; k <= MaxTokens && tokens.Length - k >= Math.Max(1, first); k++)
        {
            tail.InsertRange(0, pieces[tokens[^k]]);
            if (tail.Count == 0)
            {
                continue;
            }

            if (tail.Count > delivered.Length || !delivered[^tail.Count..].SequenceEqual(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tail)))
            {
                break;
            }

            if ((tail[0] & 0xC0) == 0x80)
            {
                continue; // starts inside a character: not a place to stop
            }

            if (best > 0 && !StartsSomeToken(pieces, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tail)))
            {
                break;
            }

            best = k;
            bestBytes = [.. tail];
        }

        return best == 0 ? (0, null) : (best, new TokenHealing(bestBytes!));
    }

    /// <summary>
    /// Leaves the draw only tokens that agree with the healed bytes not yet written: every other token's logit (an
    /// end-of-generation token's too: the answer does not end inside text it already has) becomes -infinity.
    /// </summary>
    public unsafe void Mask(LlamaModel model, float* logits)
    {
        ArgumentNullException.ThrowIfNull(model);
        var left = _bytes.AsSpan(_written);
        var pieces = model.Pieces;
        for (var token = 0; token < pieces.Length; token++)
        {
            var bytes = pieces[token];
            if (bytes.Length == 0 || !(left.StartsWith(bytes) || bytes.AsSpan().StartsWith(left)) || model.IsEndOfGeneration(token))
            {
                logits[token] = float.NegativeInfinity;
            }
        }
    }

    /// <summary>Takes a drawn token's bytes; returns the part past the healed bytes (new text, maybe empty).</summary>
    public ReadOnlySpan<byte> Consume(ReadOnlySpan<byte> bytes)
    {
        if (!Active)
        {
            return bytes;
        }

        var left = _bytes.Length - _written;
        if (bytes.Length <= left)
        {
            _written += bytes.Length;
            return [];
        }

        _written = _bytes.Length;
        return bytes[left..];
    }

    private static bool StartsSomeToken(byte[][] pieces, ReadOnlySpan<byte> bytes)
    {
        foreach (var piece in pieces)
        {
            if (piece.AsSpan().StartsWith(bytes))
            {
                return true;
            }
        }

        return false;
    }
}
