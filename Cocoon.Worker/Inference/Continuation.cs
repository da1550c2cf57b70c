using Cocoon.Engine.Protocol;
using Cocoon.Worker.Native;

namespace Cocoon.Worker.Inference;

/// <summary>
/// A resumed answer (<see cref="GenerationRequest.Continuation"/>): an earlier worker died after the caller had been
/// sent part of the answer, and this worker goes on from there instead of starting again. It pre-fills the prompt and
/// the delivered text as one prompt and generates only the rest, with the request's sampling.
/// <para>
/// The delivered text is tokenized together with the prompt (the gateway sees text, not token ids): tokenizing it
/// alone would give a SentencePiece vocabulary a leading space it never had, and the joined text tokenizes as the
/// model would read it anyway. When the prompt's own tokens come out unchanged at the front (the usual case) the rest
/// are the continuation's; a merge across the boundary only moves where that split falls. The tokens may differ from
/// the ones the first worker sampled (the same text can be spelled in several token sequences): the text is exact, and
/// the model goes on from its usual reading of it.
/// </para>
/// <para>
/// Sampling of the rest: the same temperature, top-k/p, min-p and penalties (the delivered tokens are fed to the
/// sampler's history, so the repetition penalty sees them as it did on the first worker); the seed seeds the draw of
/// the first new token, as it seeds the first token of a fresh answer. A resumed seeded answer is therefore a
/// reproducible function of (request, delivered text), but not the tail the first worker would have written: the
/// draws it had already spent are not replayed (and its logits depended on its batch, see docs/BENCHMARKS.md).
/// max_tokens keeps bounding the whole answer: the rest may take max_tokens minus the continuation's tokens, and none
/// when the continuation already took them all.
/// </para>
/// </summary>
internal static class Continuation
{
    /// <summary>
    /// The sequence for a resumed request whose prompt alone tokenizes to <paramref name="promptTokens"/>, or null
    /// when the delivered text already spent max_tokens (the first worker died after its last token but before its
    /// end): then nothing is left to generate, and the answer ends at its length with <paramref name="resumedPromptTokens"/>
    /// pre-filled tokens and no new one (decoding "at least one" more would run the answer past max_tokens).
    /// </summary>
    public static Sequence? Resume(LlamaModel model, string promptText, int[] promptTokens, GenerationRequest request, int contextLength, out int resumedPromptTokens)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(request);
        var delivered = request.Continuation ?? throw new ArgumentException("Not a resumed request.", nameof(request));
        var joined = model.Tokenize(promptText + delivered);
        var common = CommonPrefix(promptTokens, joined);
        var continued = Math.Max(0, joined.Length - promptTokens.Length);
        resumedPromptTokens = joined.Length;
        if (continued >= request.Sampling.MaxTokens)
        {
            return null;
        }

        var rest = request.Sampling.MaxTokens - continued;
        if ((long)joined.Length + rest > contextLength)
        {
            // The prompt and the whole answer were promised to fit (Prepare checked that); a retokenized continuation
            // a few tokens longer than the original may not leave the rest's full room.
            rest = Math.Max(1, contextLength - joined.Length);
            if (joined.Length + rest > contextLength)
            {
                throw new ContextExceededException(promptTokens.Length, request.Sampling.MaxTokens, contextLength);
            }
        }

        return new Sequence(joined, request.Sampling with { MaxTokens = rest }, request.CacheScope)
        {
            History = joined[common..],
        };
    }

    private static int CommonPrefix(int[] a, int[] b)
    {
        var n = Math.Min(a.Length, b.Length);
        var i = 0;
        while (i < n && a[i] == b[i])
        {
            i++;
        }

        return i;
    }
}
