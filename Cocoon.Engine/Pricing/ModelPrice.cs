namespace Cocoon.Engine.Pricing;

/// <summary>
/// A model's list prices in nanotons per 1,000,000 tokens at coefficient 1.0x, per token type. Per-million keeps
/// fractional per-token prices exact in integers: 20,000,000 per million is 20 nanotons a token, 500 per million
/// is 0.0005. (The reference network states one price per token plus a multiplier per token type in 1/10000ths;
/// price_per_token × multiplier / 10000 × 1,000,000 is the number here.)
/// </summary>
public sealed record ModelPrice
{
    public long PromptPerMillion { get; init; }

    /// <summary>Prompt tokens the worker served from its KV cache.</summary>
    public long CachedPromptPerMillion { get; init; }

    public long CompletionPerMillion { get; init; }

    /// <summary>The default for any model not in the table: 0.02 TON per 1M prompt tokens, 0.005 cached, 0.08 completion.</summary>
    public static ModelPrice Default { get; } = new()
    {
        PromptPerMillion = 20_000_000,
        CachedPromptPerMillion = 5_000_000,
        CompletionPerMillion = 80_000_000,
    };

    /// <summary>What is wrong with these prices, or null. Names the configuration keys.</summary>
    public string? Validate(string where)
    {
        if (PromptPerMillion < 0 || CachedPromptPerMillion < 0 || CompletionPerMillion < 0)
        {
            return $"{where}: prices must not be negative (PromptPerMillion={PromptPerMillion}, CachedPromptPerMillion={CachedPromptPerMillion}, CompletionPerMillion={CompletionPerMillion}).";
        }

        // Keep every product of a price, a token count (int) and a coefficient far inside Int128 and the total inside long.
        const long max = 1_000_000_000_000_000; // 10^9 TON per 1M tokens
        if (PromptPerMillion > max || CachedPromptPerMillion > max || CompletionPerMillion > max)
        {
            return $"{where}: a price above {max} nanotons per 1M tokens is a typo; prices are in nanotons per 1,000,000 tokens.";
        }

        return null;
    }
}

/// <summary>
/// Token counts of one answer, as in the OpenAI usage object: Prompt includes CachedPrompt.
/// </summary>
public readonly record struct TokenUsage(int Prompt, int CachedPrompt, int Completion)
{
    public static TokenUsage Of(int prompt, int completion) => new(prompt, 0, completion);
}

/// <summary>
/// What one answer costs and where the money goes. ProviderShare + NetworkFee + Rounding == Total, always.
/// </summary>
public readonly record struct Charge(long Total, long ProviderShare, long NetworkFee, long Rounding);
