using System.Text;
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
/// are the continuation's; a merge across the boundary only moves where that split falls.
/// </para>
/// <para>
/// The delivered text may end inside a token the first worker drew: the worker holds back text that could start a
/// stop string (a token " with" is sent as " wit" while "h" could begin the stop "h#"), and a byte-level vocabulary's
/// token may end inside a character whose first bytes are held back until its last. The joined text then ends in
/// tokens the cut made (" w" + "it"), and the model would go on from a reading it never wrote (" witch"). So the
/// delivered text's last tokens are healed (<see cref="TokenHealing"/>): they are not pre-filled, and the first tokens
/// drawn must write their bytes again (" with" does), which are not sent twice. Measured on stories260K with greedy
/// answers cut right before a token's last character: 49 of 123 cuts went on differently without healing, 0 with it;
/// cuts at token boundaries went on exactly either way (0 of 192). Greedy, a healed answer goes on token for token as
/// the uninterrupted one whenever the delivered text tokenizes as the first worker's tokens before the healed ones (a
/// tokenizer may spell a text in other tokens than the model drew; then the text is still exact, the rest may differ).
/// </para>
/// <para>
/// Sampling of the rest: the same temperature, top-k/p, min-p and penalties (the delivered tokens are fed to the
/// sampler's history, so the repetition penalty sees them as it did on the first worker); the seed seeds the draw of
/// the first new token, as it seeds the first token of a fresh answer. A resumed seeded answer is therefore a
/// reproducible function of (request, delivered text), but not the tail the first worker would have written: the
/// draws it had already spent are not replayed (and its logits depended on its batch, see docs/BENCHMARKS.md).
/// max_tokens keeps bounding the whole answer: the pre-filled and the new tokens together take at most max_tokens
/// beyond the prompt, and none are drawn when the delivered text already took them all.
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

        // The healed tokens are drawn again, so they count among the rest's max_tokens, not the pre-filled ones.
        var (healed, healing) = TokenHealing.Plan(model, joined, Math.Max(common, joined.Length - continued), Encoding.UTF8.GetBytes(delivered));
        var prefill = joined[..^healed];
        var rest = request.Sampling.MaxTokens - continued + healed;
        if ((long)prefill.Length + rest > contextLength)
        {
            // The prompt and the whole answer were promised to fit (Prepare checked that); a retokenized continuation
            // a few tokens longer than the original may not leave the rest's full room.
            rest = Math.Max(healed + 1, contextLength - prefill.Length);
            if (prefill.Length + rest > contextLength)
            {
                throw new ContextExceededException(promptTokens.Length, request.Sampling.MaxTokens, contextLength);
            }
        }

        resumedPromptTokens = prefill.Length;
        return new Sequence(prefill, request.Sampling with { MaxTokens = rest }, request.CacheScope)
        {
            History = prefill[Math.Min(common, prefill.Length)..],
            Healing = healing,
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
