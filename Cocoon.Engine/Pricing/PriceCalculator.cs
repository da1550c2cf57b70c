namespace Cocoon.Engine.Pricing;

/// <summary>
/// Per-token billing in nanotons, as the reference network (TON Cocoon) does it: list price per token type, times
/// the worker's price coefficient (1000 = 1.0x), never above the request's maximum coefficient.
///
/// Rounding, exactly: the exact cost is a fraction of a nanoton,
/// E = Σ tokens × price-per-million × coefficient / (1,000,000 × 1000).
/// The payer is charged Total = ⌈E⌉ (never less than the exact cost, at most one nanoton more).
/// The network fee is ⌊E × bps / 10000⌋ and the provider's share ⌊E × (10000 − bps) / 10000⌋; what is left of
/// Total (0, 1 or 2 nanotons) is Rounding and goes to the network's rounding account, so the parts always sum to
/// Total and no nanoton is lost or invented. All arithmetic is in Int128, so nothing overflows before the result.
/// </summary>
public static class PriceCalculator
{
    /// <summary>Coefficient 1.0x.</summary>
    public const int UnitCoefficient = 1000;

    public const int BasisPoints = 10_000;

    private const long Denominator = 1_000_000L * UnitCoefficient;

    /// <summary>
    /// The coefficient a job is billed at: the worker's, capped by the request's maximum
    /// (a maximum of 0 or less means "no cap").
    /// </summary>
    public static int EffectiveCoefficient(int workerCoefficient, int maxCoefficient)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(workerCoefficient);
        return maxCoefficient > 0 ? Math.Min(workerCoefficient, maxCoefficient) : workerCoefficient;
    }

    /// <summary>
    /// The worst case of a job: every prompt token at the dearer of the prompt and cached prices, plus maxTokens of
    /// completion, all at the ceiling coefficient. Never less than <see cref="Charge"/> of any usage within those
    /// limits billed at a coefficient up to the ceiling.
    /// </summary>
    public static long Reserve(ModelPrice price, int promptTokens, int maxTokens, int maxCoefficient)
    {
        ArgumentNullException.ThrowIfNull(price);
        ArgumentOutOfRangeException.ThrowIfNegative(promptTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTokens);
        if (maxCoefficient <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxCoefficient), maxCoefficient,
                "A reservation needs the price ceiling: the request's maximum coefficient, or the dearest worker's (1000 = 1.0x).");
        }

        Int128 perMillion = ((Int128)promptTokens * Math.Max(price.PromptPerMillion, price.CachedPromptPerMillion))
                            + ((Int128)maxTokens * price.CompletionPerMillion);
        return ToLong(CeilDiv(perMillion * maxCoefficient, Denominator));
    }

    /// <summary>The bill of one answer and its split between the provider, the network fee and rounding.</summary>
    public static Charge Charge(ModelPrice price, TokenUsage usage, int workerCoefficient, int maxCoefficient, int networkFeeBasisPoints)
    {
        ArgumentNullException.ThrowIfNull(price);
        ArgumentOutOfRangeException.ThrowIfNegative(usage.Prompt);
        ArgumentOutOfRangeException.ThrowIfNegative(usage.CachedPrompt);
        ArgumentOutOfRangeException.ThrowIfNegative(usage.Completion);
        if (usage.CachedPrompt > usage.Prompt)
        {
            throw new ArgumentException($"Cached prompt tokens ({usage.CachedPrompt}) cannot exceed prompt tokens ({usage.Prompt}).", nameof(usage));
        }

        if (networkFeeBasisPoints is < 0 or > BasisPoints)
        {
            throw new ArgumentOutOfRangeException(nameof(networkFeeBasisPoints), networkFeeBasisPoints, "The network fee is between 0 and 10000 basis points.");
        }

        var coefficient = EffectiveCoefficient(workerCoefficient, maxCoefficient);
        Int128 perMillion = ((Int128)(usage.Prompt - usage.CachedPrompt) * price.PromptPerMillion)
                            + ((Int128)usage.CachedPrompt * price.CachedPromptPerMillion)
                            + ((Int128)usage.Completion * price.CompletionPerMillion);
        var exact = perMillion * coefficient; // E × Denominator
        var total = ToLong(CeilDiv(exact, Denominator));
        var fee = ToLong(exact * networkFeeBasisPoints / (Denominator * BasisPoints));
        var provider = ToLong(exact * (BasisPoints - networkFeeBasisPoints) / (Denominator * BasisPoints));
        return new Charge(total, provider, fee, total - provider - fee);
    }

    private static Int128 CeilDiv(Int128 value, Int128 divisor) => (value + divisor - 1) / divisor;

    private static long ToLong(Int128 value) => value <= long.MaxValue
        ? (long)value
        : throw new OverflowException($"A price of {value} nanotons does not fit in a long; check the price table.");
}
