using System.Text;
using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.Attestation;

/// <summary>
/// What a receipt's token counts are checked against: the most tokens the gateway can see delivered or sent, and the
/// counts it bills (never more than those). <see cref="Overclaimed"/> when the receipt claimed more than either bound.
/// </summary>
public sealed record ReceiptClaim(
    int ClaimedPrompt, int ClaimedCompletion, int PromptBound, int CompletionBound, int BilledPrompt, int BilledCached, int BilledCompletion)
{
    public bool Overclaimed => ClaimedPrompt > PromptBound || ClaimedCompletion > CompletionBound;

    /// <summary>The receipt with the billed counts (what the ledger charges; the signed original is what is kept).</summary>
    public UsageReceipt Billed(UsageReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        return Overclaimed
            ? receipt with { PromptTokens = BilledPrompt, CachedPromptTokens = BilledCached, CompletionTokens = BilledCompletion }
            : receipt;
    }
}

/// <summary>
/// Upper bounds on a receipt's token counts from what the gateway itself holds, so a worker cannot bill more than it
/// delivered. The gateway has no tokenizer; the bounds rest on two facts of llama.cpp's tokenizers and our decode loop:
/// <list type="bullet">
/// <item>Prompt: every token of tokenized text covers at least one UTF-8 byte of it, so the prompt's tokens are at most
///   its bytes (prompt, each message's role and content, a resumed answer's delivered text, which the worker pre-fills)
///   plus what the chat template and BOS add: at most <see cref="TemplateAllowance"/> per message and once more for the
///   whole. The same bound sizes the hold (JobBilling.PromptTokenUpperBound).</item>
/// <item>Completion: every counted completion token is a drawn token that is not end-of-generation (the end token is
///   not counted); its piece has at least one byte, which is delivered unless it is part of a stop string that cut the
///   answer, or held back at a stop (a possible stop string's prefix, a character not yet complete). So completion
///   tokens ≤ delivered bytes + the longest stop string's bytes + <see cref="CompletionSlack"/>. And when the worker
///   sealed the answer's token ids (it always does now), completion tokens ≤ their count: the ids are the drawn
///   tokens, the end token last when there is one.</item>
/// </list>
/// The slack absorbs a piece the decoder holds back (an incomplete UTF-8 character, up to 3 bytes) and a control token
/// that renders as nothing. Both bounds are loose for honest answers (a token is about 4 bytes of English), so an
/// honest receipt never exceeds them; one that does claimed tokens that were never delivered: a receipt mismatch,
/// billed at the bound. Pure.
/// </summary>
public static class ReceiptBounds
{
    /// <summary>Tokens a chat template (and BOS) may add per message, and once for the whole prompt.</summary>
    public const int TemplateAllowance = 16;

    /// <summary>Completion tokens allowed beyond the delivered bytes and the stop strings (a held-back character, a silent control token).</summary>
    public const int CompletionSlack = 4;

    /// <summary>The most tokens the worker can have tokenized for this request as sealed (with its continuation, if any).</summary>
    public static int PromptTokens(GenerationRequest generation)
    {
        ArgumentNullException.ThrowIfNull(generation);
        long bytes = generation.Prompt is { } p ? Encoding.UTF8.GetByteCount(p) : 0;
        foreach (var m in generation.Messages ?? [])
        {
            bytes += Encoding.UTF8.GetByteCount(m.Content) + Encoding.UTF8.GetByteCount(m.Role) + TemplateAllowance;
        }

        if (generation.Continuation is { } c)
        {
            bytes += Encoding.UTF8.GetByteCount(c);
        }

        return (int)Math.Min(int.MaxValue, bytes + TemplateAllowance);
    }

    /// <summary>
    /// The most tokens of the delivered text a resumed attempt writes again (token healing) without sending their bytes
    /// again; the worker's healing uses this limit, so the bound below holds for an honest resumed answer.
    /// </summary>
    public const int MaxHealedTokens = 8;

    /// <summary>
    /// The most completion tokens an answer can have that delivered <paramref name="deliveredBytes"/> UTF-8 bytes under
    /// these stop strings (a resumed attempt's healed tokens on top: they write no new bytes), and (when the worker
    /// sealed them) no more than <paramref name="answerTokenIds"/> token ids.
    /// </summary>
    public static int CompletionTokens(long deliveredBytes, IReadOnlyList<string>? stops, int? answerTokenIds, bool resumed = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(deliveredBytes);
        var longestStop = 0;
        foreach (var s in stops ?? [])
        {
            longestStop = Math.Max(longestStop, Encoding.UTF8.GetByteCount(s));
        }

        var fromBytes = (int)Math.Min(int.MaxValue, deliveredBytes + longestStop + CompletionSlack + (resumed ? MaxHealedTokens : 0));
        return answerTokenIds is { } ids ? Math.Min(fromBytes, Math.Max(0, ids)) : fromBytes;
    }

    /// <summary>The receipt's claims against the bounds, and the counts to bill: each the smaller of claim and bound.</summary>
    public static ReceiptClaim Check(UsageReceipt receipt, int promptBound, int completionBound)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        var prompt = Math.Min(receipt.PromptTokens, Math.Max(0, promptBound));
        var completion = Math.Min(receipt.CompletionTokens, Math.Max(0, completionBound));
        return new ReceiptClaim(receipt.PromptTokens, receipt.CompletionTokens, promptBound, completionBound, prompt, Math.Min(receipt.CachedPromptTokens, prompt), completion);
    }
}
